import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GatehouseMetrics } from './metrics';
import { PortUnavailableError, startManagementServer, type ManagementServer } from './management-server';

describe('the management listener', () => {
  let metrics: GatehouseMetrics;
  let server: ManagementServer;

  beforeEach(async () => {
    metrics = new GatehouseMetrics('auth-service');
    server = await startManagementServer(metrics, '127.0.0.1', 0);
  });

  afterEach(async () => {
    await server.close();
  });

  it('serves GET /metrics in the text format, uncached', async () => {
    metrics.observeRequest('GET', '/api/v1/auth/jwks', 200, 3);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('route="/api/v1/auth/jwks"');
  });

  it('answers HEAD /metrics without a body', async () => {
    const response = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it.each(['/', '/health/live', '/metrics/extra', '/api/v1/auth/jwks'])(
    'answers %s with 404 in the error shape',
    async (path) => {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(404);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'not_found', request_id: expect.any(String) });
      expect(response.headers.get('x-request-id')).toBe(body['request_id']);
    },
  );

  it('answers other methods on /metrics with 405 in the error shape, naming the allowed ones', async () => {
    const response = await fetch(`${server.url}/metrics`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(await response.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('refuses a port in use with one line naming MANAGEMENT_PORT', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const failure = await startManagementServer(metrics, '127.0.0.1', port).then(
        async (started) => {
          await started.close();
          throw new Error('listened on a port in use');
        },
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(PortUnavailableError);
      expect((failure as Error).message).toBe(
        `port ${port} is in use on 127.0.0.1: set MANAGEMENT_PORT to a free port (0 picks one)`,
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
