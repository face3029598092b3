import { startService, type ServiceName } from '@gatehouse/testing';

/** A bad variable stops a service at start with a message naming it, and never echoes a secret. */
describe('start-up configuration', () => {
  const startFailure = async (name: ServiceName, env: Record<string, string>): Promise<string> => {
    try {
      const running = await startService(name, env);
      await running.stop();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`${name} started although its configuration is invalid`);
  };

  it.each([
    ['api-gateway', { UPSTREAM_TIMEOUT_MS: 'soon' }, 'UPSTREAM_TIMEOUT_MS'],
    ['api-gateway', { FINDINGS_UPLOAD_LIMIT_BYTES: '10MiB' }, 'FINDINGS_UPLOAD_LIMIT_BYTES'],
    ['findings-service', { SCAN_MAX_RESULTS_PER_RUN: 'many' }, 'SCAN_MAX_RESULTS_PER_RUN'],
    ['findings-service', { SCAN_WORKER_ENABLED: 'yes' }, 'SCAN_WORKER_ENABLED'],
    ['api-gateway', { AUTH_SERVICE_URL: 'auth-service:3001' }, 'AUTH_SERVICE_URL'],
    ['findings-service', { JWKS_URL: 'not a url' }, 'JWKS_URL'],
    ['admin-api', { KEY_MAX_LIFETIME_DAYS: '0' }, 'KEY_MAX_LIFETIME_DAYS'],
    ['auth-service', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['admin-api', { KEY_EVENTS_BUS: 'kafka' }, 'KEY_EVENTS_BUS'],
    ['api-gateway', { RATE_LIMIT_STORE: 'disk' }, 'RATE_LIMIT_STORE'],
    // Only the standalone suite hosts an embedded database: a lone service never falls back to one, nor to a server.
    [
      'findings-service',
      { DATABASE_DRIVER: 'embedded' },
      'DATABASE_DRIVER=embedded, but this process hosts no',
    ],
  ] as const)('%s refuses %j and names %s', async (name, env, variable) => {
    const message = await startFailure(name, env);
    expect(message).toContain('exited with 1 before listening');
    expect(message).toContain(variable);
  });

  it('auth-service refuses to run in production without a signing key', async () => {
    const message = await startFailure('auth-service', { NODE_ENV: 'production' });
    expect(message).toContain('JWT_SIGNING_KEY');
  });

  it('does not echo the value of a sensitive variable it rejects', async () => {
    const secret = 'mysql://admin:hunter2@db:3306/x';
    const message = await startFailure('findings-service', { DATABASE_URL: secret });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
  });
});
