import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { GatehouseError } from '@gatehouse/contracts';

/**
 * The body of an upload as it comes out of its content coding, one chunk at a time. Nothing here holds more
 * than a chunk of the decompressed body: the reader parses each chunk and lets it go, which is what makes a
 * 256 MiB report (or a gzip bomb) cost a few hundred KiB of memory.
 */

export type ContentCoding = 'identity' | 'gzip';

/** Decompressed bytes per chunk: big enough that per-chunk costs vanish, small enough to parse in ~1 ms. */
export const CHUNK_BYTES = 64 * 1024;

const ACCEPTED_CODINGS = 'Content-Encoding must be gzip or identity (or absent)';

/**
 * Parses a Content-Encoding header: undefined/'identity' → 'identity', 'gzip' (also 'x-gzip') → 'gzip'; anything
 * else (deflate, br, stacked codings such as "gzip, gzip") → 415 unsupported_media_type naming what is accepted.
 */
export function parseContentCoding(header: string | undefined): ContentCoding {
  const coding = (header ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  throw new GatehouseError('unsupported_media_type', `${ACCEPTED_CODINGS}, not "${header}"`);
}

function tooLarge(maxBytes: number): GatehouseError {
  return new GatehouseError(
    'payload_too_large',
    `The decompressed body is larger than ${maxBytes} bytes (SCAN_MAX_DECOMPRESSED_BYTES)`,
    { limit: 'SCAN_MAX_DECOMPRESSED_BYTES', max: maxBytes },
  );
}

/**
 * The body's bytes decompressed as a stream of chunks. Stops with 413 payload_too_large as soon as more than
 * maxBytes come out: gunzip produces a chunk only when the previous one was taken, so at most one chunk
 * beyond the limit is ever inflated, whatever the ratio. Bad or truncated gzip → 400 bad_request.
 */
export function decompressedChunks(
  body: Buffer,
  coding: ContentCoding,
  maxBytes: number,
): AsyncIterable<Buffer> {
  return coding === 'gzip' ? gunzipped(body, maxBytes) : sliced(body, maxBytes);
}

async function* sliced(body: Buffer, maxBytes: number): AsyncGenerator<Buffer> {
  if (body.length > maxBytes) throw tooLarge(maxBytes);
  for (let start = 0; start < body.length; start += CHUNK_BYTES) {
    // Parsing a chunk is synchronous; without a macrotask turn between chunks a large identity-coded body
    // would keep the event loop from every other request until it is parsed.
    if (start > 0) await nextMacrotask();
    yield body.subarray(start, start + CHUNK_BYTES);
  }
}

async function* gunzipped(body: Buffer, maxBytes: number): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  gunzip.end(body);
  let total = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(maxBytes);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof GatehouseError) throw error;
    // zlib's own words ("incorrect header check", "unexpected end of file") mean nothing to a client.
    throw new GatehouseError('bad_request', 'Request body is not valid gzip data');
  } finally {
    // Stops inflating when the reader gives up early (a limit, a malformed result): nothing runs on.
    gunzip.destroy();
  }
}
