import { gzipSync } from 'node:zlib';
import { GatehouseError } from '@gatehouse/contracts';
import { CHUNK_BYTES, decompressedChunks, parseContentCoding } from './decompress';

const MiB = 1024 * 1024;

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Reads to the end (or the error) without keeping anything, so that only the reader's own memory shows. */
async function failure(
  chunks: AsyncIterable<Buffer>,
  onChunk: (chunk: Buffer) => void = () => undefined,
): Promise<GatehouseError> {
  try {
    for await (const chunk of chunks) onChunk(chunk);
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    return error as GatehouseError;
  }
  throw new Error('expected the body to be refused');
}

/** `members` gzip members of 1 MiB each: a multi-member gzip of `members` MiB, about 1 KiB per member. */
function gzipBomb(members: number, fill: number, prefix = ''): Buffer {
  const member = gzipSync(Buffer.alloc(MiB, fill), { level: 9 });
  return Buffer.concat([gzipSync(prefix), ...Array.from({ length: members }, () => member)]);
}

describe('parseContentCoding', () => {
  it('accepts identity (or no header) and gzip, in any case', () => {
    expect(parseContentCoding(undefined)).toBe('identity');
    expect(parseContentCoding('')).toBe('identity');
    expect(parseContentCoding('identity')).toBe('identity');
    expect(parseContentCoding(' GZIP ')).toBe('gzip');
    expect(parseContentCoding('x-gzip')).toBe('gzip');
  });

  it.each(['deflate', 'br', 'gzip, gzip', 'gzip, br', 'compress'])(
    'refuses %s with 415 naming what is accepted',
    (header) => {
      const attempt = () => parseContentCoding(header);
      expect(attempt).toThrow(GatehouseError);
      expect(attempt).toThrow(/gzip or identity/);
      try {
        attempt();
      } catch (error) {
        expect((error as GatehouseError).code).toBe('unsupported_media_type');
        expect((error as GatehouseError).status).toBe(415);
      }
    },
  );
});

describe('decompressedChunks', () => {
  const body = Buffer.from(JSON.stringify({ findings: Array.from({ length: 20_000 }, (_, i) => ({ i })) }));

  it('gives an identity body back in chunks', async () => {
    expect(body.length).toBeGreaterThan(CHUNK_BYTES);
    expect((await collect(decompressedChunks(body, 'identity', 10 * MiB))).equals(body)).toBe(true);
  });

  it('inflates a gzip body, also of several members', async () => {
    expect((await collect(decompressedChunks(gzipSync(body), 'gzip', 10 * MiB))).equals(body)).toBe(true);
    const twoMembers = Buffer.concat([gzipSync('{"a":'), gzipSync('1}')]);
    expect((await collect(decompressedChunks(twoMembers, 'gzip', 10 * MiB))).toString()).toBe('{"a":1}');
  });

  it('refuses an identity body over the limit with 413 naming SCAN_MAX_DECOMPRESSED_BYTES', async () => {
    const error = await failure(decompressedChunks(body, 'identity', 1000));
    expect(error.status).toBe(413);
    expect(error.code).toBe('payload_too_large');
    expect(error.message).toMatch(/SCAN_MAX_DECOMPRESSED_BYTES/);
    expect(error.details).toEqual({ limit: 'SCAN_MAX_DECOMPRESSED_BYTES', max: 1000 });
  });

  // Its own timeout: inflating 256 MiB takes about a second alone, and has taken over 5 s on a loaded 2-core runner.
  it('refuses a 300 MiB gzip bomb at the 256 MiB limit without holding what it inflated', async () => {
    const bomb = gzipBomb(300, 0);
    expect(bomb.length).toBeLessThan(MiB);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    let inflated = 0;
    const error = await failure(decompressedChunks(bomb, 'gzip', 256 * MiB), (chunk) => {
      inflated += chunk.length;
      peak = Math.max(peak, process.memoryUsage().rss);
    });
    expect(error.code).toBe('payload_too_large');
    expect(inflated).toBeLessThanOrEqual(256 * MiB);
    expect(inflated).toBeGreaterThan(256 * MiB - CHUNK_BYTES);
    // Holding the inflated bytes would take 256 MiB; chunks are let go as they are read.
    expect(peak - before).toBeLessThan(96 * MiB);
  }, 60_000);

  it('stops inflating as soon as the limit is passed, whatever the ratio', async () => {
    let chunks = 0;
    const error = await failure(decompressedChunks(gzipBomb(300, 32), 'gzip', MiB), () => (chunks += 1));
    expect(error.code).toBe('payload_too_large');
    expect(chunks).toBe(MiB / CHUNK_BYTES);
  });

  it('refuses a truncated gzip body with 400 bad_request', async () => {
    const gzipped = gzipSync(body);
    const error = await failure(
      decompressedChunks(gzipped.subarray(0, gzipped.length - 20), 'gzip', 10 * MiB),
    );
    expect(error.status).toBe(400);
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe('Request body is not valid gzip data');
  });

  it('refuses a body declared gzip that is not, an empty one, and trailing garbage', async () => {
    for (const bad of [body, Buffer.alloc(0), Buffer.concat([gzipSync(body), Buffer.from('garbage')])]) {
      const error = await failure(decompressedChunks(bad, 'gzip', 10 * MiB));
      expect(error.code).toBe('bad_request');
    }
  });

  it('lets the reader stop early without an error or a leak', async () => {
    for await (const chunk of decompressedChunks(gzipBomb(50, 32), 'gzip', 256 * MiB)) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
  });
});
