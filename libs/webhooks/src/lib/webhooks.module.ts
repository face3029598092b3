import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLOCK, systemClock } from '@gatehouse/contracts';
import { WebhookEndpointEntity } from './entities/webhook-endpoint.entity';
import { WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhookOutbox } from './webhook-outbox';
import { WEBHOOKS_OPTIONS, type WebhooksOptions } from './webhooks.options';
import { WebhooksService } from './webhooks.service';

/** Endpoints, their API and the delivery worker (admin-api). The outbox itself is provided by ApiKeysModule. */
@Module({})
export class WebhooksModule {
  static forRoot(options: WebhooksOptions): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [TypeOrmModule.forFeature([WebhookEndpointEntity])],
      providers: [
        { provide: WEBHOOKS_OPTIONS, useValue: options },
        { provide: CLOCK, useValue: systemClock },
        WebhookOutbox,
        WebhooksService,
        WebhookDeliveryWorker,
      ],
      exports: [WebhooksService, WebhookDeliveryWorker],
    };
  }
}
