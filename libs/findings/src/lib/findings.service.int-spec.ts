import { randomBytes, randomUUID } from 'node:crypto';
import { Global, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { CLOCK, GatehouseError, type KeyPrincipal } from '@gatehouse/contracts';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, SEVERITIES, type FindingLocation, runMigrations } from '@gatehouse/persistence';
import { createTestDatabase, type TestDatabase, ManualClock } from '@gatehouse/testing';
import type { FindingDto } from './dto/ingest-findings.dto';
import type { ListFindingsDto } from './dto/list-findings.dto';
import { FindingsModule } from './findings.module';
import { FindingsService, type FindingView } from './findings.service';

const START = new Date('2030-01-01T12:00:00.000Z');
const BATCH = 1000;

const clock = new ManualClock(START);

/** In the apps CLOCK comes from RevocationModule; the findings service needs nothing else from it. */
@Global()
@Module({ providers: [{ provide: CLOCK, useValue: clock }], exports: [CLOCK] })
class TestClockModule {}

interface FindingRow {
  id: string;
  organization_id: string;
  api_key_id: string;
  client_id: string;
  rule_id: string;
  title: string;
  severity: string;
  location: FindingLocation;
  description: string | null;
  tool: string | null;
  fingerprint: string | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

/** Finding number `i`, varying which optional fields are present. */
function finding(i: number): FindingDto {
  const location: FindingDto['location'] = { path: `src/file-${i}.ts` };
  if (i % 2 === 0) location.start_line = i + 1;
  if (i % 4 === 0) location.end_line = i + 3;
  return {
    rule_id: `rule-${i % 17}`,
    title: `Finding ${i}`,
    severity: SEVERITIES[i % SEVERITIES.length],
    location,
    ...(i % 3 === 0 && { description: `Description of finding ${i}` }),
    ...(i % 5 === 0 && { tool: 'semgrep' }),
    ...(i % 7 === 0 && { fingerprint: `fp-${i}` }),
    ...(i % 11 === 0 && { metadata: { index: i, tags: ['a', 'b'], nested: { ok: true } } }),
  };
}

function expectedRow(i: number, principal: KeyPrincipal, createdAt: Date): Omit<FindingRow, 'id'> {
  const source = finding(i);
  return {
    organization_id: principal.organizationId,
    api_key_id: principal.apiKeyId,
    client_id: principal.clientId,
    rule_id: source.rule_id,
    title: source.title,
    severity: source.severity,
    location: source.location,
    description: source.description ?? null,
    tool: source.tool ?? null,
    fingerprint: source.fingerprint ?? null,
    metadata: source.metadata ?? null,
    created_at: createdAt,
  };
}

describe('FindingsService (PostgreSQL)', () => {
  let database: TestDatabase;
  let app: TestingModule;
  let service: FindingsService;
  let dataSource: DataSource;
  let alice: KeyPrincipal;
  let bob: KeyPrincipal;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        TestClockModule,
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 4 }),
        FindingsModule,
      ],
    }).compile();
    app.useLogger(false);
    await app.init();
    service = app.get(FindingsService);
    dataSource = app.get(DataSource);
    alice = await principalOfNewOrganization('alice');
    bob = await principalOfNewOrganization('bob');
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  /** An organization and a key, inserted directly: findings only need them to exist. */
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

  async function rowsOf(organizationId: string): Promise<FindingRow[]> {
    return dataSource.query<FindingRow[]>(`SELECT * FROM findings WHERE organization_id = $1`, [
      organizationId,
    ]);
  }

  async function listAll(principal: KeyPrincipal, query: ListFindingsDto): Promise<FindingView[][]> {
    const pages: FindingView[][] = [];
    let cursor: string | undefined;
    do {
      const page = await service.list(principal, { ...query, cursor });
      pages.push(page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor && pages.length < 1_000);
    return pages;
  }

  describe('ingest', () => {
    let firstBatchAt: Date;

    beforeAll(async () => {
      // Bob's findings come before, within and after Alice's upload in time, so no page can be filled by accident.
      await service.ingest(bob, { findings: [finding(0), finding(1)] });
      clock.advance(1_000);
      firstBatchAt = clock.now();
    });

    it('stores every one of 1000 findings uploaded at once, with their columns', async () => {
      const result = await service.ingest(alice, {
        findings: Array.from({ length: BATCH }, (_, i) => finding(i)),
      });

      expect(result.accepted).toBe(BATCH);
      expect(result.findings).toHaveLength(BATCH);
      const rows = await rowsOf(alice.organizationId);
      expect(rows).toHaveLength(BATCH);
      expect(new Set(rows.map((row) => row.id))).toEqual(new Set(result.findings.map((view) => view.id)));

      const byTitle = new Map(rows.map((row) => [row.title, row]));
      for (let i = 0; i < BATCH; i += 1) {
        const { id: _id, ...stored } = byTitle.get(`Finding ${i}`) ?? ({} as FindingRow);
        expect(stored).toEqual(expectedRow(i, alice, firstBatchAt));
      }
      const [counts] = await dataSource.query<{ described: number; located: number; tagged: number }[]>(
        `SELECT count(description)::int AS described,
                count(*) FILTER (WHERE location ? 'end_line')::int AS located,
                count(metadata)::int AS tagged
           FROM findings WHERE organization_id = $1`,
        [alice.organizationId],
      );
      expect(counts).toEqual({ described: 334, located: 250, tagged: 91 });
    });

    it('returns views matching the stored rows', async () => {
      clock.advance(1_000);
      const result = await service.ingest(alice, { findings: [finding(22)] });

      const [view] = result.findings;
      expect(view).toEqual({
        id: expect.any(String),
        rule_id: 'rule-5',
        title: 'Finding 22',
        severity: SEVERITIES[22 % SEVERITIES.length],
        location: { path: 'src/file-22.ts', start_line: 23 },
        description: null,
        tool: null,
        fingerprint: null,
        metadata: { index: 22, tags: ['a', 'b'], nested: { ok: true } },
        client_id: alice.clientId,
        created_at: clock.now().toISOString(),
      });
      const [stored] = await dataSource.query<FindingRow[]>(`SELECT * FROM findings WHERE id = $1`, [
        view.id,
      ]);
      expect(stored.organization_id).toBe(alice.organizationId);
    });

    it('stores nothing when one finding of the upload is refused by the database', async () => {
      const before = (await rowsOf(bob.organizationId)).length;
      const bad = { ...finding(3), severity: 'catastrophic' } as unknown as FindingDto;
      const quiet = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await expect(service.ingest(bob, { findings: [finding(2), bad, finding(4)] })).rejects.toThrow(
          /findings_severity_check|check constraint/,
        );
      } finally {
        quiet.mockRestore();
      }
      expect(await rowsOf(bob.organizationId)).toHaveLength(before);
    });

    afterAll(async () => {
      clock.advance(1_000);
      await service.ingest(bob, { findings: [finding(5)] });
    });
  });

  describe('list', () => {
    it("pages through all of the organization's findings, newest first, each exactly once", async () => {
      const stored = await rowsOf(alice.organizationId);
      const expected = [...stored]
        .sort(
          (a, b) =>
            b.created_at.getTime() - a.created_at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        )
        .map((row) => row.id);

      const pages = await listAll(alice, { limit: 100 });

      expect(pages.map((page) => page.length)).toEqual([...Array<number>(10).fill(100), 1]);
      expect(pages.flat().map((view) => view.id)).toEqual(expected);
      expect(pages.flat().every((view) => view.client_id === alice.clientId)).toBe(true);
    });

    it("never returns another organization's findings", async () => {
      const bobs = await rowsOf(bob.organizationId);
      expect(bobs).toHaveLength(3);

      const pages = await listAll(bob, { limit: 2 });

      expect(
        pages
          .flat()
          .map((view) => view.id)
          .sort(),
      ).toEqual(bobs.map((row) => row.id).sort());
      const alicesIds = new Set((await rowsOf(alice.organizationId)).map((row) => row.id));
      expect(pages.flat().some((view) => alicesIds.has(view.id))).toBe(false);
    });

    it("does not leak another organization's findings through a cursor taken from its pages", async () => {
      const bobsFirstPage = await service.list(bob, { limit: 1 });
      expect(bobsFirstPage.next_cursor).not.toBeNull();

      const replayed = await service.list(alice, {
        limit: 100,
        cursor: bobsFirstPage.next_cursor ?? undefined,
      });

      const bobsIds = new Set((await rowsOf(bob.organizationId)).map((row) => row.id));
      expect(replayed.data.some((view) => bobsIds.has(view.id))).toBe(false);
    });

    it('filters by severity across pages', async () => {
      const critical = (await listAll(alice, { limit: 100 }))
        .flat()
        .filter((view) => view.severity === 'critical')
        .map((view) => view.id);

      const pages = await listAll(alice, { limit: 37, severity: 'critical' });

      const filtered = pages.flat().map((view) => view.id);
      expect(filtered).toEqual(critical);
      expect(filtered).toHaveLength(200);
    });

    it('refuses a damaged cursor', async () => {
      await expect(service.list(alice, { cursor: 'garbage' })).rejects.toBeInstanceOf(GatehouseError);
      await expect(
        service.list(alice, { cursor: Buffer.from(`yesterday|${randomUUID()}`).toString('base64url') }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
    });
  });
});
