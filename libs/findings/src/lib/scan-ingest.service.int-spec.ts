import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { CLOCK, GatehouseError, type KeyPrincipal, type UserPrincipal } from '@gatehouse/contracts';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { createTestDatabase, ManualClock, type TestDatabase } from '@gatehouse/testing';
import { FindingsModule } from './findings.module';
import type { FindingsOptions } from './findings.options';
import { ScanIngestService, type ReceivedUpload } from './scan-ingest.service';
import { ScanWorker } from './scan-worker.service';

const START = new Date('2030-01-01T12:00:00.000Z');
const clock = new ManualClock(START);

const OPTIONS: FindingsOptions = {
  maxUploadBytes: 10 * 1024 * 1024,
  syncMaxBytes: 512 * 1024,
  preparedStatements: true,
  limits: { decompressedBytes: 8 * 1024 * 1024, runs: 5, resultsPerRun: 4000 },
  // The tests drive the worker themselves (drain), so that nothing runs behind their back.
  worker: { enabled: false, pollIntervalMs: 1000, maxAttempts: 2 },
};

interface SarifResultSpec {
  rule: string;
  path: string;
  line: number;
  fingerprint?: string;
  level?: 'error' | 'warning' | 'note';
}

function sarif(
  tool: string,
  results: SarifResultSpec[],
  provenance?: { repo: string; branch: string },
): object {
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: {
          driver: {
            name: tool,
            version: '1.2.3',
            rules: [...new Set(results.map((result) => result.rule))].map((id) => ({
              id,
              shortDescription: { text: `Rule ${id}` },
              properties: { tags: ['security', 'external/cwe/cwe-079'], 'security-severity': '7.5' },
            })),
          },
        },
        ...(provenance && {
          versionControlProvenance: [
            { repositoryUri: provenance.repo, revisionId: 'abc123', branch: provenance.branch },
          ],
        }),
        results: results.map((result) => ({
          ruleId: result.rule,
          level: result.level ?? 'error',
          message: { text: `Problem in ${result.path}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: result.path },
                region: { startLine: result.line },
              },
            },
          ],
          ...(result.fingerprint && { partialFingerprints: { primaryLocationLineHash: result.fingerprint } }),
        })),
      },
    ],
  };
}

function results(count: number, prefix = 'f'): SarifResultSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    rule: `rule-${i % 7}`,
    path: `src/${prefix}-${i}.ts`,
    line: i + 1,
    fingerprint: `${prefix}-${i}`,
  }));
}

describe('ScanIngestService (PostgreSQL)', () => {
  let database: TestDatabase;
  let app: TestingModule;
  let ingest: ScanIngestService;
  let worker: ScanWorker;
  let dataSource: DataSource;
  let alice: KeyPrincipal;
  let bob: KeyPrincipal;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 6 }),
        FindingsModule.forRoot(OPTIONS),
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    app.useLogger(false);
    await app.init();
    ingest = app.get(ScanIngestService);
    worker = app.get(ScanWorker);
    dataSource = app.get(DataSource);
    alice = await principalOfNewOrganization('alice');
    bob = await principalOfNewOrganization('bob');
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  beforeEach(() => clock.advance(60_000));

  async function principalOfNewOrganization(name: string): Promise<KeyPrincipal> {
    const [organization] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [name],
    );
    const clientId = `${name}-scanner`;
    const [key] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO api_keys (organization_id, name, client_id, permissions, environment, key_hash, key_prefix,
                             key_last4, created_by)
       VALUES ($1, 'Scanner', $2, ARRAY['read:findings', 'write:findings'], 'live', $3, 'gth_live_', 'abcd', 'test')
       RETURNING id`,
      [organization.id, clientId, randomBytes(32)],
    );
    return {
      kind: 'api_key',
      keyVersion: 1,
      organizationId: organization.id,
      apiKeyId: key.id,
      clientId,
      permissions: ['read:findings', 'write:findings'],
      subject: clientId,
      tokenId: randomUUID(),
      expiresAt: new Date(START.getTime() + 1_800_000),
    };
  }

  function upload(document: object, extra: Partial<ReceivedUpload> = {}): ReceivedUpload {
    return {
      body: Buffer.from(JSON.stringify(document)),
      contentType: 'application/sarif+json',
      contentEncoding: undefined,
      query: {},
      idempotencyKey: undefined,
      respondAsync: false,
      ...extra,
    };
  }

  async function findingsOf(
    organizationId: string,
    repository: string,
  ): Promise<Array<Record<string, unknown>>> {
    return dataSource.query(
      `SELECT identity, state, occurrences, tool, ref, rule_id, severity, cwe, title, fingerprint
         FROM findings WHERE organization_id = $1 AND repository = $2 ORDER BY identity`,
      [organizationId, repository],
    );
  }

  async function scanRow(id: string): Promise<Record<string, unknown>> {
    const [row] = await dataSource.query<Array<Record<string, unknown>>>(
      `SELECT * FROM scans WHERE id = $1`,
      [id],
    );
    return row;
  }

  it('stores a SARIF scan in the request and answers its summary, with the context it declares', async () => {
    const answer = await ingest.receive(
      alice,
      upload(
        sarif('semgrep', results(3), { repo: 'https://github.com/acme/app.git', branch: 'refs/heads/main' }),
      ),
    );

    expect(answer).toMatchObject({
      status: 201,
      replayed: false,
      body: { status: 'completed', results: 3, new: 3, unchanged: 0, fixed: 0, reopened: 0 },
    });
    expect(await scanRow(answer.body.scan_id)).toMatchObject({
      organization_id: alice.organizationId,
      api_key_id: alice.apiKeyId,
      client_id: alice.clientId,
      status: 'completed',
      format: 'sarif',
      repository: 'https://github.com/acme/app',
      ref: 'refs/heads/main',
      commit_sha: 'abc123',
      tools: [{ name: 'semgrep', version: '1.2.3' }],
      results: 3,
      new_count: 3,
    });
    const stored = await findingsOf(alice.organizationId, 'https://github.com/acme/app');
    expect(stored).toHaveLength(3);
    expect(stored[0]).toMatchObject({ state: 'open', occurrences: 1, tool: 'semgrep', severity: 'high' });
    expect(stored[0]?.['cwe']).toEqual(['CWE-79']);
  });

  it('creates nothing new when the same scan comes again, and counts it as unchanged', async () => {
    const document = sarif('codeql', results(4, 'same'));
    const query = { repository: 'acme/dedup', ref: 'main' };
    const first = await ingest.receive(alice, upload(document, { query }));
    clock.advance(1000);
    const second = await ingest.receive(alice, upload(document, { query }));

    expect(first.body).toMatchObject({ new: 4, unchanged: 0 });
    expect(second.body).toMatchObject({ results: 4, new: 0, unchanged: 4, fixed: 0 });
    const stored = await findingsOf(alice.organizationId, 'acme/dedup');
    expect(stored.map((row) => row['occurrences'])).toEqual([2, 2, 2, 2]);
  });

  it('counts a result reported twice in one scan once', async () => {
    const twice = [...results(2, 'dup'), ...results(2, 'dup')];
    const answer = await ingest.receive(
      alice,
      upload(sarif('codeql', twice), { query: { repository: 'acme/twice' } }),
    );
    expect(answer.body).toMatchObject({ results: 4, new: 2, unchanged: 0 });
    expect(await findingsOf(alice.organizationId, 'acme/twice')).toHaveLength(2);
  });

  it('fixes what a later scan of the same repository, ref and tool no longer reports, and reopens it when it returns', async () => {
    const query = { repository: 'acme/track', ref: 'main' };
    const all = results(3, 'track');
    await ingest.receive(alice, upload(sarif('semgrep', all), { query }));
    clock.advance(1000);
    const fixing = await ingest.receive(alice, upload(sarif('semgrep', all.slice(0, 1)), { query }));
    expect(fixing.body).toMatchObject({ results: 1, new: 0, unchanged: 1, fixed: 2, reopened: 0 });
    expect((await findingsOf(alice.organizationId, 'acme/track')).map((row) => row['state']).sort()).toEqual([
      'fixed',
      'fixed',
      'open',
    ]);

    clock.advance(1000);
    const reopening = await ingest.receive(alice, upload(sarif('semgrep', all), { query }));
    expect(reopening.body).toMatchObject({ results: 3, new: 0, unchanged: 1, fixed: 0, reopened: 2 });
    const histories = await dataSource.query<Array<{ events: string[] }>>(
      `SELECT array_agg(h.event ORDER BY h.at) AS events
         FROM finding_history h JOIN findings f ON f.id = h.finding_id
        WHERE f.organization_id = $1 AND f.repository = 'acme/track'
        GROUP BY f.id ORDER BY f.identity`,
      [alice.organizationId],
    );
    expect(histories.map((row) => row.events).sort()).toEqual([
      ['new', 'fixed', 'reopened'],
      ['new', 'fixed', 'reopened'],
      ['new', 'seen', 'seen'],
    ]);
  });

  it('never closes findings of another ref or another tool, nor of scans without a repository', async () => {
    const query = { repository: 'acme/streams', ref: 'main' };
    await ingest.receive(alice, upload(sarif('semgrep', results(2, 'main')), { query }));
    clock.advance(1000);
    const otherRef = await ingest.receive(
      alice,
      upload(sarif('semgrep', []), { query: { repository: 'acme/streams', ref: 'feature' } }),
    );
    const otherTool = await ingest.receive(alice, upload(sarif('trivy', []), { query }));
    const noRepository = await ingest.receive(alice, upload(sarif('semgrep', [])));

    for (const answer of [otherRef, otherTool, noRepository]) expect(answer.body.fixed).toBe(0);
    expect((await findingsOf(alice.organizationId, 'acme/streams')).map((row) => row['state'])).toEqual([
      'open',
      'open',
    ]);
  });

  it('lets an older scan applied after a newer one add sightings without closing or reopening anything', async () => {
    const query = { repository: 'acme/stale', ref: 'main' };
    const older = upload(sarif('semgrep', results(1, 'stale')), { query, respondAsync: true });
    const stored = await ingest.receive(alice, older);
    expect(stored.status).toBe(202);
    clock.advance(1000);
    // A newer scan that reports nothing is applied first (the older one waits in the queue).
    await ingest.receive(alice, upload(sarif('semgrep', results(2, 'newer')), { query }));
    await worker.drain();

    expect(await scanRow(stored.body.scan_id)).toMatchObject({
      status: 'completed',
      new_count: 1,
      fixed_count: 0,
    });
    const rows = await findingsOf(alice.organizationId, 'acme/stale');
    expect(rows.map((row) => row['state'])).toEqual(['open', 'open', 'open']);
  });

  it('accepts gzip and the native format, with the query naming the context', async () => {
    const native = {
      findings: [
        {
          rule_id: 'hardcoded-secret',
          title: 'Secret',
          severity: 'critical',
          location: { path: 'a.ts', start_line: 3 },
          fingerprint: 'gitleaks:a.ts:3',
        },
      ],
    };
    const answer = await ingest.receive(
      alice,
      upload(native, {
        body: gzipSync(JSON.stringify(native)),
        contentType: 'application/json',
        contentEncoding: 'gzip',
        query: { repository: 'acme/native', tool: 'gitleaks', ref: 'main' },
      }),
    );
    expect(answer.body).toMatchObject({ results: 1, new: 1 });
    expect(await findingsOf(alice.organizationId, 'acme/native')).toEqual([
      expect.objectContaining({
        tool: 'gitleaks',
        severity: 'critical',
        rule_id: 'hardcoded-secret',
        ref: 'main',
        fingerprint: 'gitleaks:a.ts:3',
      }),
    ]);
  });

  it('stores nothing of a scan that fails part-way, after batches of it were written', async () => {
    const count = async () =>
      dataSource.query<Array<{ scans: number; findings: number }>>(
        `SELECT (SELECT count(*) FROM scans WHERE organization_id = $1)::int AS scans,
                (SELECT count(*) FROM findings WHERE organization_id = $1)::int AS findings`,
        [bob.organizationId],
      );
    const before = await count();
    const document = sarif('semgrep', results(1500, 'partway')) as { runs: Array<{ results: object[] }> };
    // Result 1200 has no rule: refused when it is read, after two batches of 500 are in the transaction.
    document.runs[0].results[1200] = { message: { text: 'no rule' } };
    await expect(
      ingest.receive(bob, upload(document, { query: { repository: 'acme/partway' } })),
    ).rejects.toMatchObject({
      code: 'invalid_sarif',
    });
    expect(await count()).toEqual(before);
  });

  it('refuses more runs than SCAN_MAX_RUNS in the request, storing nothing', async () => {
    const run = (sarif('semgrep', results(1, 'runs')) as { runs: object[] }).runs[0];
    const document = { version: '2.1.0', runs: Array.from({ length: OPTIONS.limits.runs + 1 }, () => run) };
    await expect(
      ingest.receive(bob, upload(document, { query: { repository: 'acme/runs' } })),
    ).rejects.toMatchObject({
      code: 'limit_exceeded',
      status: 422,
    });
    expect(await findingsOf(bob.organizationId, 'acme/runs')).toEqual([]);
  });

  describe('group commit of small uploads', () => {
    function native(findings: Array<{ rule: string; path: string }>): object {
      return {
        findings: findings.map(({ rule, path }) => ({
          rule_id: rule,
          title: `Problem ${rule}`,
          severity: 'high',
          location: { path, start_line: 1 },
        })),
      };
    }

    function nativeUpload(document: object, query: ReceivedUpload['query'] = {}): ReceivedUpload {
      return upload(document, { contentType: 'application/json', query });
    }

    it('applies concurrent uploads in fewer transactions, each with the outcome it would have had alone', async () => {
      const transaction = jest.spyOn(dataSource, 'transaction');
      const document = native([{ rule: 'R1', path: 'infra/s3.tf' }]);
      // No tool named: these scans close nothing, so any number of them may share a group.
      const query = { repository: 'acme/concurrent' };
      try {
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => ingest.receive(alice, nativeUpload(document, query))),
        );

        expect(answers.every((answer) => answer.status === 201)).toBe(true);
        // The first upload creates the finding, every later one sees it again: as if applied one by one.
        expect(answers.map((answer) => answer.body.new).sort()).toEqual([...Array(19).fill(0), 1]);
        expect(answers.reduce((sum, answer) => sum + answer.body.unchanged, 0)).toBe(19);
        expect(transaction.mock.calls.length).toBeLessThan(20);
      } finally {
        transaction.mockRestore();
      }
      expect(await findingsOf(alice.organizationId, 'acme/concurrent')).toEqual([
        expect.objectContaining({ state: 'open', occurrences: 20 }),
      ]);
      const [{ scans, history }] = await dataSource.query<Array<{ scans: number; history: number }>>(
        `SELECT (SELECT count(*)::int FROM scans WHERE organization_id = $1 AND repository = 'acme/concurrent'
                   AND status = 'completed') AS scans,
                (SELECT count(*)::int FROM finding_history h JOIN findings f ON f.id = h.finding_id
                  WHERE f.organization_id = $1 AND f.repository = 'acme/concurrent') AS history`,
        [alice.organizationId],
      );
      expect({ scans, history }).toEqual({ scans: 20, history: 20 });
    });

    it('applies concurrent closing scans of one stream one after the other, each seeing what the other left', async () => {
      const query = { repository: 'acme/closing', ref: 'main' };
      const both = sarif('semgrep', [
        { rule: 'A', path: 'src/a.ts', line: 1, fingerprint: 'a' },
        { rule: 'B', path: 'src/b.ts', line: 1, fingerprint: 'b' },
      ]);
      const onlyB = sarif('semgrep', [{ rule: 'B', path: 'src/b.ts', line: 1, fingerprint: 'b' }]);

      // Both are received at the same instant (the test's clock), so either may be applied first; the outcome
      // must be that of one order, exactly, never a mix of the two.
      const [withBoth, withB] = await Promise.all([
        ingest.receive(alice, upload(both, { query })),
        ingest.receive(alice, upload(onlyB, { query })),
      ]);

      const counts = (answer: typeof withBoth) => {
        const { results, new: created, unchanged, fixed, reopened } = answer.body;
        return { results, new: created, unchanged, fixed, reopened };
      };
      const stored = await findingsOf(alice.organizationId, 'acme/closing');
      const states = stored.map((row) => [row['rule_id'], row['state']]).sort();
      if (withBoth.body.new === 2) {
        // Both first: B's scan then fixes A.
        expect(counts(withBoth)).toEqual({ results: 2, new: 2, unchanged: 0, fixed: 0, reopened: 0 });
        expect(counts(withB)).toEqual({ results: 1, new: 0, unchanged: 1, fixed: 1, reopened: 0 });
        expect(states).toEqual([
          ['A', 'fixed'],
          ['B', 'open'],
        ]);
      } else {
        // B first: the scan of both then adds A and sees B again; nothing is fixed.
        expect(counts(withB)).toEqual({ results: 1, new: 1, unchanged: 0, fixed: 0, reopened: 0 });
        expect(counts(withBoth)).toEqual({ results: 2, new: 1, unchanged: 1, fixed: 0, reopened: 0 });
        expect(states).toEqual([
          ['A', 'open'],
          ['B', 'open'],
        ]);
      }
    });

    it("keeps one upload's failure its own: the others of its group are stored", async () => {
      const ghost: KeyPrincipal = { ...alice, organizationId: randomUUID(), apiKeyId: randomUUID() };
      const document = native([{ rule: 'R9', path: 'main.go' }]);
      const query = { repository: 'acme/isolated' };
      // The first two go at once; the rest, the failing one among them, wait and share a group.
      const outcomes = await Promise.allSettled(
        // An organization that does not exist: its scan cannot be stored.
        [alice, alice, alice, ghost, bob, bob].map((principal) =>
          ingest.receive(principal, nativeUpload(document, query)),
        ),
      );

      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      expect(await findingsOf(alice.organizationId, 'acme/isolated')).toEqual([
        expect.objectContaining({ occurrences: 3 }),
      ]);
      expect(await findingsOf(bob.organizationId, 'acme/isolated')).toEqual([
        expect.objectContaining({ occurrences: 2 }),
      ]);
      expect(await findingsOf(ghost.organizationId, 'acme/isolated')).toHaveLength(0);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer to the same request and stores nothing more', async () => {
      const request = upload(sarif('semgrep', results(2, 'idem')), {
        idempotencyKey: 'retry-1',
        query: { repository: 'acme/idem' },
      });
      const first = await ingest.receive(alice, request);
      clock.advance(1000);
      const again = await ingest.receive(alice, request);

      expect(again).toEqual({ ...first, replayed: true });
      const [count] = await dataSource.query<Array<{ scans: number }>>(
        `SELECT count(*)::int AS scans FROM scans WHERE organization_id = $1 AND repository = 'acme/idem'`,
        [alice.organizationId],
      );
      expect(count?.scans).toBe(1);
    });

    it('refuses the same key with a different body (422), but not for another credential or organization', async () => {
      const key = 'retry-2';
      await ingest.receive(alice, upload(sarif('semgrep', results(1, 'a')), { idempotencyKey: key }));
      await expect(
        ingest.receive(alice, upload(sarif('semgrep', results(1, 'b')), { idempotencyKey: key })),
      ).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422 });
      const viaBob = await ingest.receive(
        bob,
        upload(sarif('semgrep', results(1, 'b')), { idempotencyKey: key }),
      );
      expect(viaBob.replayed).toBe(false);
      const user: UserPrincipal = {
        kind: 'user',
        userId: 'u-1',
        role: 'member',
        organizationId: alice.organizationId,
        permissions: ['write:findings'],
        subject: 'u-1',
        tokenId: randomUUID(),
        expiresAt: START,
      };
      const viaUser = await ingest.receive(
        user,
        upload(sarif('semgrep', results(1, 'b')), { idempotencyKey: key }),
      );
      expect(viaUser.replayed).toBe(false);
    });

    it('answers 409 while the same key is being processed elsewhere', async () => {
      const key = 'in-flight';
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        await runner.query(
          `SELECT pg_advisory_xact_lock(hashtextextended('gatehouse.idempotency:' || $1 || '/' || $2 || '/' || $3, 0))`,
          [alice.organizationId, `key:${alice.apiKeyId}`, key],
        );
        await expect(
          ingest.receive(alice, upload(sarif('semgrep', results(1, 'c')), { idempotencyKey: key })),
        ).rejects.toMatchObject({ code: 'idempotency_in_progress', status: 409 });
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
      const after = await ingest.receive(
        alice,
        upload(sarif('semgrep', results(1, 'c')), { idempotencyKey: key }),
      );
      expect(after.status).toBe(201);
    });

    it('forgets an answer after 24 hours', async () => {
      const request = upload(sarif('semgrep', results(1, 'old')), { idempotencyKey: 'day-old' });
      const first = await ingest.receive(alice, request);
      clock.advance(24 * 3600_000 + 1);
      const later = await ingest.receive(alice, request);
      expect(later.replayed).toBe(false);
      expect(later.body.scan_id).not.toBe(first.body.scan_id);
    });

    it('refuses a key that is not printable ASCII', async () => {
      await expect(
        ingest.receive(alice, upload(sarif('semgrep', []), { idempotencyKey: 'has space' })),
      ).rejects.toBeInstanceOf(GatehouseError);
    });
  });

  describe('stored uploads', () => {
    it('answers 202 once stored and applies the scan when the worker runs, dropping the payload', async () => {
      const big = sarif('semgrep', results(3000, 'big'));
      const answer = await ingest.receive(alice, upload(big, { query: { repository: 'acme/big' } }));
      expect(answer).toMatchObject({
        status: 202,
        location: `/api/v1/scans/${answer.body.scan_id}`,
        body: { status: 'queued', results: 0 },
      });
      expect(await scanRow(answer.body.scan_id)).toMatchObject({ status: 'queued' });

      await worker.drain();
      expect(await scanRow(answer.body.scan_id)).toMatchObject({
        status: 'completed',
        results: 3000,
        new_count: 3000,
        attempts: 1,
      });
      const payloads = await dataSource.query(`SELECT 1 FROM scan_payloads WHERE scan_id = $1`, [
        answer.body.scan_id,
      ]);
      expect(payloads).toHaveLength(0);
    });

    it('refuses a large gzip upload that is not whole gzip (400) or inflates beyond the limit (413), storing nothing', async () => {
      const scansBefore = await dataSource.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM scans WHERE organization_id = $1`,
        [bob.organizationId],
      );
      const document = JSON.stringify(sarif('semgrep', results(3000, 'gz')));
      const gzipped = gzipSync(document);
      // Cut short: the trailer is gone, and the last four bytes read as a size far above SCAN_SYNC_MAX_BYTES.
      const truncated = gzipped.subarray(0, gzipped.length - 8);
      expect(truncated.readUInt32LE(truncated.length - 4)).toBeGreaterThan(OPTIONS.syncMaxBytes);
      await expect(
        ingest.receive(bob, upload({}, { body: truncated, contentEncoding: 'gzip' })),
      ).rejects.toMatchObject({ code: 'bad_request', status: 400 });
      // Declared gzip, sent plain: the JSON's last bytes are no gzip trailer either.
      const plain = Buffer.from(`${document}${' '.repeat(8)}`);
      await expect(
        ingest.receive(bob, upload({}, { body: plain, contentEncoding: 'gzip', respondAsync: true })),
      ).rejects.toMatchObject({ code: 'bad_request', status: 400 });
      const bomb = gzipSync(`{"version":"2.1.0","runs":[${' '.repeat(OPTIONS.limits.decompressedBytes)}]}`);
      await expect(
        ingest.receive(bob, upload({}, { body: bomb, contentEncoding: 'gzip' })),
      ).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });

      const scansAfter = await dataSource.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM scans WHERE organization_id = $1`,
        [bob.organizationId],
      );
      expect(scansAfter).toEqual(scansBefore);
    });

    it('records a document refused after the answer as a failed scan, with the reason, and stores none of it', async () => {
      const answer = await ingest.receive(
        alice,
        upload(
          { version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: {} }] }] },
          {
            respondAsync: true,
            query: { repository: 'acme/broken' },
          },
        ),
      );
      await worker.drain();
      const scan = await scanRow(answer.body.scan_id);
      expect(scan).toMatchObject({ status: 'failed', results: 0 });
      expect(scan['error']).toMatchObject({ code: 'invalid_sarif' });
      expect(await findingsOf(alice.organizationId, 'acme/broken')).toEqual([]);
    });

    it('fails a stored scan above SCAN_MAX_RESULTS_PER_RUN, naming the limit, and stores none of it', async () => {
      const answer = await ingest.receive(
        bob,
        upload(sarif('semgrep', results(OPTIONS.limits.resultsPerRun + 1, 'over')), {
          respondAsync: true,
          query: { repository: 'acme/over' },
        }),
      );
      await worker.drain();
      const scan = await scanRow(answer.body.scan_id);
      expect(scan).toMatchObject({ status: 'failed', results: 0 });
      expect(scan['error']).toMatchObject({
        code: 'limit_exceeded',
        details: { limit: 'SCAN_MAX_RESULTS_PER_RUN' },
      });
      expect(await findingsOf(bob.organizationId, 'acme/over')).toEqual([]);
    });

    it('takes up a scan whose processing was interrupted, and gives up after SCAN_MAX_ATTEMPTS', async () => {
      const resumed = await ingest.receive(
        alice,
        upload(sarif('semgrep', results(2, 'resume')), {
          respondAsync: true,
          query: { repository: 'acme/resume' },
        }),
      );
      // As a worker that died after claiming it leaves it: processing, one attempt, unlocked.
      await dataSource.query(`UPDATE scans SET status = 'processing', attempts = 1 WHERE id = $1`, [
        resumed.body.scan_id,
      ]);
      await worker.drain();
      expect(await scanRow(resumed.body.scan_id)).toMatchObject({
        status: 'completed',
        attempts: 2,
        new_count: 2,
      });

      const doomed = await ingest.receive(
        alice,
        upload(sarif('semgrep', results(1, 'doomed')), { respondAsync: true }),
      );
      await dataSource.query(`UPDATE scans SET status = 'processing', attempts = $2 WHERE id = $1`, [
        doomed.body.scan_id,
        OPTIONS.worker.maxAttempts,
      ]);
      await worker.drain();
      const scan = await scanRow(doomed.body.scan_id);
      expect(scan).toMatchObject({ status: 'failed' });
      expect(scan['error']).toMatchObject({ code: 'processing_failed' });
    });
  });
});
