import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * A secret scanner's signing key, as GitHub's secret scanning partner program uses one: ECDSA P-256, the public
 * half published in the format of https://api.github.com/meta/public_keys/secret_scanning.
 */
export interface TestLeakedKeyReporter {
  identifier: string;
  publicKeyPem: string;
  privateKey: KeyObject;
  /** `{"public_keys":[…]}` with this key (and `others`), the value of LEAKED_KEY_REPORTER_PUBLIC_KEYS. */
  publicKeys(...others: TestLeakedKeyReporter[]): string;
  /** Base64 of the DER signature over the body's exact bytes: the GITHUB-PUBLIC-KEY-SIGNATURE header. */
  sign(body: string): string;
  /** Both headers of a signed report. */
  headers(body: string): Record<string, string>;
}

export function createLeakedKeyReporter(identifier: string): TestLeakedKeyReporter {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const reporter: TestLeakedKeyReporter = {
    identifier,
    publicKeyPem,
    privateKey,
    publicKeys: (...others) =>
      JSON.stringify({
        public_keys: [reporter, ...others].map((key, index) => ({
          key_identifier: key.identifier,
          key: key.publicKeyPem,
          is_current: index === 0,
        })),
      }),
    sign: (body) =>
      sign('sha256', Buffer.from(body, 'utf8'), { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
    headers: (body) => ({
      'content-type': 'application/json',
      'github-public-key-identifier': identifier,
      'github-public-key-signature': reporter.sign(body),
    }),
  };
  return reporter;
}
