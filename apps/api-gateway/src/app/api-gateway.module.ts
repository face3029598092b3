import { Module, type DynamicModule } from '@nestjs/common';
import { createLoggerModule, HealthModule } from '@gatehouse/http';
import type { ApiGatewayConfig } from './api-gateway.config';

@Module({})
export class ApiGatewayModule {
  static register(config: ApiGatewayConfig): DynamicModule {
    return {
      module: ApiGatewayModule,
      imports: [createLoggerModule('api-gateway', config.LOG_LEVEL), HealthModule.forRoot()],
    };
  }
}
