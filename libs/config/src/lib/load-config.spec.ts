import 'reflect-metadata';
import { IsInt, IsString, Min } from 'class-validator';
import { ConfigValidationError, loadConfig, redactConfig } from './load-config';
import { Sensitive } from './sensitive.decorator';
import { DataServiceConfig, HttpServiceConfig } from './service-config';

class WebConfig extends HttpServiceConfig {
  @IsInt()
  @Min(1)
  WORKERS: number = 2;
}

class WorkerConfig extends DataServiceConfig {
  @Sensitive()
  @IsString()
  WEBHOOK_SECRET: string = 'default-webhook-secret';

  @IsString()
  REGION: string = 'eu-west-1';
}

describe('loadConfig', () => {
  it('returns the defaults for an empty environment', () => {
    const config = loadConfig(WebConfig, {});
    expect(config).toBeInstanceOf(WebConfig);
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: 0,
      MANAGEMENT_PORT: 0,
      MANAGEMENT_HOST: undefined,
      LOG_LEVEL: 'info',
      BODY_LIMIT_BYTES: 1024 * 1024,
      REQUEST_TIMEOUT_MS: 30_000,
      TRUSTED_PROXIES: '',
      WORKERS: 2,
    });
    expect(config.isProduction).toBe(false);
  });

  it('converts numeric strings to numbers', () => {
    const config = loadConfig(WebConfig, {
      PORT: '8080',
      WORKERS: '4',
      BODY_LIMIT_BYTES: '2048',
      REQUEST_TIMEOUT_MS: '2000',
    });
    expect(config.PORT).toBe(8080);
    expect(config.REQUEST_TIMEOUT_MS).toBe(2000);
    expect(config.WORKERS).toBe(4);
    expect(config.BODY_LIMIT_BYTES).toBe(2048);
  });

  it('converts the numeric variables of the data service base class', () => {
    const config = loadConfig(WorkerConfig, { DATABASE_POOL_SIZE: '25', REVOCATION_RECONCILE_MS: '1000' });
    expect(config.DATABASE_POOL_SIZE).toBe(25);
    expect(config.REVOCATION_RECONCILE_MS).toBe(1000);
  });

  it('takes string values as given', () => {
    const config = loadConfig(WorkerConfig, {
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      REGION: 'us-east-2',
      DATABASE_URL: 'postgresql://app@db:5432/gatehouse',
    });
    expect(config.NODE_ENV).toBe('production');
    expect(config.isProduction).toBe(true);
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.REGION).toBe('us-east-2');
    expect(config.DATABASE_URL).toBe('postgresql://app@db:5432/gatehouse');
  });

  it('treats an empty string as unset and falls back to the default', () => {
    const config = loadConfig(WebConfig, { PORT: '', LOG_LEVEL: '', WORKERS: '' });
    expect(config.PORT).toBe(0);
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.WORKERS).toBe(2);
  });

  it('ignores variables the class does not declare', () => {
    const config = loadConfig(WebConfig, { PATH: '/usr/bin', UNRELATED: 'x' });
    expect(config).not.toHaveProperty('PATH');
    expect(config).not.toHaveProperty('UNRELATED');
  });

  it('reads process.env when no environment is passed', () => {
    const saved = process.env['WORKERS'];
    process.env['WORKERS'] = '7';
    try {
      expect(loadConfig(WebConfig).WORKERS).toBe(7);
    } finally {
      if (saved === undefined) delete process.env['WORKERS'];
      else process.env['WORKERS'] = saved;
    }
  });

  it.each([
    ['PORT', 'not-a-number'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['MANAGEMENT_PORT', 'metrics'],
    ['MANAGEMENT_PORT', '65536'],
    ['MANAGEMENT_PORT', '-1'],
    ['MANAGEMENT_PORT', '9080.5'],
    ['WORKERS', '0'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['BODY_LIMIT_BYTES', '10'],
    ['REQUEST_TIMEOUT_MS', '0'],
    ['REQUEST_TIMEOUT_MS', '999'],
    ['REQUEST_TIMEOUT_MS', '600001'],
    ['REQUEST_TIMEOUT_MS', '30s'],
    ['TRUSTED_PROXIES', '10.0.0.0/8;rm -rf'],
  ])('throws ConfigValidationError naming %s when it is %p', (name, value) => {
    let thrown: unknown;
    try {
      loadConfig(WebConfig, { [name]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigValidationError);
    const error = thrown as ConfigValidationError;
    expect(error.message).toContain(name);
    expect(error.message.startsWith('Invalid configuration:')).toBe(true);
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.problems.every((problem) => problem.includes(name))).toBe(true);
  });

  it('serves the management listener on MANAGEMENT_HOST, or HOST when it is unset', () => {
    expect(loadConfig(WebConfig, { HOST: '0.0.0.0' }).managementHost).toBe('0.0.0.0');
    const config = loadConfig(WebConfig, {
      HOST: '0.0.0.0',
      MANAGEMENT_HOST: '127.0.0.1',
      MANAGEMENT_PORT: '9100',
    });
    expect(config.managementHost).toBe('127.0.0.1');
    expect(config.MANAGEMENT_PORT).toBe(9100);
  });

  it('names MANAGEMENT_PORT in its message', () => {
    expect(() => loadConfig(WebConfig, { MANAGEMENT_PORT: 'x' })).toThrow(
      'MANAGEMENT_PORT must be an integer from 0 to 65535',
    );
  });

  it('logs JSON unless LOG_FORMAT asks for readable lines, and names LOG_FORMAT for anything else', () => {
    expect(loadConfig(WebConfig, {}).LOG_FORMAT).toBe('json');
    expect(loadConfig(WebConfig, { NODE_ENV: 'production' }).LOG_FORMAT).toBe('json');
    expect(loadConfig(WebConfig, { LOG_FORMAT: 'pretty' }).LOG_FORMAT).toBe('pretty');
    expect(() => loadConfig(WebConfig, { LOG_FORMAT: 'yaml' })).toThrow(
      'LOG_FORMAT must be one of json, pretty',
    );
  });

  it('reports every invalid variable at once', () => {
    expect.assertions(3);
    try {
      loadConfig(WebConfig, { PORT: 'x', NODE_ENV: 'staging' });
    } catch (error) {
      const message = (error as ConfigValidationError).message;
      expect(error).toBeInstanceOf(ConfigValidationError);
      expect(message).toContain('PORT');
      expect(message).toContain('NODE_ENV');
    }
  });

  it('does not echo the value of an invalid sensitive variable', () => {
    expect.assertions(3);
    try {
      loadConfig(WorkerConfig, { DATABASE_URL: 'mysql://root:hunter2-secret@db/gatehouse' });
    } catch (error) {
      const message = (error as ConfigValidationError).message;
      expect(message).toContain('DATABASE_URL must be a postgres:// URL');
      expect(message).not.toContain('hunter2-secret');
      expect(JSON.stringify((error as ConfigValidationError).problems)).not.toContain('hunter2-secret');
    }
  });
});

describe('redactConfig', () => {
  it('hides the values of @Sensitive() variables, inherited and own', () => {
    const config = loadConfig(WorkerConfig, {
      DATABASE_URL: 'postgres://app:db-password@db/gatehouse',
      REDIS_URL: 'redis://:redis-password@cache:6379',
      WEBHOOK_SECRET: 'webhook-password',
    });
    const redacted = redactConfig(config);

    expect(redacted['DATABASE_URL']).toBe('[redacted]');
    expect(redacted['REDIS_URL']).toBe('[redacted]');
    expect(redacted['WEBHOOK_SECRET']).toBe('[redacted]');
    const serialized = JSON.stringify(redacted);
    expect(serialized).not.toContain('db-password');
    expect(serialized).not.toContain('redis-password');
    expect(serialized).not.toContain('webhook-password');
  });

  it('keeps the other values as they are', () => {
    const config = loadConfig(WorkerConfig, { PORT: '3000', REGION: 'us-east-2' });
    const redacted = redactConfig(config);
    expect(redacted).toMatchObject({
      PORT: 3000,
      REGION: 'us-east-2',
      JWT_ISSUER: 'gatehouse',
      KEY_EVENTS_BUS: 'redis',
    });
  });

  it('does not modify the configuration itself', () => {
    const config = loadConfig(WorkerConfig, {});
    redactConfig(config);
    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/gatehouse');
  });

  it('redacts nothing for a class without sensitive variables', () => {
    const config = loadConfig(WebConfig, { HOST: '0.0.0.0' });
    expect(Object.values(redactConfig(config))).not.toContain('[redacted]');
    expect(redactConfig(config)['HOST']).toBe('0.0.0.0');
  });
});
