import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, loadConfig, redactConfig } from '@gatehouse/config';
import { AuthServiceConfig } from './auth-service.config';

const PEM = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(AuthServiceConfig, env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
};

describe('AuthServiceConfig signing keys', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auth-config-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('has no next or previous key unless configured', () => {
    const config = loadConfig(AuthServiceConfig, { JWT_SIGNING_KEY: PEM });
    expect(config.signingKey()).toEqual({ pem: PEM, kid: undefined, source: 'JWT_SIGNING_KEY' });
    expect(config.nextSigningKey()).toBeUndefined();
    expect(config.previousSigningKey()).toBeUndefined();
  });

  it('reads each key inline (with \\n escapes) or from a file, with its kid override and source', () => {
    const file = join(dir, 'previous.pem');
    writeFileSync(file, PEM);
    const config = loadConfig(AuthServiceConfig, {
      JWT_SIGNING_KEY: PEM,
      JWT_NEXT_SIGNING_KEY: PEM.replace(/\n/g, '\\n'),
      JWT_NEXT_SIGNING_KEY_ID: 'key-2031',
      JWT_PREVIOUS_SIGNING_KEY_FILE: file,
      JWT_PREVIOUS_SIGNING_KEY_ID: 'key-2030',
    });
    expect(config.nextSigningKey()).toEqual({ pem: PEM, kid: 'key-2031', source: 'JWT_NEXT_SIGNING_KEY' });
    expect(config.previousSigningKey()).toEqual({
      pem: PEM,
      kid: 'key-2030',
      source: `JWT_PREVIOUS_SIGNING_KEY_FILE (${file})`,
    });
  });

  it('treats an empty variable as unset, so a key is dropped by emptying it', () => {
    const config = loadConfig(AuthServiceConfig, { JWT_SIGNING_KEY: PEM, JWT_PREVIOUS_SIGNING_KEY: '' });
    expect(config.previousSigningKey()).toBeUndefined();
  });

  it('names the variable of a key file that cannot be read', () => {
    const missing = join(dir, 'missing.pem');
    const config = loadConfig(AuthServiceConfig, { JWT_NEXT_SIGNING_KEY_FILE: missing });
    expect(() => config.nextSigningKey()).toThrow(
      `JWT_NEXT_SIGNING_KEY_FILE: cannot read ${missing} (ENOENT)`,
    );
    const signing = loadConfig(AuthServiceConfig, { JWT_SIGNING_KEY_FILE: missing });
    expect(() => signing.signingKey()).toThrow(`JWT_SIGNING_KEY_FILE: cannot read ${missing} (ENOENT)`);
  });

  it.each(['JWT_SIGNING_KEY', 'JWT_NEXT_SIGNING_KEY', 'JWT_PREVIOUS_SIGNING_KEY'])(
    'refuses %s together with its _FILE twin',
    (variable) => {
      expect(problems({ [variable]: PEM, [`${variable}_FILE`]: '/run/secrets/key' })).toEqual([
        `${variable}_FILE: set ${variable} or ${variable}_FILE, not both`,
      ]);
    },
  );

  it.each(['JWT_SIGNING_KEY_ID', 'JWT_NEXT_SIGNING_KEY_ID', 'JWT_PREVIOUS_SIGNING_KEY_ID'])(
    'refuses a %s that is not a plain token',
    (variable) => {
      expect(problems({ [variable]: 'has spaces' })).toEqual([expect.stringContaining(variable)]);
    },
  );

  it('still requires the signing key itself in production, whatever else is set', () => {
    expect(problems({ NODE_ENV: 'production', JWT_NEXT_SIGNING_KEY: PEM })).toContain(
      'JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE must be set when NODE_ENV=production',
    );
  });

  it('never logs the key PEMs', () => {
    const config = loadConfig(AuthServiceConfig, {
      JWT_SIGNING_KEY: PEM,
      JWT_NEXT_SIGNING_KEY: PEM,
      JWT_PREVIOUS_SIGNING_KEY: PEM,
    });
    const logged = redactConfig(config);
    expect(logged).toMatchObject({
      JWT_SIGNING_KEY: '[redacted]',
      JWT_NEXT_SIGNING_KEY: '[redacted]',
      JWT_PREVIOUS_SIGNING_KEY: '[redacted]',
    });
    expect(JSON.stringify(logged)).not.toContain('PRIVATE KEY');
  });
});

describe('AuthServiceConfig MANAGEMENT_PORT', () => {
  it('serves /metrics on 9001 by default, or the port given (0 picks one)', () => {
    expect(loadConfig(AuthServiceConfig, {}).MANAGEMENT_PORT).toBe(9001);
    expect(loadConfig(AuthServiceConfig, { MANAGEMENT_PORT: '0' }).MANAGEMENT_PORT).toBe(0);
    expect(() => loadConfig(AuthServiceConfig, { MANAGEMENT_PORT: '70000' })).toThrow(ConfigValidationError);
  });
});
