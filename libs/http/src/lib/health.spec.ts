import { GatehouseError } from '@gatehouse/contracts';
import { HealthController, ReadinessRegistry } from './health';

describe('HealthController', () => {
  let readiness: ReadinessRegistry;
  let controller: HealthController;

  beforeEach(() => {
    readiness = new ReadinessRegistry();
    readiness.register('postgres', async () => undefined);
    controller = new HealthController(readiness);
  });

  it('is ready when every check passes', async () => {
    await expect(controller.ready()).resolves.toEqual({ status: 'ok', checks: { postgres: 'up' } });
  });

  it('is not ready when a check fails, naming it', async () => {
    readiness.register('revocations', () => Promise.reject(new Error('not loaded')));
    const error = await controller.ready().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({
      code: 'service_unavailable',
      status: 503,
      details: { postgres: 'up', revocations: 'down: not loaded' },
    });
  });

  it('answers 503 on readiness for good once shutdown has begun, without running the checks', async () => {
    const check = jest.fn(async () => undefined);
    readiness.register('redis', check);
    expect(readiness.shuttingDown).toBe(false);

    readiness.beginShutdown();

    expect(readiness.shuttingDown).toBe(true);
    const error = await controller.ready().catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({
      code: 'service_unavailable',
      status: 503,
      details: { shutdown: 'in progress' },
    });
    expect(check).not.toHaveBeenCalled();
  });

  it('stays live while shutting down', () => {
    readiness.beginShutdown();
    expect(controller.live()).toEqual({ status: 'ok' });
  });
});
