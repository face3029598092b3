import { generateKeyPairSync, sign } from 'node:crypto';
import { GatehouseError } from '@gatehouse/contracts';
import { createLeakedKeyReporter } from '@gatehouse/testing';
import { LeakedKeyReporters, parseReporterPublicKeys } from './leaked-key-reporters';

const SOURCE = 'LEAKED_KEY_REPORTER_PUBLIC_KEYS';
const github = createLeakedKeyReporter('90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a');
const other = createLeakedKeyReporter('bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c');
const BODY =
  '[{"token":"gth_live_x","type":"gatehouse_api_key","url":"https://github.com/o/r/blob/1/a.env","source":"content"}]';

function parsingError(json: string): string {
  try {
    parseReporterPublicKeys(json, SOURCE);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the document was accepted');
}

function pemOf(type: 'rsa' | 'ec' | 'ed25519', namedCurve?: string): string {
  const options = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve } : {};
  const { publicKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

function documentWith(key: string, identifier = 'k1'): string {
  return JSON.stringify({ public_keys: [{ key_identifier: identifier, key, is_current: true }] });
}

describe('parseReporterPublicKeys', () => {
  it("reads GitHub's own document, every listed key, current or not", () => {
    const keys = parseReporterPublicKeys(github.publicKeys(other), SOURCE);
    expect(keys.map(({ identifier, current }) => ({ identifier, current }))).toEqual([
      { identifier: github.identifier, current: true },
      { identifier: other.identifier, current: false },
    ]);
    expect(keys[0].key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('accepts an empty list: no report is believed', () => {
    expect(parseReporterPublicKeys('{"public_keys":[]}', SOURCE)).toEqual([]);
  });

  it.each([
    ['not JSON', '{"public_keys": [', 'is not valid JSON'],
    ['no public_keys array', '{"keys":[]}', 'has no "public_keys" array'],
    ['an array document', '[]', 'has no "public_keys" array'],
    ['an entry that is no object', '{"public_keys":["x"]}', 'public_keys[0] is not an object'],
    [
      'no identifier',
      JSON.stringify({ public_keys: [{ key: github.publicKeyPem }] }),
      'key_identifier must be',
    ],
    ['a key that is no PEM', documentWith('not a key'), 'public_keys[0].key must be a PEM public key'],
    [
      'a broken PEM',
      documentWith('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'),
      'is not a readable PEM public key',
    ],
    [
      'is_current that is no boolean',
      JSON.stringify({
        public_keys: [{ key_identifier: 'k', key: github.publicKeyPem, is_current: 'yes' }],
      }),
      'is_current must be true or false',
    ],
    ['the same identifier twice', github.publicKeys(github), 'is listed twice'],
  ])('refuses %s, naming the variable', (_case, json, problem) => {
    const message = parsingError(json);
    expect(message).toContain(SOURCE);
    expect(message).toContain(problem);
  });

  it.each([
    ['an RSA key', () => pemOf('rsa'), 'not rsa'],
    ['a P-384 key', () => pemOf('ec', 'secp384r1'), 'not ec secp384r1'],
    ['an Ed25519 key', () => pemOf('ed25519'), 'not ed25519'],
  ])('refuses %s: only ECDSA P-256 signs reports', (_case, pem, problem) => {
    const message = parsingError(documentWith(pem()));
    expect(message).toContain(`${SOURCE}: public_keys[0].key must be an ECDSA P-256 key`);
    expect(message).toContain(problem);
  });

  it('refuses a private key rather than deriving its public half', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(parsingError(documentWith(pem))).toContain('must be a PEM public key');
  });
});

/** The example of GitHub's partner program documentation (Python validation sample): key, body and signature. */
const GITHUB_EXAMPLE = {
  identifier: '90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a',
  key: [
    '-----BEGIN PUBLIC KEY-----',
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq',
    'kCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==',
    '-----END PUBLIC KEY-----',
  ].join('\n'),
  body: '[{"token":"some_token","type":"some_type","url":"some_url"}]',
  signature:
    'MEUCIQDKZokqnCjrRtw0tni+2Ltvl/uiMJ1EGumEsp1BsNr32AIgQY1YXD2nlj+XNfGK4rBfkMJ1JDOQcYXxa2sY8FNkrKc=',
};

describe('LeakedKeyReporters.verify', () => {
  it("verifies the signed example of GitHub's documentation", () => {
    const reporters = new LeakedKeyReporters(
      parseReporterPublicKeys(documentWith(GITHUB_EXAMPLE.key, GITHUB_EXAMPLE.identifier), SOURCE),
    );
    const headers = {
      'github-public-key-identifier': GITHUB_EXAMPLE.identifier,
      'github-public-key-signature': GITHUB_EXAMPLE.signature,
    };
    expect(reporters.verify(headers, GITHUB_EXAMPLE.body).identifier).toBe(GITHUB_EXAMPLE.identifier);
    expect(() => reporters.verify(headers, GITHUB_EXAMPLE.body.replace('some_url', 'other_url'))).toThrow(
      'The signature does not verify',
    );
  });

  const reporters = new LeakedKeyReporters(parseReporterPublicKeys(github.publicKeys(other), SOURCE));

  const refusal = (
    headers: Record<string, string | string[] | undefined>,
    body: string | undefined,
  ): string => {
    try {
      reporters.verify(headers, body);
    } catch (error) {
      expect(error).toBeInstanceOf(GatehouseError);
      expect(error).toMatchObject({ code: 'invalid_signature', status: 401 });
      return (error as Error).message;
    }
    throw new Error('the report was accepted');
  };

  it('accepts a body signed by a configured key, current or not', () => {
    expect(reporters.verify(github.headers(BODY), BODY).identifier).toBe(github.identifier);
    expect(reporters.verify(other.headers(BODY), BODY).identifier).toBe(other.identifier);
  });

  it('refuses a report without its headers', () => {
    const { 'github-public-key-signature': signature, 'github-public-key-identifier': identifier } =
      github.headers(BODY);
    expect(refusal({}, BODY)).toContain('must be signed');
    expect(refusal({ 'github-public-key-signature': signature }, BODY)).toContain('must be signed');
    expect(refusal({ 'github-public-key-identifier': identifier }, BODY)).toContain('must be signed');
  });

  it('refuses a header sent twice', () => {
    const headers = github.headers(BODY);
    const signature = headers['github-public-key-signature'];
    expect(refusal({ ...headers, 'github-public-key-signature': [signature, signature] }, BODY)).toContain(
      'must be signed',
    );
  });

  it('refuses an unknown key identifier', () => {
    const headers = { ...github.headers(BODY), 'github-public-key-identifier': 'unknown' };
    expect(refusal(headers, BODY)).toContain('names no configured key');
  });

  it('refuses a signature by another key under a configured identifier', () => {
    const stranger = createLeakedKeyReporter(github.identifier);
    expect(refusal(stranger.headers(BODY), BODY)).toBe('The signature does not verify');
    // ... and one of a configured key presented under the other's identifier.
    const swapped = { ...other.headers(BODY), 'github-public-key-identifier': github.identifier };
    expect(refusal(swapped, BODY)).toBe('The signature does not verify');
  });

  it('refuses a body changed in any way, even only re-serialised', () => {
    const headers = github.headers(BODY);
    expect(refusal(headers, BODY.replace('gth_live_x', 'gth_live_y'))).toBe('The signature does not verify');
    expect(refusal(headers, JSON.stringify(JSON.parse(BODY), null, 1))).toBe('The signature does not verify');
    expect(refusal(headers, `${BODY}\n`)).toBe('The signature does not verify');
    expect(refusal(headers, undefined)).toBe('The signature does not verify');
  });

  it('refuses signatures that are no base64, too long, or no DER', () => {
    const headers = github.headers(BODY);
    const valid = headers['github-public-key-signature'];
    for (const signature of [
      'not base64!',
      `${valid}A`,
      'A'.repeat(400),
      Buffer.from('garbage that is not DER').toString('base64'),
      // The same signature as r||s (IEEE P1363) instead of DER.
      sign('sha256', Buffer.from(BODY), { key: github.privateKey, dsaEncoding: 'ieee-p1363' }).toString(
        'base64',
      ),
    ]) {
      expect(refusal({ ...headers, 'github-public-key-signature': signature }, BODY)).toBe(
        'The signature does not verify',
      );
    }
  });

  it('refuses every report when no key is configured', () => {
    const none = new LeakedKeyReporters([]);
    expect(none.configured).toBe(0);
    expect(() => none.verify(github.headers(BODY), BODY)).toThrow('names no configured key');
  });
});
