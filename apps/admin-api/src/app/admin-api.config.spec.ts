import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, loadConfig } from '@gatehouse/config';
import { createLeakedKeyReporter } from '@gatehouse/testing';
import { AdminApiConfig } from './admin-api.config';

const reporter = createLeakedKeyReporter('github-key-1');

describe('AdminApiConfig leaked-key reporter keys', () => {
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-reporters-'));
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  const keysOf = (env: Record<string, string>) =>
    loadConfig(AdminApiConfig, env)
      .leakedKeyReporterKeys()
      .map((key) => key.identifier);

  it('has none by default, so that every report is refused', () => {
    expect(keysOf({})).toEqual([]);
    // Empty, as a ConfigMap or compose file writes an unset value, is unset too.
    expect(keysOf({ LEAKED_KEY_REPORTER_PUBLIC_KEYS: '', LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: '' })).toEqual(
      [],
    );
  });

  it("reads GitHub's document from LEAKED_KEY_REPORTER_PUBLIC_KEYS", () => {
    expect(keysOf({ LEAKED_KEY_REPORTER_PUBLIC_KEYS: reporter.publicKeys() })).toEqual(['github-key-1']);
  });

  it('reads it from the file LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE names (a mounted ConfigMap)', () => {
    const file = join(directory, 'public-keys.json');
    writeFileSync(file, reporter.publicKeys());
    expect(keysOf({ LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: file })).toEqual(['github-key-1']);
  });

  it('refuses both variables at once', () => {
    expect(() =>
      loadConfig(AdminApiConfig, {
        LEAKED_KEY_REPORTER_PUBLIC_KEYS: reporter.publicKeys(),
        LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: '/etc/keys.json',
      }),
    ).toThrow(ConfigValidationError);
  });

  it('names the variable when the document is bad or the file unreadable', () => {
    const bad = loadConfig(AdminApiConfig, { LEAKED_KEY_REPORTER_PUBLIC_KEYS: '{"public_keys":' });
    expect(() => bad.leakedKeyReporterKeys()).toThrow(/^LEAKED_KEY_REPORTER_PUBLIC_KEYS is not valid JSON/);

    const missing = join(directory, 'missing.json');
    const unreadable = loadConfig(AdminApiConfig, { LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: missing });
    expect(() => unreadable.leakedKeyReporterKeys()).toThrow(
      `LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: cannot read ${missing} (ENOENT)`,
    );

    const file = join(directory, 'wrong-format.json');
    writeFileSync(file, '{"keys":[]}');
    const wrong = loadConfig(AdminApiConfig, { LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: file });
    expect(() => wrong.leakedKeyReporterKeys()).toThrow(
      `LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE (${file}) has no "public_keys" array`,
    );
  });
});

describe('AdminApiConfig MANAGEMENT_PORT', () => {
  it('serves /metrics on 9003 by default, or the port given (0 picks one)', () => {
    expect(loadConfig(AdminApiConfig, {}).MANAGEMENT_PORT).toBe(9003);
    expect(loadConfig(AdminApiConfig, { MANAGEMENT_PORT: '0' }).MANAGEMENT_PORT).toBe(0);
    expect(() => loadConfig(AdminApiConfig, { MANAGEMENT_PORT: '70000' })).toThrow(ConfigValidationError);
  });
});

describe('AdminApiConfig webhooks', () => {
  const key = Buffer.alloc(32, 7).toString('base64');

  it('refuses to start in production without WEBHOOK_SECRET_ENCRYPTION_KEY, naming it', () => {
    expect(() => loadConfig(AdminApiConfig, { NODE_ENV: 'production' })).toThrow(
      /WEBHOOK_SECRET_ENCRYPTION_KEY must be the base64 of 32 random bytes/,
    );
  });

  it('refuses a key that is not 32 bytes of base64, without echoing it', () => {
    const attempt = () => loadConfig(AdminApiConfig, { WEBHOOK_SECRET_ENCRYPTION_KEY: 'short-and-secret' });
    expect(attempt).toThrow(ConfigValidationError);
    expect(attempt).not.toThrow(/short-and-secret/);
  });

  it('uses the key given and the delivery settings; outside production plain http is allowed', () => {
    const options = loadConfig(AdminApiConfig, {
      WEBHOOK_SECRET_ENCRYPTION_KEY: key,
      WEBHOOK_DELIVERY_ENABLED: 'false',
      WEBHOOK_RETRY_BASE_MS: '50',
    }).webhooks;
    expect(options.encryptionKey).toEqual(Buffer.alloc(32, 7));
    expect(options.delivery).toMatchObject({ enabled: false, retryBaseMs: 50, maxAttempts: 8 });
    expect(options.urlPolicy).toEqual({ allowPrivate: false, requireHttps: false });
    expect(() => loadConfig(AdminApiConfig, { WEBHOOK_DELIVERY_ENABLED: 'yes' })).toThrow(
      /WEBHOOK_DELIVERY_ENABLED must be true or false/,
    );
  });
});
