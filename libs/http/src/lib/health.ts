import { Controller, Get, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { GatehouseError } from '@gatehouse/contracts';
import { GatehouseMetrics, SERVICE_NAME } from './metrics';

export type ReadinessCheck = () => Promise<void>;

/**
 * Dependencies register how to tell they are usable; readiness is the conjunction of them all, and it fails for
 * good once shutdown has begun.
 */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private stopping = false;

  /** From now on the app answers 503 on readiness, so that load balancers stop sending it new requests. */
  beginShutdown(): void {
    this.stopping = true;
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async run(timeoutMs = 2000): Promise<Record<string, string>> {
    const results = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          await Promise.race([check(), timeout]);
          return [name, 'up'] as const;
        } catch (error) {
          return [name, `down: ${(error as Error).message}`] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return Object.fromEntries(results);
  }
}

@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessRegistry) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ok'; checks: Record<string, string> }> {
    if (this.readiness.shuttingDown) {
      throw new GatehouseError('service_unavailable', 'The service is shutting down', {
        shutdown: 'in progress',
      });
    }
    const checks = await this.readiness.run();
    if (Object.values(checks).some((state) => state !== 'up')) {
      throw new GatehouseError('service_unavailable', 'A dependency is not ready', checks);
    }
    return { status: 'ok', checks };
  }
}

@Module({})
export class HealthModule {
  static forRoot(): DynamicModule {
    return {
      module: HealthModule,
      global: true,
      controllers: [HealthController],
      providers: [
        ReadinessRegistry,
        {
          // The service's name comes from its logger module; contexts without one (the CLI, tests) get a neutral one.
          provide: GatehouseMetrics,
          inject: [{ token: SERVICE_NAME, optional: true }],
          useFactory: (service?: string) => new GatehouseMetrics(service ?? 'gatehouse'),
        },
      ],
      exports: [ReadinessRegistry, GatehouseMetrics],
    };
  }
}
