import { Module, type DynamicModule } from '@nestjs/common';
import { ApiKeysService, API_KEYS_OPTIONS, type ApiKeysOptions } from './api-keys.service';
import { AuditService } from './audit.service';

@Module({})
export class ApiKeysModule {
  static forRoot(options: ApiKeysOptions): DynamicModule {
    return {
      module: ApiKeysModule,
      providers: [{ provide: API_KEYS_OPTIONS, useValue: options }, ApiKeysService, AuditService],
      exports: [ApiKeysService, AuditService],
    };
  }
}
