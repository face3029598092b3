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
