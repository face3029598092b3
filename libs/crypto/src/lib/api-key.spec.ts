import { createHash } from 'node:crypto';
import {
  API_KEY_LENGTH,
  API_KEY_PATTERN,
  constantTimeEqual,
  generateApiKey,
  hashApiKey,
  looksLikeApiKey,
  maskApiKey,
  parseApiKey,
} from './api-key';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Replaces the character at `index` with a different base62 character, keeping the shape intact. */
function withCharChanged(secret: string, index: number): string {
  const current = secret[index];
  const replacement = BASE62[(BASE62.indexOf(current) + 1) % BASE62.length];
  return secret.slice(0, index) + replacement + secret.slice(index + 1);
}

describe('generateApiKey', () => {
  it.each(['live', 'test'] as const)('produces a %s key in the documented format', (environment) => {
    const key = generateApiKey(environment);

    expect(API_KEY_LENGTH).toBe(58);
    expect(key.secret).toHaveLength(58);
    expect(key.secret.startsWith(`gth_${environment}_`)).toBe(true);
    expect(key.secret).toMatch(/^gth_(live|test)_[0-9A-Za-z]{49}$/);
    expect(key.prefix).toBe(`gth_${environment}_`);
    expect(key.environment).toBe(environment);
    expect(key.last4).toBe(key.secret.slice(-4));
  });

  it('keeps the format over many keys (padding of short base62 encodings included)', () => {
    for (let i = 0; i < 300; i += 1) {
      const { secret } = generateApiKey('live');
      expect(secret).toHaveLength(API_KEY_LENGTH);
      expect(secret.slice('gth_live_'.length)).toMatch(/^[0-9A-Za-z]{49}$/);
      expect(parseApiKey(secret)).not.toBeNull();
    }
  });

  it('returns the SHA-256 of the secret as the stored hash', () => {
    const key = generateApiKey('test');
    expect(key.hash.equals(createHash('sha256').update(key.secret).digest())).toBe(true);
  });

  it('never produces the same key twice', () => {
    const secrets = new Set(Array.from({ length: 50 }, () => generateApiKey('live').secret));
    expect(secrets.size).toBe(50);
  });
});

describe('parseApiKey', () => {
  it.each(['live', 'test'] as const)(
    'accepts a generated %s key and reports its prefix and environment',
    (env) => {
      const key = generateApiKey(env);
      expect(parseApiKey(key.secret)).toEqual({ prefix: `gth_${env}_`, environment: env });
    },
  );

  it('refuses a key with one body character changed (checksum)', () => {
    const { secret } = generateApiKey('live');
    const changed = withCharChanged(secret, 20);
    expect(changed).toHaveLength(secret.length);
    expect(changed).not.toBe(secret);
    expect(parseApiKey(changed)).toBeNull();
  });

  it('refuses a key with a checksum character changed', () => {
    const { secret } = generateApiKey('test');
    expect(parseApiKey(withCharChanged(secret, secret.length - 1))).toBeNull();
  });

  it('refuses every single-character change of the body', () => {
    const { secret } = generateApiKey('live');
    for (let index = 'gth_live_'.length; index < secret.length; index += 1) {
      expect(parseApiKey(withCharChanged(secret, index))).toBeNull();
    }
  });

  it('refuses a key that is too short or too long', () => {
    const { secret } = generateApiKey('live');
    expect(parseApiKey(secret.slice(0, -1))).toBeNull();
    expect(parseApiKey(`${secret}0`)).toBeNull();
    expect(parseApiKey('')).toBeNull();
  });

  it('refuses a key whose environment was swapped (the checksum covers the prefix)', () => {
    const { secret } = generateApiKey('live');
    expect(parseApiKey(secret.replace('gth_live_', 'gth_test_'))).toBeNull();
  });

  it('refuses an unknown prefix or environment of the right length', () => {
    const { secret } = generateApiKey('live');
    expect(parseApiKey(secret.replace('gth_', 'ghp_'))).toBeNull();
    expect(parseApiKey(secret.replace('_live_', '_prod_'))).toBeNull();
  });

  it('refuses non-base62 characters', () => {
    const { secret } = generateApiKey('live');
    const index = 30;
    expect(parseApiKey(secret.slice(0, index) + '-' + secret.slice(index + 1))).toBeNull();
  });
});

describe('looksLikeApiKey', () => {
  it('tells a Gatehouse key from a JWT', () => {
    expect(looksLikeApiKey(generateApiKey('live').secret)).toBe(true);
    expect(looksLikeApiKey('eyJhbGciOiJSUzI1NiJ9.e30.sig')).toBe(false);
  });
});

describe('hashApiKey', () => {
  it('is the SHA-256 digest of the UTF-8 secret', () => {
    expect(hashApiKey('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('is deterministic and distinguishes different secrets', () => {
    const { secret } = generateApiKey('live');
    expect(hashApiKey(secret).equals(hashApiKey(secret))).toBe(true);
    expect(hashApiKey(secret)).toHaveLength(32);
    expect(hashApiKey(secret).equals(hashApiKey(withCharChanged(secret, 12)))).toBe(false);
  });
});

describe('constantTimeEqual', () => {
  it('compares strings', () => {
    expect(constantTimeEqual('same-value', 'same-value')).toBe(true);
    expect(constantTimeEqual('same-value', 'same-valuf')).toBe(false);
  });

  it('returns false for different lengths instead of throwing', () => {
    expect(constantTimeEqual('short', 'longer value')).toBe(false);
    expect(constantTimeEqual(Buffer.alloc(3), Buffer.alloc(4))).toBe(false);
  });

  it('compares buffers and mixed string/buffer inputs', () => {
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual('abc', Buffer.from('abc', 'utf8'))).toBe(true);
  });
});

describe('maskApiKey', () => {
  it('shows the prefix and the last four characters only', () => {
    const key = generateApiKey('test');
    const masked = maskApiKey(key.prefix, key.last4);
    expect(masked).toBe(`gth_test_…${key.secret.slice(-4)}`);
    expect(masked).not.toContain(key.secret.slice(9, -4));
  });
});

describe('API_KEY_PATTERN (what a secret scanner registers)', () => {
  const globally = (): RegExp => new RegExp(API_KEY_PATTERN.source, 'g');

  it('is the documented expression', () => {
    expect(API_KEY_PATTERN.source).toBe('\\bgth_(?:live|test)_[0-9A-Za-z]{49}\\b');
  });

  it('matches every generated key of both environments, whole', () => {
    for (let i = 0; i < 300; i += 1) {
      const { secret } = generateApiKey(i % 2 === 0 ? 'live' : 'test');
      expect(secret.match(API_KEY_PATTERN)?.[0]).toBe(secret);
    }
  });

  it('finds keys where they leak: assignments, quotes, JSON, URLs, line ends', () => {
    const live = generateApiKey('live').secret;
    const test = generateApiKey('test').secret;
    const text = [
      `GATEHOUSE_API_KEY=${live}`,
      `curl -H "X-API-Key: ${test}" https://api.example.com`,
      JSON.stringify({ key: live }),
      `https://example.com/?api_key=${test}&x=1`,
      `'${live}'`,
    ].join('\n');
    expect(text.match(globally())).toEqual([live, test, live, test, live]);
  });

  it('rejects near-misses', () => {
    const { secret } = generateApiKey('live');
    const body = secret.slice('gth_live_'.length);
    for (const candidate of [
      `ghp_live_${body}`, // another vendor's prefix
      `gth_prod_${body}`, // unknown environment
      `GTH_LIVE_${body}`, // prefixes are lower case
      `gth_live_${body.slice(1)}`, // one character short
      `gth_live_${body}0`, // one character long: part of a longer run
      `xgth_live_${body}`, // inside a longer word
      `gth_live_${body}_suffix`, // followed by a word character
      `gth_live_${body.slice(0, 20)}-${body.slice(21)}`, // a character outside base62
      `gth-live-${body}`,
    ]) {
      expect({ candidate, match: API_KEY_PATTERN.test(candidate) }).toEqual({ candidate, match: false });
    }
  });

  it('leaves the checksum to parseApiKey: a shape match with a wrong checksum is no key', () => {
    const { secret } = generateApiKey('test');
    const tampered = withCharChanged(secret, 15);
    expect(API_KEY_PATTERN.test(tampered)).toBe(true);
    expect(parseApiKey(tampered)).toBeNull();
  });
});
