import { createHash, randomBytes } from 'node:crypto';
import { createDataDir, request, type StandaloneSuite, startStandalone, tokenFor } from '@gatehouse/testing';

const UPLOADS = 20;
const FINDINGS_PER_UPLOAD = 100;

interface Expected {
  description: string;
  blob: string;
}

/**
 * The proof that the embedded database is safe under load. PGlite is a single session: two clients on one instance
 * interleave their protocol messages, and statements then fail, hang or land in the other's transaction; so every
 * app of the process shares one connection, taking turns. Here 20 uploads of about 500 KB each (100 findings with
 * about 5 KB of description and metadata apiece: 2,000 rows, ~10 MB of parameters) arrive at once, and every row
 * must be there, intact, before and after a restart.
 */
describe('standalone mode under concurrent large uploads', () => {
  const dataDir = createDataDir();
  let suite: StandaloneSuite;
  const expected = new Map<string, Expected>();

  const uploadBody = (upload: number) => ({
    findings: Array.from({ length: FINDINGS_PER_UPLOAD }, (_, index) => {
      const fingerprint = `u${upload}-f${index}`;
      const finding: Expected = {
        description: randomBytes(1800).toString('base64'),
        blob: randomBytes(1800).toString('base64'),
      };
      expected.set(fingerprint, finding);
      return {
        rule_id: `rule-${upload}`,
        title: `finding ${index} of upload ${upload}`,
        severity: 'medium',
        location: { path: `src/file-${index}.ts`, start_line: index + 1 },
        description: finding.description,
        fingerprint,
        metadata: { upload, index, blob: finding.blob },
      };
    }),
  });

  /** Every finding of the organization, through the API, page by page. */
  const readAll = async (token: string): Promise<Record<string, unknown>[]> => {
    const all: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await request<{ data: Record<string, unknown>[]; next_cursor: string | null }>(
        `${suite.gateway}/api/v1/findings?limit=100${query}`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      expect(page.status).toBe(200);
      all.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    return all;
  };

  const checkEveryRow = (rows: Record<string, unknown>[]) => {
    expect(rows).toHaveLength(UPLOADS * FINDINGS_PER_UPLOAD);
    const seen = new Set<string>();
    const damaged: string[] = [];
    for (const row of rows) {
      const fingerprint = row['fingerprint'] as string;
      const want = expected.get(fingerprint);
      const metadata = row['metadata'] as { blob?: string } | null;
      if (!want || row['description'] !== want.description || metadata?.blob !== want.blob) {
        damaged.push(fingerprint);
      }
      seen.add(fingerprint);
    }
    expect(damaged).toEqual([]);
    expect(seen.size).toBe(expected.size);
  };

  afterAll(async () => {
    await suite?.stop('SIGKILL');
    dataDir.remove();
  });

  it('stores every row of 20 concurrent 500 KB uploads, and still has them after a restart', async () => {
    suite = await startStandalone(dataDir.path);
    const owner = await suite.bootstrap('bulk');
    const ownerToken = await tokenFor(suite.gateway, owner.api_key, owner.client_id);
    const key = await request(`${suite.gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'scanner', client_id: 'scanner', permissions: ['write:findings', 'read:findings'] },
    });
    expect(key.status).toBe(201);
    const apiKey = key.body['api_key'] as string;
    const token = await tokenFor(suite.gateway, apiKey, 'scanner');

    const bodies = Array.from({ length: UPLOADS }, (_, upload) => JSON.stringify(uploadBody(upload)));
    const sizes = bodies.map((body) => Buffer.byteLength(body));
    expect(Math.min(...sizes)).toBeGreaterThan(450_000);
    expect(Math.max(...sizes)).toBeLessThan(1024 * 1024);
    // Meanwhile admin-api runs transactions on the same connection: 10 key creations, 5 of them refused midway
    // (client_id taken) and rolled back, each creation writing its key and its audit event together.
    const createKey = (clientId: string) =>
      request(`${suite.gateway}/api/v1/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownerToken}` },
        body: { name: clientId, client_id: clientId, permissions: ['read:findings'] },
      });
    const [responses, creations] = await Promise.all([
      Promise.all(
        bodies.map((rawBody) =>
          request(`${suite.gateway}/api/v1/findings`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            rawBody,
          }),
        ),
      ),
      Promise.all(Array.from({ length: 10 }, (_, index) => createKey(`reader-${index % 5}`))),
    ]);
    expect(responses.map((response) => [response.status, response.body['new']])).toEqual(
      bodies.map(() => [201, FINDINGS_PER_UPLOAD]),
    );
    expect(creations.map((creation) => creation.status).sort()).toEqual([
      ...Array(5).fill(201),
      ...Array(5).fill(409),
    ]);
    checkEveryRow(await readAll(token));
    const keys = await request<{ data: Record<string, unknown>[] }>(
      `${suite.gateway}/api/v1/api-keys?limit=100`,
      {
        headers: { authorization: `Bearer ${ownerToken}` },
      },
    );
    expect(keys.body.data.map((row) => row['client_id']).sort()).toEqual([
      'bulk-owner',
      'reader-0',
      'reader-1',
      'reader-2',
      'reader-3',
      'reader-4',
      'scanner',
    ]);
    const audit = await request<{ data: Record<string, unknown>[] }>(
      `${suite.gateway}/api/v1/audit-events?action=api_key.created&limit=100`,
      { headers: { authorization: `Bearer ${ownerToken}` } },
    );
    expect(audit.status).toBe(200);
    // One event per key that exists, none for the five creations rolled back.
    expect(
      audit.body.data.map((event) => (event['details'] as { client_id: string }).client_id).sort(),
    ).toEqual(keys.body.data.map((row) => row['client_id']).sort());
    const digest = createHash('sha256')
      .update([...expected.keys()].sort().join())
      .digest('hex');

    expect(await suite.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    suite = await startStandalone(dataDir.path);
    const rows = await readAll(await tokenFor(suite.gateway, apiKey, 'scanner'));
    checkEveryRow(rows);
    const after = createHash('sha256')
      .update(
        rows
          .map((row) => row['fingerprint'] as string)
          .sort()
          .join(),
      )
      .digest('hex');
    expect(after).toBe(digest);
  });
});
