import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import Fastify, { type FastifyInstance } from 'fastify';
import { DataSource } from 'typeorm';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe, HealthModule, type FieldProblem } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import type { FindingResponseDto, FindingStateCountsDto, FindingSummaryGroupDto } from './dto/finding.dto';
import { ListFindingsDto } from './dto/list-findings.dto';
import { ListScansDto } from './dto/list-scans.dto';
import { SummarizeFindingsDto } from './dto/summarize-findings.dto';
import type { FindingLocation } from './entities/finding.entity';
import type { ScanError, ScanTool } from './entities/scan.entity';
import {
  SEVERITIES,
  type FindingEvent,
  type FindingState,
  type ScanFormat,
  type ScanStatus,
  type Severity,
} from './findings.constants';
import { FindingsQueryService } from './findings-query.service';
import { FINDINGS_ENTITIES } from './findings.module';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const MINUTE = 60_000;

function at(offsetMs: number): Date {
  return new Date(T0.getTime() + offsetMs);
}

interface Organization {
  id: string;
  apiKeyId: string;
  clientId: string;
}

interface ScanSpec {
  id: string;
  organizationId: string;
  apiKeyId: string | null;
  clientId: string | null;
  userId: string | null;
  status: ScanStatus;
  format: ScanFormat | null;
  repository: string;
  ref: string;
  commitSha: string;
  tools: ScanTool[];
  results: number;
  newCount: number;
  unchangedCount: number;
  fixedCount: number;
  reopenedCount: number;
  receivedBytes: number;
  attempts: number;
  error: ScanError | null;
  receivedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

interface FindingSpec {
  id: string;
  organizationId: string;
  repository: string;
  ref: string;
  identity: string;
  apiKeyId: string | null;
  clientId: string | null;
  tool: string;
  ruleId: string;
  ruleName: string | null;
  ruleHelp: string | null;
  ruleHelpUri: string | null;
  tags: string[];
  cwe: string[];
  title: string;
  severity: Severity;
  location: FindingLocation | null;
  description: string | null;
  fingerprint: string | null;
  metadata: Record<string, unknown> | null;
  state: FindingState;
  occurrences: number;
  firstScanId: string | null;
  lastScanId: string | null;
  fixedScanId: string | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  fixedAt: Date | null;
}

const REPOSITORIES = ['acme/app', 'acme/web', ''];
const REFS = ['refs/heads/main', 'refs/heads/dev'];
const TOOLS = ['semgrep', 'eslint', 'codeql', ''];
/** `_` and `%` are LIKE wildcards: a prefix must match them literally. */
const PATHS = ['src/a_b/one.ts', 'src/aXb/two.ts', 'src/100%/three.ts', 'src/1000/four.ts', 'lib/x.ts', null];

/** Newest first seen first, ties by id descending: the order the API promises. */
function byListOrder(a: FindingSpec, b: FindingSpec): number {
  return b.firstSeenAt.getTime() - a.firstSeenAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function idsOf(items: ReadonlyArray<{ id: string }>): string[] {
  return items.map((item) => item.id);
}

describe('FindingsQueryService (PostgreSQL)', () => {
  let database: TestDatabase;
  let app: TestingModule;
  let service: FindingsQueryService;
  let dataSource: DataSource;
  let alice: Organization;
  let bob: Organization;
  let carol: Organization;
  const scans = new Map<string, ScanSpec>();
  const findings: FindingSpec[] = [];
  /** Per scan, the findings it reported (new, seen, reopened). */
  const reported = new Map<string, Set<string>>();

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 4 }),
        TypeOrmModule.forFeature(FINDINGS_ENTITIES),
      ],
      providers: [FindingsQueryService],
    }).compile();
    app.useLogger(false);
    await app.init();
    service = app.get(FindingsQueryService);
    dataSource = app.get(DataSource);
    alice = await newOrganization('alice');
    bob = await newOrganization('bob');
    carol = await newOrganization('carol');
    await seed();
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  async function newOrganization(name: string): Promise<Organization> {
    const [organization] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [name],
    );
    const clientId = `${name}-ci`;
    const [key] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO api_keys (organization_id, name, client_id, permissions, environment, key_hash, key_prefix,
                             key_last4, created_by)
       VALUES ($1, 'CI', $2, ARRAY['read:findings', 'write:findings'], 'live', $3, 'gth_live_', 'abcd', 'test')
       RETURNING id`,
      [organization.id, clientId, randomBytes(32)],
    );
    return { id: organization.id, apiKeyId: key.id, clientId };
  }

  async function insertScan(
    organization: Organization,
    spec: Partial<ScanSpec> & { receivedAt: Date },
  ): Promise<ScanSpec> {
    const byUser = spec.userId !== undefined && spec.userId !== null;
    const scan: ScanSpec = {
      id: randomUUID(),
      organizationId: organization.id,
      apiKeyId: byUser ? null : organization.apiKeyId,
      clientId: byUser ? null : organization.clientId,
      userId: null,
      status: 'completed',
      format: 'sarif',
      repository: 'acme/app',
      ref: 'refs/heads/main',
      commitSha: '',
      tools: [{ name: 'semgrep', version: '1.97.0' }],
      results: 0,
      newCount: 0,
      unchangedCount: 0,
      fixedCount: 0,
      reopenedCount: 0,
      receivedBytes: 1234,
      attempts: 0,
      error: null,
      startedAt: spec.receivedAt,
      completedAt: new Date(spec.receivedAt.getTime() + 250),
      ...spec,
    };
    await dataSource.query(
      `INSERT INTO scans (id, organization_id, api_key_id, client_id, user_id, status, format, repository, ref,
                          commit_sha, tools, results, new_count, unchanged_count, fixed_count, reopened_count,
                          received_bytes, attempts, error, received_at, started_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16, $17, $18, $19::jsonb,
               $20, $21, $22)`,
      [
        scan.id,
        scan.organizationId,
        scan.apiKeyId,
        scan.clientId,
        scan.userId,
        scan.status,
        scan.format,
        scan.repository,
        scan.ref,
        scan.commitSha,
        JSON.stringify(scan.tools),
        scan.results,
        scan.newCount,
        scan.unchangedCount,
        scan.fixedCount,
        scan.reopenedCount,
        scan.receivedBytes,
        scan.attempts,
        scan.error === null ? null : JSON.stringify(scan.error),
        scan.receivedAt,
        scan.startedAt,
        scan.completedAt,
      ],
    );
    scans.set(scan.id, scan);
    return scan;
  }

  async function insertFinding(
    organization: Organization,
    spec: Partial<FindingSpec> & { firstSeenAt: Date },
  ): Promise<FindingSpec> {
    const id = spec.id ?? randomUUID();
    const finding: FindingSpec = {
      id,
      organizationId: organization.id,
      repository: 'acme/app',
      ref: 'refs/heads/main',
      identity: createHash('sha256').update(id).digest('hex'),
      apiKeyId: organization.apiKeyId,
      clientId: organization.clientId,
      tool: 'semgrep',
      ruleId: 'rule-0',
      ruleName: null,
      ruleHelp: null,
      ruleHelpUri: null,
      tags: [],
      cwe: [],
      title: 'A finding',
      severity: 'medium',
      location: { path: 'src/index.ts' },
      description: null,
      fingerprint: null,
      metadata: null,
      state: 'open',
      occurrences: 1,
      firstScanId: null,
      lastScanId: null,
      fixedScanId: null,
      lastSeenAt: spec.firstSeenAt,
      fixedAt: null,
      ...spec,
    };
    await dataSource.query(
      `INSERT INTO findings (id, organization_id, repository, ref, identity, identity_source, api_key_id, client_id,
                             tool, rule_id, tags, cwe, title, severity,
                             location, description, fingerprint, metadata, state, occurrences, first_scan_id,
                             last_scan_id, fixed_scan_id, first_seen_at, last_seen_at, fixed_at)
       VALUES ($1, $2, $3, $4, $5, 'computed', $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15,
               $16, $17::jsonb, $18, $19, $20, $21, $22, $23, $24, $25)`,
      [
        finding.id,
        finding.organizationId,
        finding.repository,
        finding.ref,
        finding.identity,
        finding.apiKeyId,
        finding.clientId,
        finding.tool,
        finding.ruleId,
        finding.tags,
        finding.cwe,
        finding.title,
        finding.severity,
        finding.location === null ? null : JSON.stringify(finding.location),
        finding.description,
        finding.fingerprint,
        finding.metadata === null ? null : JSON.stringify(finding.metadata),
        finding.state,
        finding.occurrences,
        finding.firstScanId,
        finding.lastScanId,
        finding.fixedScanId,
        finding.firstSeenAt,
        finding.lastSeenAt,
        finding.fixedAt,
      ],
    );
    if (finding.ruleName !== null || finding.ruleHelp !== null || finding.ruleHelpUri !== null) {
      // What the scanner said about the rule is kept once per (organization, tool, rule).
      await dataSource.query(
        `INSERT INTO finding_rules (organization_id, tool, rule_id, name, help, help_uri, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (organization_id, tool, rule_id) DO UPDATE
            SET name = excluded.name, help = excluded.help, help_uri = excluded.help_uri`,
        [
          finding.organizationId,
          finding.tool,
          finding.ruleId,
          finding.ruleName,
          finding.ruleHelp,
          finding.ruleHelpUri,
        ],
      );
    }
    findings.push(finding);
    return finding;
  }

  async function record(finding: FindingSpec, scan: ScanSpec, event: FindingEvent): Promise<void> {
    await dataSource.query(
      `INSERT INTO finding_history (finding_id, scan_id, event, at) VALUES ($1, $2, $3, $4)`,
      [finding.id, scan.id, event, scan.receivedAt],
    );
    if (event !== 'fixed') reported.set(scan.id, (reported.get(scan.id) ?? new Set()).add(finding.id));
  }

  /** Named scans of the fixtures. */
  let first: ScanSpec;
  let second: ScanSpec;
  let failed: ScanSpec;
  let queued: ScanSpec;
  let bobs: ScanSpec;

  /**
   * Alice: 60 findings whose attributes cycle independently, first seen four at a time (ties in the sort key),
   * interleaved in time with Bob's 12, which share her repository, tool and rule names.
   */
  async function seed(): Promise<void> {
    first = await insertScan(alice, { receivedAt: at(0), commitSha: '1111111', results: 60, newCount: 60 });
    second = await insertScan(alice, { receivedAt: at(30 * MINUTE), results: 30, unchangedCount: 15 });
    failed = await insertScan(alice, {
      receivedAt: at(40 * MINUTE),
      userId: 'auth0|alice',
      status: 'failed',
      format: null,
      repository: 'acme/web',
      ref: 'refs/heads/dev',
      tools: [],
      attempts: 1,
      error: {
        code: 'invalid_sarif',
        message: 'runs[0].results: must be an array',
        details: { pointer: '/runs/0/results' },
      },
    });
    queued = await insertScan(alice, {
      receivedAt: at(40 * MINUTE),
      status: 'queued',
      format: null,
      repository: '',
      ref: '',
      tools: [],
      receivedBytes: 5_000_000,
      startedAt: null,
      completedAt: null,
    });
    bobs = await insertScan(bob, { receivedAt: at(35 * MINUTE) });

    for (let i = 0; i < 60; i += 1) {
      const state: FindingState = i % 7 === 0 || i % 7 === 3 ? 'fixed' : 'open';
      const path = PATHS[Math.floor(i / 2) % PATHS.length];
      const finding = await insertFinding(alice, {
        repository: REPOSITORIES[i % REPOSITORIES.length],
        ref: i % 5 === 0 ? '' : REFS[i % REFS.length],
        tool: TOOLS[i % TOOLS.length],
        ruleId: `rule-${i % 6}`,
        severity: SEVERITIES[i % SEVERITIES.length],
        state,
        location: path === null ? null : { path, start_line: i + 1 },
        firstSeenAt: at(Math.floor(i / 4) * MINUTE),
        firstScanId: first.id,
        lastScanId: first.id,
        ...(state === 'fixed' && { fixedScanId: second.id, fixedAt: second.receivedAt }),
      });
      await record(finding, first, 'new');
      if (i % 4 === 1) await record(finding, second, 'seen');
      if (i % 4 === 3) await record(finding, second, 'fixed');
    }
    for (let i = 0; i < 12; i += 1) {
      const finding = await insertFinding(bob, {
        repository: 'acme/app',
        tool: 'semgrep',
        ruleId: `rule-${i % 6}`,
        severity: SEVERITIES[i % SEVERITIES.length],
        location: { path: 'src/a_b/one.ts' },
        firstSeenAt: at(Math.floor(i / 2) * 2 * MINUTE + 30_000),
      });
      await record(finding, bobs, 'new');
    }
  }

  function alicesFindings(filter: (finding: FindingSpec) => boolean = () => true): string[] {
    return idsOf(
      findings.filter((finding) => finding.organizationId === alice.id && filter(finding)).sort(byListOrder),
    );
  }

  async function listAll(organizationId: string, query: ListFindingsDto): Promise<FindingResponseDto[][]> {
    const pages: FindingResponseDto[][] = [];
    let cursor: string | undefined;
    do {
      const page = await service.listFindings(organizationId, { ...query, cursor });
      pages.push(page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor && pages.length < 200);
    return pages;
  }

  async function refusal(promise: Promise<unknown>): Promise<GatehouseError> {
    const error = await promise.then(
      () => {
        throw new Error('the call succeeded');
      },
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GatehouseError);
    return error as GatehouseError;
  }

  describe('listFindings', () => {
    it('pages through every finding of the organization, newest first seen first, ties by id, each once', async () => {
      const pages = await listAll(alice.id, { limit: 7 });

      expect(pages.map((page) => page.length)).toEqual([...Array<number>(8).fill(7), 4]);
      expect(pages.flat().map((finding) => finding.id)).toEqual(alicesFindings());
    });

    it('answers 50 findings when no limit is given', async () => {
      const page = await service.listFindings(alice.id, {});

      expect(page.data).toHaveLength(50);
      expect(page.next_cursor).not.toBeNull();
    });

    it.each<[string, () => ListFindingsDto, (finding: FindingSpec) => boolean]>([
      ['state=open', () => ({ state: 'open' }), (f) => f.state === 'open'],
      ['state=fixed', () => ({ state: 'fixed' }), (f) => f.state === 'fixed'],
      ['one severity', () => ({ severity: ['critical'] }), (f) => f.severity === 'critical'],
      [
        'several severities',
        () => ({ severity: ['high', 'info'] }),
        (f) => f.severity === 'high' || f.severity === 'info',
      ],
      ['tool', () => ({ tool: 'eslint' }), (f) => f.tool === 'eslint'],
      ['rule', () => ({ rule: 'rule-4' }), (f) => f.ruleId === 'rule-4'],
      ['repository', () => ({ repository: 'acme/web' }), (f) => f.repository === 'acme/web'],
      [
        'repository spelt with .git and a slash',
        () => ({ repository: 'acme/web.git/' }),
        (f) => f.repository === 'acme/web',
      ],
      ['ref', () => ({ ref: 'refs/heads/dev' }), (f) => f.ref === 'refs/heads/dev'],
      [
        'path prefix with a literal _',
        () => ({ path_prefix: 'src/a_b/' }),
        (f) => f.location?.path === 'src/a_b/one.ts',
      ],
      [
        'path prefix with a literal %',
        () => ({ path_prefix: 'src/100%' }),
        (f) => f.location?.path === 'src/100%/three.ts',
      ],
      [
        'path prefix of a directory',
        () => ({ path_prefix: 'src/' }),
        (f) => f.location?.path.startsWith('src/') === true,
      ],
      ['scan', () => ({ scan: second.id }), (f) => reported.get(second.id)?.has(f.id) === true],
      [
        'first seen at or after',
        () => ({ first_seen_after: at(5 * MINUTE).toISOString() }),
        (f) => f.firstSeenAt.getTime() >= at(5 * MINUTE).getTime(),
      ],
      [
        'first seen before',
        () => ({ first_seen_before: '2030-01-01T00:05:00+00:00' }),
        (f) => f.firstSeenAt.getTime() < at(5 * MINUTE).getTime(),
      ],
    ])('filters by %s, across pages', async (_name, query, expected) => {
      const want = alicesFindings(expected);
      // Each filter must narrow the list without emptying it, or the test would prove nothing.
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(alicesFindings().length);

      const pages = await listAll(alice.id, { ...query(), limit: 4 });

      expect(pages.flat().map((finding) => finding.id)).toEqual(want);
    });

    it('combines every filter with the others', async () => {
      const query: ListFindingsDto = {
        state: 'open',
        severity: ['critical', 'high', 'medium'],
        repository: 'acme/app',
        path_prefix: 'src/',
        first_seen_after: at(2 * MINUTE).toISOString(),
        first_seen_before: at(14 * MINUTE).toISOString(),
      };
      const want = alicesFindings(
        (f) =>
          f.state === 'open' &&
          ['critical', 'high', 'medium'].includes(f.severity) &&
          f.repository === 'acme/app' &&
          f.location?.path.startsWith('src/') === true &&
          f.firstSeenAt.getTime() >= at(2 * MINUTE).getTime() &&
          f.firstSeenAt.getTime() < at(14 * MINUTE).getTime(),
      );
      expect(want.length).toBeGreaterThan(2);

      const pages = await listAll(alice.id, { ...query, limit: 2 });
      expect(pages.flat().map((finding) => finding.id)).toEqual(want);

      const narrower = await listAll(alice.id, {
        ...query,
        tool: 'codeql',
        rule: 'rule-0',
        ref: 'refs/heads/main',
        scan: first.id,
      });
      expect(narrower.flat().map((finding) => finding.id)).toEqual(
        alicesFindings(
          (f) =>
            want.includes(f.id) &&
            f.tool === 'codeql' &&
            f.ruleId === 'rule-0' &&
            f.ref === 'refs/heads/main',
        ),
      );
    });

    it('matches nothing for a path prefix that only matches with wildcards', async () => {
      const page = await service.listFindings(alice.id, { path_prefix: 'src/a%' });

      expect(page).toEqual({ data: [], next_cursor: null });
    });

    it("never lists another organization's findings, whatever the filter", async () => {
      const bobsIds = new Set(findings.filter((f) => f.organizationId === bob.id).map((f) => f.id));

      const everything = (await listAll(alice.id, { limit: 100 })).flat();
      const sameRepository = (await listAll(alice.id, { repository: 'acme/app', tool: 'semgrep' })).flat();
      const bobsScan = await service.listFindings(alice.id, { scan: bobs.id });

      expect(everything.concat(sameRepository).some((finding) => bobsIds.has(finding.id))).toBe(false);
      expect(bobsScan.data).toEqual([]);
      expect(idsOf((await listAll(bob.id, { limit: 5 })).flat()).sort()).toEqual([...bobsIds].sort());
    });

    it("does not leak another organization's findings through a cursor taken from its pages", async () => {
      const bobsPage = await service.listFindings(bob.id, { limit: 1 });

      const replayed = await service.listFindings(alice.id, {
        limit: 100,
        cursor: bobsPage.next_cursor ?? '',
      });

      expect(replayed.data.every((finding) => alicesFindings().includes(finding.id))).toBe(true);
    });

    it('refuses a damaged cursor with 400 validation_failed', async () => {
      for (const cursor of ['garbage', Buffer.from(`yesterday|${randomUUID()}`).toString('base64url')]) {
        const error = await refusal(service.listFindings(alice.id, { cursor }));
        expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
      }
    });
  });

  describe('getFinding', () => {
    it('answers every field of a finding, with its history newest first', async () => {
      const third = await insertScan(alice, { receivedAt: at(50 * MINUTE), commitSha: '3333333' });
      const finding = await insertFinding(alice, {
        repository: 'acme/api',
        ref: 'refs/pull/7/merge',
        tool: 'codeql',
        ruleId: 'js/hardcoded-credentials',
        ruleName: 'Hard-coded credentials',
        ruleHelp: 'Do not keep secrets in code.',
        ruleHelpUri: 'https://cwe.mitre.org/data/definitions/798.html',
        tags: ['security', 'external/cwe/cwe-798'],
        cwe: ['CWE-798'],
        title: 'Hard-coded password',
        severity: 'critical',
        location: { path: 'src/db.ts', start_line: 3, end_line: 4, start_column: 9 },
        description: 'The password is written in the code.',
        fingerprint: 'fp-1',
        metadata: { level: 'error', security_severity: '9.8' },
        state: 'open',
        occurrences: 2,
        firstSeenAt: first.receivedAt,
        lastSeenAt: third.receivedAt,
        firstScanId: first.id,
        lastScanId: third.id,
      });
      await record(finding, first, 'new');
      await record(finding, second, 'fixed');
      await record(finding, third, 'reopened');

      const detail = await service.getFinding(alice.id, finding.id);

      expect(detail).toEqual({
        id: finding.id,
        repository: 'acme/api',
        ref: 'refs/pull/7/merge',
        tool: 'codeql',
        rule_id: 'js/hardcoded-credentials',
        rule: {
          name: 'Hard-coded credentials',
          help: 'Do not keep secrets in code.',
          help_uri: 'https://cwe.mitre.org/data/definitions/798.html',
          tags: ['security', 'external/cwe/cwe-798'],
          cwe: ['CWE-798'],
        },
        title: 'Hard-coded password',
        severity: 'critical',
        state: 'open',
        location: { path: 'src/db.ts', start_line: 3, end_line: 4, start_column: 9 },
        description: 'The password is written in the code.',
        fingerprint: 'fp-1',
        identity: finding.identity,
        metadata: { level: 'error', security_severity: '9.8' },
        occurrences: 2,
        first_seen_at: '2030-01-01T00:00:00.000Z',
        last_seen_at: '2030-01-01T00:50:00.000Z',
        fixed_at: null,
        first_scan_id: first.id,
        last_scan_id: third.id,
        fixed_scan_id: null,
        client_id: alice.clientId,
        history: [
          { scan_id: third.id, event: 'reopened', at: '2030-01-01T00:50:00.000Z', commit: '3333333' },
          { scan_id: second.id, event: 'fixed', at: '2030-01-01T00:30:00.000Z', commit: null },
          { scan_id: first.id, event: 'new', at: '2030-01-01T00:00:00.000Z', commit: '1111111' },
        ],
        history_total: 3,
      });
    });

    it('answers null for what the upload did not name, and for a missing location or uploader key', async () => {
      const finding = await insertFinding(carol, {
        repository: '',
        ref: '',
        tool: '',
        location: null,
        apiKeyId: null,
        clientId: null,
        state: 'fixed',
        fixedAt: at(MINUTE),
        firstSeenAt: at(0),
      });

      const detail = await service.getFinding(carol.id, finding.id);

      expect(detail).toMatchObject({
        repository: null,
        ref: null,
        tool: null,
        location: null,
        client_id: null,
        state: 'fixed',
        fixed_at: '2030-01-01T00:01:00.000Z',
        rule: { name: null, help: null, help_uri: null, tags: [], cwe: [] },
        history: [],
        history_total: 0,
      });
    });

    it(`shows the newest 100 entries of a long history and counts them all`, async () => {
      const finding = await insertFinding(carol, { firstSeenAt: at(0), occurrences: 105 });
      await dataSource.query(
        `WITH scan AS (
           INSERT INTO scans (id, organization_id, api_key_id, client_id, status, received_bytes, received_at)
           SELECT gen_random_uuid(), $1, $2, $3, 'completed', 10, $4::timestamptz + n * interval '1 hour'
             FROM generate_series(1, 105) AS n
           RETURNING id, received_at
         )
         INSERT INTO finding_history (finding_id, scan_id, event, at) SELECT $5, id, 'seen', received_at FROM scan`,
        [carol.id, carol.apiKeyId, carol.clientId, T0, finding.id],
      );

      const detail = await service.getFinding(carol.id, finding.id);

      expect(detail.history_total).toBe(105);
      expect(detail.history).toHaveLength(100);
      expect(detail.history[0].at).toBe(at(105 * 60 * MINUTE).toISOString());
      expect(detail.history[99].at).toBe(at(6 * 60 * MINUTE).toISOString());
      const times = detail.history.map((entry) => Date.parse(entry.at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it.each([
      ['another organization’s finding', () => findings.find((f) => f.organizationId === bob.id)?.id ?? ''],
      ['an unknown id', () => randomUUID()],
      ['a malformed id', () => 'not-a-uuid'],
      ['an id with SQL in it', () => "' OR 1=1 --"],
    ])('answers 404 finding_not_found for %s', async (_name, id) => {
      const error = await refusal(service.getFinding(alice.id, id()));

      expect(error).toMatchObject({ code: 'finding_not_found', status: 404 });
    });
  });

  describe('summarize', () => {
    function countsOf(selected: FindingSpec[]): Pick<FindingSummaryGroupDto, 'total' | 'by_severity'> {
      const count = (severity?: Severity): FindingStateCountsDto => {
        const matching = selected.filter((f) => severity === undefined || f.severity === severity);
        return {
          open: matching.filter((f) => f.state === 'open').length,
          fixed: matching.filter((f) => f.state === 'fixed').length,
        };
      };
      return {
        total: count(),
        by_severity: {
          critical: count('critical'),
          high: count('high'),
          medium: count('medium'),
          low: count('low'),
          info: count('info'),
        },
      };
    }

    function alicesSpecs(filter: (finding: FindingSpec) => boolean = () => true): FindingSpec[] {
      return findings.filter((f) => f.organizationId === alice.id && filter(f));
    }

    it('counts the organization’s findings by severity and state, every severity present', async () => {
      const summary = await service.summarize(alice.id, {});

      expect(summary).toEqual(countsOf(alicesSpecs()));
      expect(summary.total.open).toBeGreaterThan(0);
      expect(summary.total.fixed).toBeGreaterThan(0);
    });

    it('answers zeros for an organization without findings', async () => {
      const empty = await newOrganization('dave');

      const summary = await service.summarize(empty.id, { group_by: 'tool' });

      expect(summary).toEqual({ ...countsOf([]), groups: [], groups_truncated: false });
    });

    it('narrows every count by repository, ref and tool', async () => {
      const summary = await service.summarize(alice.id, {
        repository: 'acme/app/',
        ref: 'refs/heads/main',
        tool: 'semgrep',
      });

      const want = alicesSpecs(
        (f) => f.repository === 'acme/app' && f.ref === 'refs/heads/main' && f.tool === 'semgrep',
      );
      expect(want.length).toBeGreaterThan(0);
      expect(summary).toEqual(countsOf(want));
    });

    it.each(['repository', 'tool'] as const)(
      'groups by %s, most open findings first, null for findings that named none, adding up to the totals',
      async (grouping) => {
        const summary = await service.summarize(alice.id, { group_by: grouping });

        const valueOf = (f: FindingSpec) => (grouping === 'repository' ? f.repository : f.tool);
        const values = [...new Set(alicesSpecs().map(valueOf))];
        const want = values
          .map((value) => ({ value, ...countsOf(alicesSpecs((f) => valueOf(f) === value)) }))
          .sort(
            (a, b) =>
              b.total.open - a.total.open || b.total.fixed - a.total.fixed || (a.value < b.value ? -1 : 1),
          )
          .map(({ value, ...counts }): FindingSummaryGroupDto => ({
            [grouping]: value === '' ? null : value,
            ...counts,
          }));
        expect(want.some((group) => group[grouping] === null)).toBe(true);
        expect(summary).toEqual({ ...countsOf(alicesSpecs()), groups: want, groups_truncated: false });
      },
    );

    it('shows at most 1000 groups, the ones with the most open findings, and says it truncated', async () => {
      const many = await newOrganization('erin');
      await dataSource.query(
        `INSERT INTO findings (id, organization_id, identity, tool, rule_id, title, severity, state, first_seen_at,
                               last_seen_at)
         SELECT gen_random_uuid(), $1, md5(n::text) || md5(n::text), 'tool-' || lpad(n::text, 4, '0'), 'r', 't',
                'low', 'open', $2, $2
           FROM generate_series(1, 1001) AS n`,
        [many.id, T0],
      );
      await dataSource.query(
        `INSERT INTO findings (id, organization_id, identity, tool, rule_id, title, severity, state, first_seen_at,
                               last_seen_at)
         SELECT gen_random_uuid(), $1, md5('x' || n), 'tool-1001', 'r', 't', 'high', 'open', $2, $2
           FROM generate_series(1, 2) AS n`,
        [many.id, T0],
      );

      const summary = await service.summarize(many.id, { group_by: 'tool' });

      expect(summary.total).toEqual({ open: 1003, fixed: 0 });
      expect(summary.groups_truncated).toBe(true);
      expect(summary.groups).toHaveLength(1000);
      expect(summary.groups?.[0]).toMatchObject({ tool: 'tool-1001', total: { open: 3, fixed: 0 } });
      expect(summary.groups?.[1]).toMatchObject({ tool: 'tool-0001' });
      expect(summary.groups?.[999]).toMatchObject({ tool: 'tool-0999' });
    });

    it("never counts another organization's findings", async () => {
      const bobs = await service.summarize(bob.id, { group_by: 'repository' });

      expect(bobs.total).toEqual({ open: 12, fixed: 0 });
      expect(bobs.groups).toEqual([
        { repository: 'acme/app', ...countsOf(findings.filter((f) => f.organizationId === bob.id)) },
      ]);
    });
  });

  describe('scans', () => {
    it('answers every field of a scan uploaded with a key', async () => {
      const scan = await insertScan(alice, {
        receivedAt: at(60 * MINUTE),
        commitSha: 'abcdef0',
        tools: [
          { name: 'semgrep', version: '1.97.0' },
          { name: 'gitleaks', version: null },
        ],
        results: 10,
        newCount: 4,
        unchangedCount: 5,
        fixedCount: 2,
        reopenedCount: 1,
        receivedBytes: 2_000_000,
        attempts: 2,
        startedAt: at(61 * MINUTE),
        completedAt: at(61 * MINUTE + 1_500),
      });

      expect(await service.getScan(alice.id, scan.id)).toEqual({
        id: scan.id,
        status: 'completed',
        format: 'sarif',
        repository: 'acme/app',
        ref: 'refs/heads/main',
        commit: 'abcdef0',
        tools: [
          { name: 'semgrep', version: '1.97.0' },
          { name: 'gitleaks', version: null },
        ],
        results: 10,
        new: 4,
        unchanged: 5,
        fixed: 2,
        reopened: 1,
        received_bytes: 2_000_000,
        attempts: 2,
        error: null,
        uploaded_by: { kind: 'api_key', api_key_id: alice.apiKeyId, client_id: alice.clientId },
        received_at: '2030-01-01T01:00:00.000Z',
        started_at: '2030-01-01T01:01:00.000Z',
        completed_at: '2030-01-01T01:01:01.500Z',
        duration_ms: 1500,
      });
    });

    it("answers a failed scan's error and its user, and a queued scan's unknowns as null", async () => {
      expect(await service.getScan(alice.id, failed.id)).toMatchObject({
        status: 'failed',
        format: null,
        repository: 'acme/web',
        error: {
          code: 'invalid_sarif',
          message: 'runs[0].results: must be an array',
          details: { pointer: '/runs/0/results' },
        },
        uploaded_by: { kind: 'user', user_id: 'auth0|alice' },
        duration_ms: 250,
      });
      expect(await service.getScan(alice.id, queued.id)).toMatchObject({
        status: 'queued',
        repository: null,
        ref: null,
        commit: null,
        tools: [],
        error: null,
        started_at: null,
        completed_at: null,
        duration_ms: null,
      });
    });

    it.each([
      ['another organization’s scan', () => bobs.id],
      ['an unknown id', () => randomUUID()],
      ['a malformed id', () => 'scan-1'],
    ])('answers 404 scan_not_found for %s', async (_name, id) => {
      const error = await refusal(service.getScan(alice.id, id()));

      expect(error).toMatchObject({ code: 'scan_not_found', status: 404 });
    });

    function alicesScans(filter: (scan: ScanSpec) => boolean = () => true): string[] {
      return idsOf(
        [...scans.values()]
          .filter((scan) => scan.organizationId === alice.id && filter(scan))
          .sort(
            (a, b) =>
              b.receivedAt.getTime() - a.receivedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
          ),
      );
    }

    async function listAllScans(query: ListScansDto): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await service.listScans(alice.id, { ...query, cursor });
        ids.push(...idsOf(page.data));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && ids.length < 1000);
      return ids;
    }

    it("pages through the organization's scans, newest received first, ties by id, never another's", async () => {
      const ids = await listAllScans({ limit: 1 });

      expect(ids).toEqual(alicesScans());
      expect(ids).not.toContain(bobs.id);
      // failed and queued were received at the same instant.
      expect(ids.indexOf(failed.id)).toBe(ids.indexOf(queued.id) + (failed.id < queued.id ? 1 : -1));
    });

    it.each<[string, ListScansDto, (scan: ScanSpec) => boolean]>([
      ['status', { status: 'completed' }, (s) => s.status === 'completed'],
      ['repository', { repository: 'acme/web.git' }, (s) => s.repository === 'acme/web'],
      ['ref', { ref: 'refs/heads/main' }, (s) => s.ref === 'refs/heads/main'],
      [
        'status, repository and ref together',
        { status: 'completed', repository: 'acme/app', ref: 'refs/heads/main' },
        (s) => s.status === 'completed' && s.repository === 'acme/app' && s.ref === 'refs/heads/main',
      ],
    ])('filters by %s', async (_name, query, expected) => {
      const want = alicesScans(expected);
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(alicesScans().length);

      expect(await listAllScans({ ...query, limit: 1 })).toEqual(want);
    });

    it('refuses a damaged cursor with 400 validation_failed', async () => {
      const error = await refusal(service.listScans(alice.id, { cursor: 'not-a-cursor' }));

      expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
    });
  });

  /** The query strings as Fastify parses them, through the app's validation pipe. */
  describe('query parameters', () => {
    let fastify: FastifyInstance;
    const pipe = createValidationPipe();
    const dtos: Record<string, Type> = {
      findings: ListFindingsDto,
      summary: SummarizeFindingsDto,
      scans: ListScansDto,
    };

    beforeAll(async () => {
      fastify = Fastify();
      fastify.get<{ Params: { dto: string } }>('/:dto', async (request) => {
        try {
          return {
            query: await pipe.transform(request.query, { type: 'query', metatype: dtos[request.params.dto] }),
          };
        } catch (error) {
          if (!(error instanceof GatehouseError)) throw error;
          return {
            error: error.code,
            fields: (error.details as FieldProblem[]).map((problem) => problem.field),
          };
        }
      });
      await fastify.ready();
    });

    afterAll(async () => {
      await fastify?.close();
    });

    async function parse(
      url: string,
    ): Promise<{ query?: Record<string, unknown>; error?: string; fields?: string[] }> {
      const response = await fastify.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      return response.json();
    }

    it.each([
      ['/findings?severity=high&severity=critical', ['high', 'critical']],
      ['/findings?severity=high,critical', ['high', 'critical']],
      ['/findings?severity=high,%20critical&severity=low&severity=high', ['high', 'critical', 'low']],
      ['/findings?severity=info', ['info']],
    ])('reads the severities of %s', async (url, severities) => {
      expect(await parse(url)).toEqual({ query: { severity: severities } });
    });

    it('reads every filter of the list', async () => {
      const scan = randomUUID();
      const { query } = await parse(
        `/findings?limit=10&state=open&severity=low&tool=semgrep&rule=r1&repository=acme%2Fapp&ref=main` +
          `&path_prefix=src%2F&scan=${scan}&first_seen_after=2030-01-01T00:00:00Z&first_seen_before=2030-02-01`,
      );

      expect(query).toEqual({
        limit: 10,
        state: 'open',
        severity: ['low'],
        tool: 'semgrep',
        rule: 'r1',
        repository: 'acme/app',
        ref: 'main',
        path_prefix: 'src/',
        scan,
        first_seen_after: '2030-01-01T00:00:00Z',
        first_seen_before: '2030-02-01',
      });
    });

    it.each([
      ['/findings?severity=urgent', 'severity'],
      ['/findings?severity=high,', 'severity'],
      ['/findings?state=closed', 'state'],
      ['/findings?limit=0', 'limit'],
      ['/findings?limit=101', 'limit'],
      ['/findings?limit=ten', 'limit'],
      ['/findings?tool=a&tool=b', 'tool'],
      ['/findings?repository=', 'repository'],
      ['/findings?scan=42', 'scan'],
      ['/findings?first_seen_after=yesterday', 'first_seen_after'],
      ['/findings?first_seen_before=2030-13-01', 'first_seen_before'],
      ['/findings?sort=title', 'sort'],
      ['/summary?group_by=severity', 'group_by'],
      ['/summary?state=open', 'state'],
      ['/scans?status=done', 'status'],
      ['/scans?limit=1000', 'limit'],
    ])('refuses %s with validation_failed naming %s', async (url, field) => {
      expect(await parse(url)).toEqual({ error: 'validation_failed', fields: [field] });
    });
  });
});
