import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import baseX from 'base-x';

/**
 * API key format, modelled on GitHub's token format so secret scanners can match it and typos are caught
 * before any lookup:
 *
 *   gth_<environment>_<body><checksum>
 *
 * - `gth_` identifies a Gatehouse key; `<environment>` is `live` or `test`.
 * - `<body>` is 32 bytes (256 bits) from the OS CSPRNG, base62, left-padded to 43 characters.
 * - `<checksum>` is CRC32 of everything before it, base62, left-padded to 6 characters.
 */
export const API_KEY_PREFIX = 'gth';
export const API_KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type ApiKeyEnvironment = (typeof API_KEY_ENVIRONMENTS)[number];

const BASE62 = baseX('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const ENTROPY_BYTES = 32;
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const API_KEY_SHAPE = new RegExp(
  `^(${API_KEY_PREFIX}_(live|test)_)([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`,
);
export const API_KEY_LENGTH = API_KEY_PREFIX.length + '_live_'.length + BODY_LENGTH + CHECKSUM_LENGTH;

/**
 * What a secret scanner registers to find our keys in text (GitHub's secret scanning partner program, gitleaks,
 * trufflehog): the prefix, then body and checksum as one base62 run, `\bgth_(?:live|test)_[0-9A-Za-z]{49}\b`.
 * The word boundaries keep it from matching inside a longer word (`xgth_live_…`, or a key followed by more
 * base62 characters) and every scanner's engine knows them. A match is a candidate only: `parseApiKey` tells a
 * real key from a look-alike by its checksum.
 */
export const API_KEY_PATTERN = new RegExp(
  `\\b${API_KEY_PREFIX}_(?:live|test)_[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}\\b`,
);

export interface GeneratedApiKey {
  /** The full secret: shown to the user once, never stored. */
  secret: string;
  /** SHA-256 of the secret, the only form that is stored. */
  hash: Buffer;
  /** `gth_live_` or `gth_test_`, kept for the masked preview. */
  prefix: string;
  /** Last four characters, kept for the masked preview. */
  last4: string;
  environment: ApiKeyEnvironment;
}

export interface ParsedApiKey {
  prefix: string;
  environment: ApiKeyEnvironment;
}

function pad(value: string, length: number): string {
  return value.padStart(length, '0');
}

function checksumOf(text: string): string {
  const crc = crc32(text);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return pad(BASE62.encode(bytes), CHECKSUM_LENGTH);
}

export function generateApiKey(environment: ApiKeyEnvironment): GeneratedApiKey {
  const prefix = `${API_KEY_PREFIX}_${environment}_`;
  const body = pad(BASE62.encode(randomBytes(ENTROPY_BYTES)), BODY_LENGTH);
  const withoutChecksum = prefix + body;
  const secret = withoutChecksum + checksumOf(withoutChecksum);
  return { secret, hash: hashApiKey(secret), prefix, last4: secret.slice(-4), environment };
}

/**
 * Checks shape and checksum without touching storage: a mistyped or truncated key is refused for the price of
 * a regex and a CRC instead of a database round trip.
 */
export function parseApiKey(candidate: string): ParsedApiKey | null {
  if (candidate.length !== API_KEY_LENGTH) return null;
  const match = API_KEY_SHAPE.exec(candidate);
  if (!match) return null;
  const [, prefix, environment, body, checksum] = match;
  const expected = checksumOf(prefix + body);
  if (!constantTimeEqual(expected, checksum)) return null;
  return { prefix, environment: environment as ApiKeyEnvironment };
}

/** True when the string has the shape of a Gatehouse key (used to tell keys from JWTs in one header). */
export function looksLikeApiKey(candidate: string): boolean {
  return candidate.startsWith(`${API_KEY_PREFIX}_`);
}

/**
 * A plain SHA-256 is the right hash here: the secret carries 256 bits of entropy, so a slow password hash
 * would only cost latency without adding resistance to guessing. One-shot `hash` (Node ≥ 20.12): about a µs
 * cheaper than a Hash object on every authenticate.
 */
export function hashApiKey(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

export function maskApiKey(prefix: string, last4: string): string {
  return `${prefix}…${last4}`;
}

export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const left = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const right = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
