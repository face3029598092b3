import 'reflect-metadata';
import { ConfigValidationError, loadConfig, redactConfig } from '@gatehouse/config';
import { ApiGatewayConfig } from './api-gateway.config';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(ApiGatewayConfig, env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
};

describe('ApiGatewayConfig CORS_ORIGINS', () => {
  it('is empty by default: no origin is allowed', () => {
    const config = loadConfig(ApiGatewayConfig, {});
    expect(config.CORS_ORIGINS).toBe('');
    expect(config.corsOrigins()).toEqual([]);
  });

  it('reads a comma-separated list of exact origins, ignoring spaces and empty entries', () => {
    const config = loadConfig(ApiGatewayConfig, {
      CORS_ORIGINS: ' https://dashboard.example.com, http://localhost:4200 ,,https://admin.example.com:8443',
    });
    expect(config.corsOrigins()).toEqual([
      'https://dashboard.example.com',
      'http://localhost:4200',
      'https://admin.example.com:8443',
    ]);
  });

  it('shows the list in the start-up log, where it is not a secret', () => {
    const config = loadConfig(ApiGatewayConfig, { CORS_ORIGINS: 'https://dashboard.example.com' });
    expect(redactConfig(config)['CORS_ORIGINS']).toBe('https://dashboard.example.com');
  });

  it.each([
    ['a path', 'https://dashboard.example.com/app'],
    ['a trailing slash', 'https://dashboard.example.com/'],
    ['no scheme', 'dashboard.example.com'],
    ['another scheme', 'ftp://dashboard.example.com'],
    ['a wildcard', '*'],
    ['a wildcard subdomain', 'https://*.example.com'],
    ['upper case, which a browser never sends', 'https://Dashboard.example.com'],
    ['a default port, which a browser never sends', 'https://dashboard.example.com:443'],
    ['a query', 'https://dashboard.example.com?x=1'],
    ['credentials', 'https://user@dashboard.example.com'],
  ])('refuses an entry with %s, naming the variable and the entry', (_case, entry) => {
    const found = problems({ CORS_ORIGINS: `https://ok.example.com,${entry}` });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^CORS_ORIGINS must be a comma-separated list of exact origins/);
    expect(found[0]).toContain(`not an origin: ${entry}`);
    expect(found[0]).not.toContain('https://ok.example.com,');
  });
});

describe('GATEWAY_SECRET', () => {
  const SECRET = 'x'.repeat(32);

  it('is optional in development, and never logged', () => {
    expect(loadConfig(ApiGatewayConfig, {}).GATEWAY_SECRET).toBeUndefined();
    const config = loadConfig(ApiGatewayConfig, { GATEWAY_SECRET: SECRET });
    expect(config.GATEWAY_SECRET).toBe(SECRET);
    expect(redactConfig(config)['GATEWAY_SECRET']).toBe('[redacted]');
  });

  it('is required with NODE_ENV=production, naming the variable once', () => {
    const found = problems({ NODE_ENV: 'production' });
    expect(found).toEqual([
      expect.stringMatching(/^GATEWAY_SECRET must be 32–512 printable ASCII characters/),
    ]);
    expect(problems({ NODE_ENV: 'production', GATEWAY_SECRET: SECRET })).toEqual([]);
  });

  it.each([
    ['too short', 'x'.repeat(31)],
    ['with a space', `${'x'.repeat(20)} ${'x'.repeat(20)}`],
    ['not ASCII', `${'x'.repeat(31)}é`],
  ])('refuses a value %s, without echoing it', (_case, value) => {
    const found = problems({ GATEWAY_SECRET: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^GATEWAY_SECRET must be/);
    expect(found[0]).not.toContain(value);
  });
});

describe('FINDINGS_UPLOAD_LIMIT_BYTES', () => {
  it('is 10 MiB by default, for POST /api/v1/findings only; every other route keeps BODY_LIMIT_BYTES', () => {
    const config = loadConfig(ApiGatewayConfig, {});
    expect(config.FINDINGS_UPLOAD_LIMIT_BYTES).toBe(10_485_760);
    expect(config.BODY_LIMIT_BYTES).toBe(1_048_576);
    expect(config.routeBodyLimits()).toEqual([
      { method: 'POST', path: '/api/v1/findings', limitBytes: 10_485_760 },
    ]);
  });

  it('takes another number of bytes', () => {
    const config = loadConfig(ApiGatewayConfig, { FINDINGS_UPLOAD_LIMIT_BYTES: '20971520' });
    expect(config.routeBodyLimits()).toEqual([
      { method: 'POST', path: '/api/v1/findings', limitBytes: 20_971_520 },
    ]);
  });

  it.each([
    ['a unit', '10MiB'],
    ['a fraction', '1048576.5'],
    ['a negative number', '-1'],
    ['less than 1 KiB', '1023'],
    ['more than 64 MiB', '67108865'],
  ])('refuses %s, naming the variable and the range, once', (_case, value) => {
    expect(problems({ FINDINGS_UPLOAD_LIMIT_BYTES: value })).toEqual([
      'FINDINGS_UPLOAD_LIMIT_BYTES must be a whole number of bytes from 1024 to 67108864 (64 MiB), ' +
        'e.g. 10485760 for 10 MiB',
    ]);
  });
});

describe('ApiGatewayConfig MANAGEMENT_PORT', () => {
  it('serves /metrics on 9080 by default, or the port given (0 picks one)', () => {
    expect(loadConfig(ApiGatewayConfig, {}).MANAGEMENT_PORT).toBe(9080);
    expect(loadConfig(ApiGatewayConfig, { MANAGEMENT_PORT: '0' }).MANAGEMENT_PORT).toBe(0);
    expect(() => loadConfig(ApiGatewayConfig, { MANAGEMENT_PORT: '70000' })).toThrow(ConfigValidationError);
  });
});

describe('ApiGatewayConfig DASHBOARD_*', () => {
  it('serves the build next to the bundle, with sign-in off, by default', () => {
    const options = loadConfig(ApiGatewayConfig, {}).dashboardOptions();
    expect(options.dir).toMatch(/[\\/]dashboard$/);
    expect(options.oidc).toBeUndefined();
  });

  it('passes the issuer, client id and scope to the dashboard', () => {
    const config = loadConfig(ApiGatewayConfig, {
      DASHBOARD_DIR: '/srv/dashboard',
      DASHBOARD_OIDC_ISSUER: 'https://login.example.com/realms/acme',
      DASHBOARD_OIDC_CLIENT_ID: 'gatehouse-dashboard',
    });
    expect(config.dashboardOptions()).toEqual({
      dir: '/srv/dashboard',
      oidc: {
        issuer: 'https://login.example.com/realms/acme',
        clientId: 'gatehouse-dashboard',
        scope: 'openid profile email',
      },
    });
  });

  it('refuses an issuer without its client id, naming the missing variable', () => {
    expect(problems({ DASHBOARD_OIDC_ISSUER: 'https://login.example.com' })).toEqual([
      expect.stringContaining('DASHBOARD_OIDC_CLIENT_ID is required when DASHBOARD_OIDC_ISSUER is set'),
    ]);
  });

  it.each([
    ['DASHBOARD_OIDC_ISSUER', 'login.example.com'],
    ['DASHBOARD_OIDC_ISSUER', 'https://login.example.com/?tenant=1'],
    ['DASHBOARD_OIDC_SCOPE', 'profile openid'],
  ])('refuses %s=%s', (name, value) => {
    const env = {
      DASHBOARD_OIDC_CLIENT_ID: 'dashboard',
      DASHBOARD_OIDC_ISSUER: 'https://idp.test',
      [name]: value,
    };
    expect(problems(env)).toEqual([expect.stringMatching(new RegExp(`^${name} must`))]);
  });
});
