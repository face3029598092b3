import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { GatehouseError } from '@gatehouse/contracts';

/** The headers of GitHub's secret scanning partner program (lower case, as Node presents them). */
export const REPORTER_KEY_ID_HEADER = 'github-public-key-identifier';
export const REPORTER_SIGNATURE_HEADER = 'github-public-key-signature';

/** Where GitHub publishes the keys, in the format `parseReporterPublicKeys` reads. */
export const GITHUB_SECRET_SCANNING_KEYS_URL = 'https://api.github.com/meta/public_keys/secret_scanning';

export const LEAKED_KEY_REPORTER_KEYS = Symbol('LEAKED_KEY_REPORTER_KEYS');

/** A reporter's public key: ECDSA P-256, verifying SHA-256 signatures. */
export interface ReporterPublicKey {
  identifier: string;
  key: KeyObject;
  /** GitHub's `is_current`: informational, since a key it still lists may still sign. */
  current: boolean;
}

const IDENTIFIER_MAX_LENGTH = 200;
/** A DER ECDSA P-256 signature is at most 72 bytes, 96 in base64; anything much longer is not one. */
const SIGNATURE_MAX_LENGTH = 200;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the reporters' public keys from configuration, in GitHub's own format (what
 * https://api.github.com/meta/public_keys/secret_scanning serves), so that an operator refreshes them by storing
 * that document as it is. Throws an error naming `source` (the variable) for anything else: not JSON, no
 * `public_keys` array, an entry without identifier, a key that is not an ECDSA P-256 public key, or the same
 * identifier twice. `{"public_keys":[]}` is valid and accepts no report.
 */
export function parseReporterPublicKeys(json: string, source: string): ReporterPublicKey[] {
  const format =
    `must be a JSON document {"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…",` +
    `"is_current":true}]}, as ${GITHUB_SECRET_SCANNING_KEYS_URL} serves it`;
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    throw new Error(`${source} is not valid JSON: it ${format}`);
  }
  const entries = isRecord(document) ? document['public_keys'] : undefined;
  if (!Array.isArray(entries)) throw new Error(`${source} has no "public_keys" array: it ${format}`);
  const keys: ReporterPublicKey[] = [];
  entries.forEach((entry: unknown, index) => {
    const where = `${source}: public_keys[${index}]`;
    if (!isRecord(entry)) throw new Error(`${where} is not an object`);
    const identifier = entry['key_identifier'];
    const pem = entry['key'];
    const current = entry['is_current'];
    if (
      typeof identifier !== 'string' ||
      identifier.length === 0 ||
      identifier.length > IDENTIFIER_MAX_LENGTH
    ) {
      throw new Error(`${where}.key_identifier must be a string of 1 to ${IDENTIFIER_MAX_LENGTH} characters`);
    }
    if (keys.some((known) => known.identifier === identifier)) {
      throw new Error(`${where}.key_identifier ${identifier} is listed twice`);
    }
    if (current !== undefined && typeof current !== 'boolean') {
      throw new Error(`${where}.is_current must be true or false`);
    }
    // A private key would be accepted by createPublicKey (it derives the public half): refuse the mistake of
    // putting one in a ConfigMap instead.
    if (typeof pem !== 'string' || !pem.includes('PUBLIC KEY-----')) {
      throw new Error(`${where}.key must be a PEM public key (-----BEGIN PUBLIC KEY-----)`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(pem.replace(/\\n/g, '\n'));
    } catch {
      throw new Error(`${where}.key is not a readable PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`${where}.key must be an ECDSA P-256 key, not ${describeKey(key)}`);
    }
    keys.push({ identifier, key, current: current ?? true });
  });
  return keys;
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType} ${curve}` : (key.asymmetricKeyType ?? 'an unknown kind of key');
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks that a leaked-key report comes from a configured reporter: the signature in GITHUB-PUBLIC-KEY-SIGNATURE
 * (base64 of an ASN.1 DER ECDSA signature) must verify, with the key GITHUB-PUBLIC-KEY-IDENTIFIER names, over the
 * exact bytes of the body. Nothing else about the request is looked at first, so a caller without a valid
 * signature learns nothing about the tokens it sent.
 */
@Injectable()
export class LeakedKeyReporters {
  private readonly byIdentifier: ReadonlyMap<string, ReporterPublicKey>;

  constructor(@Inject(LEAKED_KEY_REPORTER_KEYS) keys: readonly ReporterPublicKey[]) {
    this.byIdentifier = new Map(keys.map((key) => [key.identifier, key]));
  }

  get configured(): number {
    return this.byIdentifier.size;
  }

  /** Throws 401 `invalid_signature` unless the body carries a valid signature of a configured reporter. */
  verify(
    headers: Record<string, string | string[] | undefined>,
    rawBody: string | undefined,
  ): ReporterPublicKey {
    const identifier = single(headers[REPORTER_KEY_ID_HEADER]);
    const signature = single(headers[REPORTER_SIGNATURE_HEADER]);
    if (!identifier || !signature) {
      throw new GatehouseError(
        'invalid_signature',
        'A report must be signed: one GITHUB-PUBLIC-KEY-IDENTIFIER and one GITHUB-PUBLIC-KEY-SIGNATURE header',
      );
    }
    const reporter = this.byIdentifier.get(identifier);
    if (!reporter) {
      throw new GatehouseError('invalid_signature', 'GITHUB-PUBLIC-KEY-IDENTIFIER names no configured key');
    }
    if (signature.length > SIGNATURE_MAX_LENGTH || !BASE64.test(signature) || rawBody === undefined) {
      throw new GatehouseError('invalid_signature', 'The signature does not verify');
    }
    if (!verifySignature(reporter.key, Buffer.from(signature, 'base64'), Buffer.from(rawBody, 'utf8'))) {
      throw new GatehouseError('invalid_signature', 'The signature does not verify');
    }
    return reporter;
  }
}

function verifySignature(key: KeyObject, signature: Buffer, body: Buffer): boolean {
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
  } catch {
    // OpenSSL throws on some malformed DER instead of answering false; either way it is no valid signature.
    return false;
  }
}
