import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import {
  request,
  startService,
  startSuite,
  WORKSPACE_ROOT,
  type BootstrapOutput,
  type JsonResponse,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';
import {
  largeSarifLog,
  numberedResults,
  sarifLog,
  type ResultSpec,
  type RunSpec,
  type SarifLog,
} from './support/sarif-documents';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Small limits, so that the behaviour of large documents shows with small ones. Uploads and gateway share their
 * limit, as the docs ask operators to keep them. The suite's own findings-service instances never process stored
 * uploads (SCAN_WORKER_ENABLED=false): the crash test decides which process does, and when.
 */
const UPLOAD_LIMIT_BYTES = 1536 * KiB;
const LIMITS = {
  SCAN_MAX_UPLOAD_BYTES: UPLOAD_LIMIT_BYTES,
  SCAN_MAX_DECOMPRESSED_BYTES: 32 * MiB,
  SCAN_MAX_RUNS: 3,
  SCAN_MAX_RESULTS_PER_RUN: 12_000,
  SCAN_SYNC_MAX_BYTES: 2 * MiB,
};
const FINDINGS_ENV: Record<string, string> = {
  ...Object.fromEntries(Object.entries(LIMITS).map(([name, value]) => [name, String(value)])),
  SCAN_WORKER_ENABLED: 'false',
  SCAN_WORKER_POLL_MS: '200',
};
/** The gateway's default for every route but uploads (BODY_LIMIT_BYTES), which this file leaves as it is. */
const BODY_LIMIT_BYTES = MiB;

const SARIF = 'application/sarif+json';

interface ScanSummary {
  scan_id: string;
  status: string;
  results: number;
  new: number;
  unchanged: number;
  fixed: number;
  reopened: number;
}

interface Scan {
  id: string;
  status: 'queued' | 'processing' | 'completed' | 'failed';
  format: string | null;
  repository: string | null;
  ref: string | null;
  commit: string | null;
  tools: { name: string; version: string | null }[];
  results: number;
  new: number;
  unchanged: number;
  fixed: number;
  reopened: number;
  received_bytes: number;
  attempts: number;
  error: { code: string; message: string; details?: unknown } | null;
  uploaded_by: Record<string, unknown>;
  received_at: string;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
}

interface Finding {
  id: string;
  repository: string | null;
  ref: string | null;
  tool: string | null;
  rule_id: string;
  rule: { name: string | null; help: string | null; help_uri: string | null; tags: string[]; cwe: string[] };
  title: string;
  severity: string;
  state: 'open' | 'fixed';
  location: { path: string; start_line?: number; end_line?: number; start_column?: number } | null;
  description: string | null;
  occurrences: number;
  first_scan_id: string;
  last_scan_id: string;
  fixed_scan_id: string | null;
  fixed_at: string | null;
}

interface FindingDetail extends Finding {
  history: { scan_id: string; event: string; at: string; commit: string | null }[];
  history_total: number;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

interface StateCounts {
  open: number;
  fixed: number;
}

interface FindingSummary {
  total: StateCounts;
  by_severity: Record<string, StateCounts>;
  groups?: (Record<string, unknown> & { total: StateCounts })[];
}

interface ErrorBody {
  error: string;
  message: string;
  request_id: string;
  details?: Record<string, unknown>;
}

interface UploadOptions {
  /** Content-Type; `application/json` unless given. */
  type?: string;
  /** Content-Encoding, if any. */
  encoding?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Gateway unless given (a findings-service instance, called directly). */
  baseUrl?: string;
  token?: string;
}

const gzipJson = (value: unknown): Buffer => gzipSync(Buffer.from(JSON.stringify(value)));
const jsonBytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const unique = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The one error shape: exactly these members, details only when there are any. */
function expectError(response: JsonResponse<unknown>, status: number, code: string): ErrorBody {
  const body = response.body as ErrorBody;
  expect({ status: response.status, error: body?.error }).toEqual({ status, error: code });
  expect(body).toEqual({
    error: code,
    message: expect.any(String),
    request_id: expect.any(String),
    ...(body.details !== undefined && { details: expect.any(Object) }),
  });
  return body;
}

/** A SARIF log whose one run has one (minimal) result more than SCAN_MAX_RESULTS_PER_RUN. */
function tooManyResults(): SarifLog {
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: { driver: { name: 'noisy' } },
        results: Array.from({ length: LIMITS.SCAN_MAX_RESULTS_PER_RUN + 1 }, () => ({
          ruleId: 'r',
          message: { text: 'm' },
        })),
      },
    ],
  };
}

/** The lines of a process' JSON log at level error, or of the error filter (an unexpected error of a request). */
function errorLines(service: ServiceProcess): string[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":"error"') || line.includes('"context":"ErrorFilter"'));
}

/**
 * SARIF and native uploads end to end, against the built apps, PostgreSQL and Redis: what an upload answers and
 * stores, what it refuses (and that a refusal stores nothing), findings tracked from scan to scan, Idempotency-Key
 * across two findings-service instances, a stored upload surviving the death of the processes that received and
 * processed it, isolation between organizations, and the OpenAPI document of it all.
 */
describe('scans: SARIF uploads, tracking, idempotency and recovery, end to end', () => {
  let suite: RunningSuite;
  let gw: string;
  let acme: BootstrapOutput;
  let token: string;
  /** findings-service processes this file starts itself (the crash test); each is ended by the test or afterAll. */
  const ownProcesses: ServiceProcess[] = [];
  /** Ids of scans answered 202: each must be processed by some worker before the file ends. */
  const storedScanIds: string[] = [];
  /** The scan of a stored upload that breaks SCAN_MAX_RESULTS_PER_RUN: refused once a worker reads it. */
  let overLimitScanId = '';

  const bearer = (value = token) => ({ authorization: `Bearer ${value}` });

  const m2mToken = async (owner: BootstrapOutput): Promise<string> => {
    const response = await request(`${gw}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const upload = <T = ScanSummary>(body: Buffer, options: UploadOptions = {}) => {
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    return request<T>(`${options.baseUrl ?? gw}/api/v1/findings${query}`, {
      method: 'POST',
      headers: {
        ...bearer(options.token),
        'content-type': options.type ?? 'application/json',
        ...(options.encoding !== undefined && { 'content-encoding': options.encoding }),
        ...options.headers,
      },
      rawBody: body,
    });
  };

  /**
   * An upload the server refuses from its declared length alone: it answers 413 and closes the connection before
   * the body is sent, so a client writing the body at once may fail (EPIPE, a reset) before reading the answer, and
   * fetch then throws. Like curl with `Expect: 100-continue`, this one sends the headers and waits for the answer.
   */
  const uploadRefusedEarly = (body: Buffer, baseUrl = gw): Promise<JsonResponse<unknown>> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest(`${baseUrl}/api/v1/findings`, {
        method: 'POST',
        headers: {
          ...bearer(),
          'content-type': SARIF,
          'content-encoding': 'gzip',
          'content-length': String(body.length),
        },
      });
      let answered = false;
      // The body only if no answer came within a second (a server that reads it first).
      const writeBody = setTimeout(() => outgoing.end(body), 1000);
      outgoing.on('response', (response) => {
        answered = true;
        clearTimeout(writeBody);
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          outgoing.destroy();
          resolve({
            status: response.statusCode ?? 0,
            headers: new Headers(response.headers as Record<string, string>),
            body: JSON.parse(text) as unknown,
          });
        });
      });
      // A write cut short by the server's close is expected here; only a request never answered fails.
      outgoing.on('error', (error) => setTimeout(() => answered || reject(error), 1000));
      outgoing.flushHeaders();
    });

  const get = <T>(path: string, query: Record<string, string> = {}, as = token, baseUrl = gw) => {
    const search = Object.keys(query).length > 0 ? `?${new URLSearchParams(query).toString()}` : '';
    return request<T>(`${baseUrl}${path}${search}`, { headers: bearer(as) });
  };

  const getScan = async (id: string, as = token, baseUrl = gw): Promise<Scan> => {
    const response = await get<Scan>(`/api/v1/scans/${id}`, {}, as, baseUrl);
    expect(response.status).toBe(200);
    return response.body;
  };

  /** Every finding matching `query`, page after page. */
  const allFindings = async (query: Record<string, string>, as = token): Promise<Finding[]> => {
    const found: Finding[] = [];
    let cursor: string | null = null;
    do {
      const response: JsonResponse<Page<Finding>> = await get<Page<Finding>>(
        '/api/v1/findings',
        { limit: '100', ...query, ...(cursor ? { cursor } : {}) },
        as,
      );
      expect(response.status).toBe(200);
      found.push(...response.body.data);
      cursor = response.body.next_cursor;
    } while (cursor);
    return found;
  };

  const scanCount = async (as = token): Promise<number> => {
    let count = 0;
    let cursor: string | null = null;
    do {
      const response: JsonResponse<Page<Scan>> = await get<Page<Scan>>(
        '/api/v1/scans',
        { limit: '100', ...(cursor ? { cursor } : {}) },
        as,
      );
      expect(response.status).toBe(200);
      count += response.body.data.length;
      cursor = response.body.next_cursor;
    } while (cursor);
    return count;
  };

  const summary = async (query: Record<string, string>, as = token): Promise<FindingSummary> => {
    const response = await get<FindingSummary>('/api/v1/findings/summary', query, as);
    expect(response.status).toBe(200);
    return response.body;
  };

  /** The environment the suite gives its findings-service instances, for processes started here. */
  const findingsProcessEnv = (overrides: Record<string, string>): Record<string, string> => ({
    ...suite.env,
    JWKS_URL: `${suite.auth.url}/api/v1/auth/jwks`,
    ...FINDINGS_ENV,
    ...overrides,
  });

  const startOwnFindingsService = async (overrides: Record<string, string>): Promise<ServiceProcess> => {
    const started = await startService('findings-service', findingsProcessEnv(overrides));
    ownProcesses.push(started);
    return started;
  };

  beforeAll(async () => {
    suite = await startSuite({
      findingsInstances: 2,
      findingsEnv: FINDINGS_ENV,
      gatewayEnv: { FINDINGS_UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT_BYTES) },
    });
    gw = suite.gateway.url;
    acme = await suite.bootstrap('acme-scans');
    expect(acme.permissions).toEqual(expect.arrayContaining(['read:findings', 'write:findings']));
    token = await m2mToken(acme);
  });

  afterAll(async () => {
    // Whatever a failed test left running of the processes started here, and only those.
    await Promise.all(ownProcesses.map((service) => service.signal('SIGKILL')));
    await suite?.stop();
  });

  describe('uploads that are processed in the request', () => {
    const provenance = {
      repositoryUri: 'https://github.com/acme/payments.git',
      revisionId: '9fceb02d0ae598e95dc970b74767f19372d61af8',
      branch: 'refs/heads/main',
    };
    const twoTools: RunSpec[] = [
      {
        tool: 'semgrep',
        version: '1.97.0',
        provenance,
        rules: [
          {
            id: 'js.sqli',
            name: 'SqlInjection',
            securitySeverity: '9.1',
            tags: ['security', 'external/cwe/cwe-089'],
            helpUri: 'https://semgrep.dev/r/js.sqli',
          },
          {
            id: 'js.xss',
            securitySeverity: '7.5',
            tags: ['security', 'CWE-79: Improper Neutralization of Input During Web Page Generation'],
          },
          { id: 'js.weak-hash', securitySeverity: '5.0', tags: ['security', 'CWE-328'] },
        ],
        results: [
          { rule: 'js.sqli', path: 'src/db/query.ts', line: 12, column: 5 },
          { rule: 'js.xss', path: 'src/web/render.ts', line: 40 },
          // The result's own score wins over its rule's 5.0.
          { rule: 'js.weak-hash', path: 'src/crypto/hash.ts', line: 3, securitySeverity: '0.5' },
        ],
      },
      {
        tool: 'eslint',
        version: '9.39.5',
        provenance,
        rules: [
          { id: 'no-eval', level: 'error' },
          { id: 'eqeqeq' },
          { id: 'no-console' },
          { id: 'no-debugger' },
        ],
        results: [
          // No level of its own: the rule's default configuration decides.
          { rule: 'no-eval', path: 'src/app.js', line: 7 },
          { rule: 'eqeqeq', path: 'src/app.js', line: 6, level: 'warning' },
          { rule: 'no-console', path: 'src/app.js', line: 9, level: 'note' },
          { rule: 'no-debugger', path: 'src/app.js', line: 10, level: 'none' },
        ],
      },
    ];

    it('answers 201 with the summary of a gzip SARIF of two tools, and shows the scan and its findings', async () => {
      const body = gzipJson(sarifLog(twoTools));
      const before = Date.now();
      const response = await upload(body, { type: SARIF, encoding: 'gzip' });
      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toBeNull();
      expect(response.body).toEqual({
        scan_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'completed',
        results: 7,
        new: 7,
        unchanged: 0,
        fixed: 0,
        reopened: 0,
      });

      const scan = await getScan(response.body.scan_id);
      expect(scan).toMatchObject({
        id: response.body.scan_id,
        status: 'completed',
        format: 'sarif',
        // Spelt once per repository: the `.git` of the provenance is dropped.
        repository: 'https://github.com/acme/payments',
        ref: 'refs/heads/main',
        commit: provenance.revisionId,
        tools: [
          { name: 'semgrep', version: '1.97.0' },
          { name: 'eslint', version: '9.39.5' },
        ],
        results: 7,
        new: 7,
        unchanged: 0,
        fixed: 0,
        reopened: 0,
        received_bytes: body.length,
        attempts: 0,
        error: null,
        uploaded_by: { kind: 'api_key', api_key_id: acme.api_key_id, client_id: acme.client_id },
      });
      const receivedAt = Date.parse(scan.received_at);
      expect(receivedAt).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(scan.started_at ?? '')).toBeGreaterThanOrEqual(receivedAt);
      expect(Date.parse(scan.completed_at ?? '')).toBeGreaterThanOrEqual(Date.parse(scan.started_at ?? ''));
      expect(scan.duration_ms).toBe(Date.parse(scan.completed_at ?? '') - Date.parse(scan.started_at ?? ''));

      const findings = await allFindings({ repository: 'https://github.com/acme/payments' });
      const byRule = Object.fromEntries(findings.map((finding) => [finding.rule_id, finding]));
      expect(Object.keys(byRule).sort()).toEqual(
        ['eqeqeq', 'js.sqli', 'js.weak-hash', 'js.xss', 'no-console', 'no-debugger', 'no-eval'].sort(),
      );
      expect(Object.fromEntries(findings.map((finding) => [finding.rule_id, finding.severity]))).toEqual({
        'js.sqli': 'critical',
        'js.xss': 'high',
        'js.weak-hash': 'low',
        'no-eval': 'high',
        eqeqeq: 'medium',
        'no-console': 'low',
        'no-debugger': 'info',
      });
      expect(byRule['js.sqli']).toMatchObject({
        repository: 'https://github.com/acme/payments',
        ref: 'refs/heads/main',
        tool: 'semgrep',
        state: 'open',
        title: 'Rule js.sqli',
        rule: {
          name: 'SqlInjection',
          help_uri: 'https://semgrep.dev/r/js.sqli',
          tags: ['security', 'external/cwe/cwe-089'],
          cwe: ['CWE-89'],
        },
        location: { path: 'src/db/query.ts', start_line: 12, end_line: 12, start_column: 5 },
        description: 'js.sqli at src/db/query.ts:12',
        occurrences: 1,
        first_scan_id: scan.id,
        last_scan_id: scan.id,
        fixed_scan_id: null,
      });
      expect(byRule['js.xss'].rule.cwe).toEqual(['CWE-79']);
      expect(byRule['js.weak-hash'].rule.cwe).toEqual(['CWE-328']);
      expect(byRule['no-eval']).toMatchObject({
        tool: 'eslint',
        location: { path: 'src/app.js', start_line: 7 },
        rule: { tags: [], cwe: [] },
      });
    });

    it('reads a real ESLint report sent as application/json, told SARIF by its content', async () => {
      const fixture = readFileSync(
        join(WORKSPACE_ROOT, 'libs/findings/src/lib/ingest/fixtures/eslint.sarif'),
      );
      const document = JSON.parse(fixture.toString('utf8')) as { runs: { results: unknown[] }[] };
      const resultCount = document.runs.reduce((total, run) => total + run.results.length, 0);
      expect(resultCount).toBeGreaterThan(0);

      const response = await upload(fixture, {
        type: 'application/json; charset=utf-8',
        query: { repository: 'acme/eslint-fixture', ref: 'refs/heads/main', commit: 'f00dcafe' },
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ status: 'completed', results: resultCount, new: resultCount });
      // The query names what the report does not.
      expect(await getScan(response.body.scan_id)).toMatchObject({
        format: 'sarif',
        repository: 'acme/eslint-fixture',
        ref: 'refs/heads/main',
        commit: 'f00dcafe',
        tools: [{ name: 'ESLint', version: expect.any(String) }],
      });
      const findings = await allFindings({ scan: response.body.scan_id });
      expect(findings).toHaveLength(resultCount);
      expect(
        findings.every(
          (finding) => finding.tool === 'ESLint' && finding.repository === 'acme/eslint-fixture',
        ),
      ).toBe(true);
    });

    it('takes an upload above BODY_LIMIT_BYTES (under FINDINGS_UPLOAD_LIMIT_BYTES) that other routes refuse', async () => {
      // Long messages, as scanners write for secrets and code flows, make an uncompressed report of ~1.25 MiB.
      const padding = 'x'.repeat(4 * KiB);
      const results: ResultSpec[] = numberedResults(300, 'big').map((result) => ({
        ...result,
        message: `${result.path}: ${padding}`,
      }));
      const body = jsonBytes(sarifLog([{ tool: 'bigscan', results }]));
      expect(body.length).toBeGreaterThan(BODY_LIMIT_BYTES);
      expect(body.length).toBeLessThan(UPLOAD_LIMIT_BYTES);

      const accepted = await upload(body, { type: SARIF, query: { repository: 'acme/big-report' } });
      expect(accepted.status).toBe(201);
      expect(accepted.body).toMatchObject({ status: 'completed', results: 300, new: 300 });

      const elsewhere = await request(`${gw}/api/v1/api-keys`, {
        method: 'POST',
        headers: { ...bearer(), 'content-type': 'application/json' },
        rawBody: body,
      });
      const refused = expectError(elsewhere, 413, 'payload_too_large');
      expect(refused.message).toContain(String(BODY_LIMIT_BYTES));
    });
  });

  describe('refusals, each in the one error shape and storing nothing', () => {
    let scansBefore: number;

    beforeAll(async () => {
      scansBefore = await scanCount();
    });

    const minimalSarif = sarifLog([{ tool: 'semgrep', results: numberedResults(2, 'refused') }]);

    it('415 for text/plain, naming both accepted media types', async () => {
      const refused = expectError(
        await upload(jsonBytes(minimalSarif), { type: 'text/plain' }),
        415,
        'unsupported_media_type',
      );
      expect(refused.message).toContain('application/json');
      expect(refused.message).toContain('application/sarif+json');
    });

    it('415 for Content-Encoding: br, naming gzip', async () => {
      const refused = expectError(
        await upload(jsonBytes(minimalSarif), { type: SARIF, encoding: 'br' }),
        415,
        'unsupported_media_type',
      );
      expect(refused.message).toContain('gzip');
    });

    // Whatever its size or its trailer claims, a body declared gzip that is not whole gzip is refused in the request:
    // one that would be stored (its trailer read as more than SCAN_SYNC_MAX_BYTES) is inflated first.
    it.each([
      ['a JSON document sent as it is', () => jsonBytes(minimalSarif)],
      ['a gzip stream cut short', () => gzipJson(minimalSarif).subarray(0, 40)],
      ['a few bytes of text', () => Buffer.from('not gzip')],
    ])('400 bad_request for %s declared gzip', async (_case, body) => {
      const refused = expectError(
        await upload(body(), { type: SARIF, encoding: 'gzip' }),
        400,
        'bad_request',
      );
      expect(refused.message).toBe('Request body is not valid gzip data');
    });

    it('400 invalid_sarif saying which run is malformed (results not an array)', async () => {
      const document = sarifLog([
        { tool: 'semgrep', results: numberedResults(1, 'fine') },
        { tool: 'eslint', results: [] },
      ]);
      document.runs[1]['results'] = { not: 'an array' };
      const refused = expectError(await upload(jsonBytes(document), { type: SARIF }), 400, 'invalid_sarif');
      expect(refused.message).toBe('runs[1].results: must be an array');
      expect(refused.details).toEqual({ pointer: '/runs/1/results' });
    });

    it('400 invalid_sarif saying which result is malformed (locations not an array)', async () => {
      const document = sarifLog([{ tool: 'semgrep', results: numberedResults(3, 'located') }]);
      const results = document.runs[0]['results'] as Record<string, unknown>[];
      results[2]['locations'] = 'src/app.ts';
      const refused = expectError(
        await upload(gzipJson(document), { type: SARIF, encoding: 'gzip' }),
        400,
        'invalid_sarif',
      );
      expect(refused.message).toBe('runs[0].results[2].locations: must be an array');
      expect(refused.details).toEqual({ pointer: '/runs/0/results/2/locations' });
    });

    it('400 malformed_json for a body that is not JSON, with the byte offset', async () => {
      const body = Buffer.from('{"version": "2.1.0", "runs": [}');
      const refused = expectError(await upload(body), 400, 'malformed_json');
      expect(refused.message).toMatch(/^Request body is not valid JSON/);
      expect(refused.details).toEqual({ offset: expect.any(Number) });
    });

    // The bomb's trailer declares more than SCAN_SYNC_MAX_BYTES, so it would be stored: it is inflated first, and
    // refused in the request as soon as SCAN_MAX_DECOMPRESSED_BYTES is crossed.
    it('413 naming SCAN_MAX_DECOMPRESSED_BYTES for a gzip bomb, answered fast', async () => {
      // 128 MiB of JSON whitespace inside a SARIF log, 128 KiB once compressed: four times the limit.
      const inflated = Buffer.alloc(128 * MiB, ' ');
      inflated.write('{"version":"2.1.0","runs":[');
      inflated.write(']}', inflated.length - 2);
      const bomb = gzipSync(inflated, { level: 9 });
      expect(bomb.length).toBeLessThan(UPLOAD_LIMIT_BYTES);

      const started = performance.now();
      const response = await upload(bomb, { type: SARIF, encoding: 'gzip' });
      const elapsedMs = performance.now() - started;
      const refused = expectError(response, 413, 'payload_too_large');
      expect(refused.message).toContain('SCAN_MAX_DECOMPRESSED_BYTES');
      expect(refused.details).toEqual({
        limit: 'SCAN_MAX_DECOMPRESSED_BYTES',
        max: LIMITS.SCAN_MAX_DECOMPRESSED_BYTES,
      });
      // Inflating stops at the limit: a quarter of the bomb, a fraction of a second.
      expect(elapsedMs).toBeLessThan(2_000);
    });

    it('422 limit_exceeded naming SCAN_MAX_RUNS for one run too many', async () => {
      const runs = Array.from({ length: LIMITS.SCAN_MAX_RUNS + 1 }, (_, index) => ({
        tool: `tool-${index}`,
        results: numberedResults(1, `run-${index}`),
      }));
      const refused = expectError(
        await upload(gzipJson(sarifLog(runs)), { type: SARIF, encoding: 'gzip' }),
        422,
        'limit_exceeded',
      );
      expect(refused.message).toContain('SCAN_MAX_RUNS');
      expect(refused.details).toEqual({ limit: 'SCAN_MAX_RUNS', max: LIMITS.SCAN_MAX_RUNS });
    });

    it('422 limit_exceeded naming SCAN_MAX_RESULTS_PER_RUN for a run with one result too many', async () => {
      const document = tooManyResults();
      const body = gzipJson(document);
      // Small enough to be processed in the request (larger ones are stored first: see the next test).
      expect(body.readUInt32LE(body.length - 4)).toBeLessThan(LIMITS.SCAN_SYNC_MAX_BYTES);
      const refused = expectError(
        await upload(body, { type: SARIF, encoding: 'gzip' }),
        422,
        'limit_exceeded',
      );
      expect(refused.message).toContain('runs[0].results');
      expect(refused.details).toEqual({
        limit: 'SCAN_MAX_RESULTS_PER_RUN',
        max: LIMITS.SCAN_MAX_RESULTS_PER_RUN,
      });
    });

    it('413 at the gateway above FINDINGS_UPLOAD_LIMIT_BYTES, and at findings-service above SCAN_MAX_UPLOAD_BYTES', async () => {
      const body = randomBytes(UPLOAD_LIMIT_BYTES + 1);
      const atGateway = expectError(await uploadRefusedEarly(body), 413, 'payload_too_large');
      expect(atGateway.message).toBe(`Request body is larger than ${UPLOAD_LIMIT_BYTES} bytes`);

      const direct = expectError(
        await uploadRefusedEarly(body, suite.findings[0].url),
        413,
        'payload_too_large',
      );
      expect(direct.message).toContain('SCAN_MAX_UPLOAD_BYTES');
    });

    // Fails with the two product bugs above: their uploads are stored as scans (then failed by a worker).
    it('stored no scan for any of them', async () => {
      expect(await scanCount()).toBe(scansBefore);
    });
  });

  describe('deduplication and tracking from scan to scan', () => {
    const repository = 'acme/tracking';
    const main = 'refs/heads/main';
    const context = { repository, ref: main };
    const x: ResultSpec = {
      rule: 'aws-access-key',
      path: 'config/deploy.env',
      line: 3,
      level: 'error',
      fingerprint: 'x',
    };
    const y: ResultSpec = { rule: 'slack-webhook', path: 'config/notify.env', line: 1, fingerprint: 'y' };
    const z: ResultSpec = {
      rule: 'generic-token',
      path: 'src/client.ts',
      line: 20,
      level: 'note',
      fingerprint: 'z',
    };
    const gitleaks = (results: ResultSpec[]) =>
      gzipJson(
        sarifLog([
          {
            tool: 'gitleaks',
            version: '8.18.0',
            rules: [{ id: 'slack-webhook', securitySeverity: '9.5', tags: ['secret', 'CWE-798'] }],
            results,
          },
        ]),
      );
    const scanA = gitleaks([x, y, z]);
    const scans: Record<'a' | 'again' | 'b' | 'c', string> = { a: '', again: '', b: '', c: '' };
    const ids: Record<'x' | 'y' | 'z', string> = { x: '', y: '', z: '' };

    const send = async (body: Buffer, query: Record<string, string> = context) => {
      const response = await upload(body, { type: SARIF, encoding: 'gzip', query });
      expect(response.status).toBe(201);
      return response.body;
    };

    it('scan A: three new findings', async () => {
      const answer = await send(scanA);
      scans.a = answer.scan_id;
      expect(answer).toMatchObject({ results: 3, new: 3, unchanged: 0, fixed: 0, reopened: 0 });
      const findings = await allFindings({ repository, ref: main });
      expect(findings).toHaveLength(3);
      for (const key of ['x', 'y', 'z'] as const) {
        ids[key] = findings.find((finding) => finding.location?.path === { x, y, z }[key].path)?.id ?? '';
        expect(ids[key]).not.toBe('');
      }
    });

    it('the same document again: three unchanged, none new, nothing stored twice', async () => {
      const answer = await send(scanA);
      scans.again = answer.scan_id;
      expect(answer).toMatchObject({ results: 3, new: 0, unchanged: 3, fixed: 0, reopened: 0 });
      const findings = await allFindings({ repository });
      expect(findings.map((finding) => finding.id).sort()).toEqual(Object.values(ids).sort());
      expect(findings.every((finding) => finding.occurrences === 2 && finding.state === 'open')).toBe(true);
    });

    it('scan B reports one of them: the two others are fixed', async () => {
      const answer = await send(gitleaks([x]));
      scans.b = answer.scan_id;
      expect(answer).toMatchObject({ results: 1, new: 0, unchanged: 1, fixed: 2, reopened: 0 });

      const fixed = await allFindings({ repository, state: 'fixed' });
      expect(fixed.map((finding) => finding.id).sort()).toEqual([ids.y, ids.z].sort());
      expect(fixed.every((finding) => finding.fixed_scan_id === scans.b && finding.fixed_at !== null)).toBe(
        true,
      );
      const open = await allFindings({ repository, state: 'open' });
      expect(open.map((finding) => finding.id)).toEqual([ids.x]);

      expect(await summary({ repository })).toEqual({
        total: { open: 1, fixed: 2 },
        by_severity: {
          critical: { open: 0, fixed: 1 },
          high: { open: 1, fixed: 0 },
          medium: { open: 0, fixed: 0 },
          low: { open: 0, fixed: 1 },
          info: { open: 0, fixed: 0 },
        },
      });
    });

    it('scan C reports all three again: two reopened, each with its history newest first', async () => {
      const answer = await send(scanA);
      scans.c = answer.scan_id;
      expect(answer).toMatchObject({ results: 3, new: 0, unchanged: 1, fixed: 0, reopened: 2 });
      expect((await allFindings({ repository, state: 'open' })).map((finding) => finding.id).sort()).toEqual(
        Object.values(ids).sort(),
      );

      const detail = await get<FindingDetail>(`/api/v1/findings/${ids.y}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({ id: ids.y, state: 'open', fixed_at: null, occurrences: 3 });
      expect(detail.body.history.map(({ event, scan_id }) => ({ event, scan_id }))).toEqual([
        { event: 'reopened', scan_id: scans.c },
        { event: 'fixed', scan_id: scans.b },
        { event: 'seen', scan_id: scans.again },
        { event: 'new', scan_id: scans.a },
      ]);
      expect(detail.body.history_total).toBe(4);
      const times = detail.body.history.map((entry) => Date.parse(entry.at));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
    });

    it('a scan of another ref and a scan of another tool close nothing', async () => {
      const otherRef = await send(gitleaks([x]), { repository, ref: 'refs/heads/dev' });
      expect(otherRef).toMatchObject({ results: 1, new: 1, fixed: 0 });
      const otherTool = await send(
        gzipJson(
          sarifLog([
            {
              tool: 'semgrep',
              rules: [{ id: 'js.eval', securitySeverity: '7.0' }],
              results: [{ rule: 'js.eval', path: 'src/client.ts', line: 5, fingerprint: 'w' }],
            },
          ]),
        ),
      );
      expect(otherTool).toMatchObject({ results: 1, new: 1, fixed: 0 });
      const gitleaksMain = await allFindings({ repository, ref: main, tool: 'gitleaks' });
      expect(gitleaksMain.map((finding) => [finding.id, finding.state]).sort()).toEqual(
        Object.values(ids)
          .sort()
          .map((id) => [id, 'open']),
      );
    });

    it('filters findings by state, severity, tool, rule, repository, ref, path prefix and scan', async () => {
      const idsOf = async (query: Record<string, string>) =>
        (await allFindings(query))
          .map((finding) => `${finding.ref}:${finding.tool}:${finding.rule_id}`)
          .sort();

      expect(await idsOf({ repository })).toEqual([
        'refs/heads/dev:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:generic-token',
        'refs/heads/main:gitleaks:slack-webhook',
        'refs/heads/main:semgrep:js.eval',
      ]);
      // The repository is spelt as uploads spell it, `.git` or not.
      expect(await idsOf({ repository: `${repository}.git` })).toEqual(await idsOf({ repository }));
      expect(await idsOf({ repository, state: 'fixed' })).toEqual([]);
      expect(await idsOf({ repository, severity: 'high,critical' })).toEqual([
        'refs/heads/dev:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:slack-webhook',
        'refs/heads/main:semgrep:js.eval',
      ]);
      expect(await idsOf({ repository, severity: 'low' })).toEqual([
        'refs/heads/main:gitleaks:generic-token',
      ]);
      expect(await idsOf({ repository, tool: 'semgrep' })).toEqual(['refs/heads/main:semgrep:js.eval']);
      expect(await idsOf({ repository, rule: 'aws-access-key' })).toEqual([
        'refs/heads/dev:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:aws-access-key',
      ]);
      expect(await idsOf({ repository, ref: 'refs/heads/dev' })).toEqual([
        'refs/heads/dev:gitleaks:aws-access-key',
      ]);
      expect(await idsOf({ repository, ref: main, path_prefix: 'config/' })).toEqual([
        'refs/heads/main:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:slack-webhook',
      ]);
      // What a scan reported, whatever happened since; scan B did not report the two it fixed.
      expect(await idsOf({ scan: scans.b })).toEqual(['refs/heads/main:gitleaks:aws-access-key']);
      expect(await idsOf({ scan: scans.a })).toEqual([
        'refs/heads/main:gitleaks:aws-access-key',
        'refs/heads/main:gitleaks:generic-token',
        'refs/heads/main:gitleaks:slack-webhook',
      ]);
      const refused = await get('/api/v1/findings', { severity: 'urgent' });
      expectError(refused, 400, 'validation_failed');
    });

    it('pages through every finding one at a time, in the same stable order, each once', async () => {
      const everything = await allFindings({ repository });
      const paged: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response: JsonResponse<Page<Finding>> = await get<Page<Finding>>('/api/v1/findings', {
          repository,
          limit: '1',
          ...(cursor ? { cursor } : {}),
        });
        expect(response.status).toBe(200);
        expect(response.body.data.length).toBeLessThanOrEqual(1);
        paged.push(...response.body.data.map((finding) => finding.id));
        cursor = response.body.next_cursor;
        pages += 1;
      } while (cursor && pages < 20);
      expect(cursor).toBeNull();
      expect(paged).toEqual(everything.map((finding) => finding.id));
      expect(new Set(paged).size).toBe(5);
    });

    it('counts findings by severity and state, also per tool', async () => {
      const counts = await summary({ repository, group_by: 'tool' });
      expect(counts.total).toEqual({ open: 5, fixed: 0 });
      expect(counts.by_severity).toEqual({
        critical: { open: 1, fixed: 0 },
        high: { open: 3, fixed: 0 },
        medium: { open: 0, fixed: 0 },
        low: { open: 1, fixed: 0 },
        info: { open: 0, fixed: 0 },
      });
      expect(counts.groups?.map((group) => [group['tool'], group.total])).toEqual([
        ['gitleaks', { open: 4, fixed: 0 }],
        ['semgrep', { open: 1, fixed: 0 }],
      ]);
      expect((await summary({ repository, ref: main, tool: 'gitleaks' })).total).toEqual({
        open: 3,
        fixed: 0,
      });
    });
  });

  describe('Idempotency-Key across two findings-service instances', () => {
    const repository = 'acme/idempotent';
    const document = gzipJson(sarifLog([{ tool: 'semgrep', results: numberedResults(2, 'idempotent') }]));

    const sendTo = (instance: number, body: Buffer, key: string, headers: Record<string, string> = {}) =>
      upload(body, {
        type: SARIF,
        encoding: 'gzip',
        query: { repository },
        headers: { 'idempotency-key': key, ...headers },
        baseUrl: suite.findings[instance].url,
      });

    const scansOf = async (repositoryName: string) => {
      const response = await get<Page<Scan>>('/api/v1/scans', { repository: repositoryName, limit: '100' });
      expect(response.status).toBe(200);
      return response.body.data;
    };

    it('replays the first answer on the other instance and stores one scan; another body is 422', async () => {
      const key = unique('pipeline-run');
      const first = await sendTo(0, document, key);
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();

      const replay = await sendTo(1, document, key);
      expect({ status: replay.status, body: replay.body }).toEqual({
        status: first.status,
        body: first.body,
      });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');

      const scans = await scansOf(repository);
      expect(scans.map((scan) => scan.id)).toEqual([first.body.scan_id]);
      expect(await allFindings({ repository })).toHaveLength(2);

      const other = gzipJson(sarifLog([{ tool: 'semgrep', results: numberedResults(3, 'idempotent') }]));
      const reused = expectError(await sendTo(1, other, key), 422, 'idempotency_key_reused');
      expect(reused.message).toContain('Idempotency-Key');
      expect(await scansOf(repository)).toHaveLength(1);
    });

    it('replays a 202 with its Location, on either instance and through the gateway', async () => {
      const key = unique('async-run');
      const asyncRepository = 'acme/idempotent-async';
      const body = gzipJson(sarifLog([{ tool: 'semgrep', results: numberedResults(4, 'async') }]));
      const send = (baseUrl: string) =>
        upload(body, {
          type: SARIF,
          encoding: 'gzip',
          query: { repository: asyncRepository },
          headers: { 'idempotency-key': key, prefer: 'respond-async' },
          baseUrl,
        });

      const first = await send(suite.findings[0].url);
      expect(first.status).toBe(202);
      expect(first.body).toEqual({
        scan_id: expect.any(String),
        status: 'queued',
        results: 0,
        new: 0,
        unchanged: 0,
        fixed: 0,
        reopened: 0,
      });
      const location = `/api/v1/scans/${first.body.scan_id}`;
      expect(first.headers.get('location')).toBe(location);
      storedScanIds.push(first.body.scan_id);

      for (const baseUrl of [suite.findings[1].url, gw]) {
        const replay = await send(baseUrl);
        expect({ status: replay.status, body: replay.body }).toEqual({ status: 202, body: first.body });
        expect(replay.headers.get('location')).toBe(location);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
      }
      expect((await scansOf(asyncRepository)).map((scan) => [scan.id, scan.status])).toEqual([
        [first.body.scan_id, 'queued'],
      ]);
    });
  });

  describe('a stored upload that breaks a limit', () => {
    it('is answered 202 (it is large), and refused when processed: see the crash test, whose workers do it', async () => {
      const document = sarifLog([
        { tool: 'noisy', results: numberedResults(LIMITS.SCAN_MAX_RESULTS_PER_RUN + 1, 'noisy') },
      ]);
      const body = gzipJson(document);
      expect(body.readUInt32LE(body.length - 4)).toBeGreaterThan(LIMITS.SCAN_SYNC_MAX_BYTES);
      const response = await upload(body, {
        type: SARIF,
        encoding: 'gzip',
        query: { repository: 'acme/noisy' },
      });
      expect(response.status).toBe(202);
      expect(response.headers.get('location')).toBe(`/api/v1/scans/${response.body.scan_id}`);
      overLimitScanId = response.body.scan_id;
      expect(await getScan(overLimitScanId)).toMatchObject({ status: 'queued', error: null });
    });
  });

  describe('a stored upload survives the death of the processes that received and processed it', () => {
    const repository = 'https://github.com/acme/crash-test';
    /** Results of the report, and how many of them repeat an earlier one. */
    const RESULTS = 10_000;
    const REPEATS = 25;

    it('is processed by the next process after a crash at 202 and one during processing, once', async () => {
      const body = gzipJson(
        largeSarifLog({
          results: RESULTS,
          repeats: REPEATS,
          tool: 'CodeQL',
          provenance: { repositoryUri: `${repository}.git`, branch: 'refs/heads/main', revisionId: 'c0ffee' },
        }),
      );
      // Stored and answered 202 by its size alone: its gzip trailer declares more than SCAN_SYNC_MAX_BYTES.
      expect(body.readUInt32LE(body.length - 4)).toBeGreaterThan(LIMITS.SCAN_SYNC_MAX_BYTES);
      expect(body.length).toBeLessThan(UPLOAD_LIMIT_BYTES);

      // R receives the upload and dies right after its answer.
      const receiver = await startOwnFindingsService({ SCAN_WORKER_ENABLED: 'false' });
      const accepted = await upload(body, { type: SARIF, encoding: 'gzip', baseUrl: receiver.url });
      expect(await receiver.signal('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      expect(accepted.status).toBe(202);
      const scanId = accepted.body.scan_id;
      storedScanIds.push(scanId);
      expect(accepted.headers.get('location')).toBe(`/api/v1/scans/${scanId}`);
      expect(await getScan(scanId)).toMatchObject({ status: 'queued', attempts: 0, results: 0 });

      // A starts processing it and dies in the middle.
      const interrupted = await startOwnFindingsService({ SCAN_WORKER_ENABLED: 'true' });
      const observer = suite.findings[0].url;
      let seen: Scan = await getScan(scanId, token, observer);
      const deadline = Date.now() + 30_000;
      while (seen.status === 'queued' && Date.now() < deadline) {
        await sleep(20);
        seen = await getScan(scanId, token, observer);
      }
      if (seen.status === 'processing') await interrupted.signal('SIGKILL');
      else await interrupted.stop();
      if (seen.status !== 'processing') {
        throw new Error(
          `The scan was never seen processing (status ${seen.status}, attempts ${seen.attempts}): it must take ` +
            'longer than the 20 ms polling interval for this test to interrupt it; make the report larger',
        );
      }
      const afterCrash = await getScan(scanId);
      if (afterCrash.status === 'completed') {
        throw new Error(
          'The scan completed between being seen processing and SIGKILL: make the report larger so that the ' +
            'test interrupts processing',
        );
      }
      expect(afterCrash).toMatchObject({ status: 'processing', attempts: 1, results: 0 });
      // Everything of a scan or none of it: the interrupted attempt left no finding.
      expect(await allFindings({ repository })).toEqual([]);

      // C takes it up by itself.
      const recovering = await startOwnFindingsService({ SCAN_WORKER_ENABLED: 'true' });
      let done = await getScan(scanId);
      const completedBy = Date.now() + 45_000;
      while ((done.status === 'queued' || done.status === 'processing') && Date.now() < completedBy) {
        await sleep(100);
        done = await getScan(scanId);
      }
      expect(done).toMatchObject({
        status: 'completed',
        error: null,
        results: RESULTS,
        new: RESULTS - REPEATS,
        unchanged: 0,
        fixed: 0,
        reopened: 0,
        repository,
        ref: 'refs/heads/main',
        commit: 'c0ffee',
        tools: [{ name: 'CodeQL', version: '2.17.0' }],
      });
      expect(done.attempts).toBeGreaterThanOrEqual(2);

      expect((await summary({ repository })).total).toEqual({ open: RESULTS - REPEATS, fixed: 0 });
      const database = new Client({ connectionString: suite.database.url });
      await database.connect();
      try {
        const [stored] = (
          await database.query<{ findings: number; identities: number; history: number; payloads: number }>(
            `SELECT (SELECT count(*)::int FROM findings WHERE repository = $1) AS findings,
                    (SELECT count(DISTINCT identity)::int FROM findings WHERE repository = $1) AS identities,
                    (SELECT count(*)::int FROM finding_history WHERE scan_id = $2) AS history,
                    (SELECT count(*)::int FROM scan_payloads WHERE scan_id = $2) AS payloads`,
            [repository, scanId],
          )
        ).rows;
        expect(stored).toEqual({
          findings: RESULTS - REPEATS,
          identities: RESULTS - REPEATS,
          history: RESULTS - REPEATS,
          // Dropped with the scan's completion.
          payloads: 0,
        });
      } finally {
        await database.end();
      }

      // Every other upload answered 202 in this file has been processed by now, by A or C.
      for (const id of storedScanIds) {
        expect(await getScan(id)).toMatchObject({ id, status: 'completed' });
      }
      for (const status of ['queued', 'processing']) {
        const waiting = await get<Page<Scan>>('/api/v1/scans', { status });
        expect(waiting.body.data).toEqual([]);
      }
      expect(await recovering.stop()).toBe(0);
    });

    it('the replayed 202 of the Idempotency-Key test was processed like any other', async () => {
      const findings = await allFindings({ repository: 'acme/idempotent-async' });
      expect(findings).toHaveLength(4);
    });

    it('the stored upload that breaks SCAN_MAX_RESULTS_PER_RUN failed with the refusal on its scan', async () => {
      const failed = await getScan(overLimitScanId);
      expect(failed).toMatchObject({
        status: 'failed',
        results: 0,
        error: {
          code: 'limit_exceeded',
          message: expect.stringContaining('SCAN_MAX_RESULTS_PER_RUN'),
          details: { limit: 'SCAN_MAX_RESULTS_PER_RUN', max: LIMITS.SCAN_MAX_RESULTS_PER_RUN },
        },
      });
      expect(failed.completed_at).not.toBeNull();
      expect(await allFindings({ repository: 'acme/noisy' })).toEqual([]);
    });
  });

  describe('isolation between organizations', () => {
    let globex: BootstrapOutput;
    let globexToken: string;

    beforeAll(async () => {
      globex = await suite.bootstrap('globex-scans');
      globexToken = await m2mToken(globex);
    });

    it("answers 404 for another organization's scans and findings, and lists none of them", async () => {
      const [acmeScan] = (await get<Page<Scan>>('/api/v1/scans', { limit: '1' })).body.data;
      const [acmeFinding] = await allFindings({ repository: 'acme/tracking' });
      expect(acmeScan).toBeDefined();
      expect(acmeFinding).toBeDefined();

      expectError(await get(`/api/v1/scans/${acmeScan.id}`, {}, globexToken), 404, 'scan_not_found');
      expectError(await get(`/api/v1/findings/${acmeFinding.id}`, {}, globexToken), 404, 'finding_not_found');
      expect((await get<Page<Scan>>('/api/v1/scans', {}, globexToken)).body).toEqual({
        data: [],
        next_cursor: null,
      });
      expect((await get<Page<Finding>>('/api/v1/findings', {}, globexToken)).body).toEqual({
        data: [],
        next_cursor: null,
      });
      expect(
        (await get<Page<Finding>>('/api/v1/findings', { scan: acmeScan.id }, globexToken)).body.data,
      ).toEqual([]);
      expect((await summary({}, globexToken)).total).toEqual({ open: 0, fixed: 0 });
    });

    it('keeps uploads to the same repository name apart: they neither see nor close the other’s findings', async () => {
      const repository = 'acme/tracking';
      const before = await allFindings({ repository });
      const beforeSummary = await summary({ repository });

      // The same finding as acme's and one it does not have, in acme's repository, ref and tool.
      const body = gzipJson(
        sarifLog([
          {
            tool: 'gitleaks',
            results: [
              {
                rule: 'aws-access-key',
                path: 'config/deploy.env',
                line: 3,
                level: 'error',
                fingerprint: 'x',
              },
              { rule: 'private-key', path: 'keys/id_rsa', line: 1, fingerprint: 'globex-only' },
            ],
          },
        ]),
      );
      const response = await upload(body, {
        type: SARIF,
        encoding: 'gzip',
        query: { repository, ref: 'refs/heads/main' },
        token: globexToken,
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ results: 2, new: 2, unchanged: 0, fixed: 0, reopened: 0 });

      const globexFindings = await allFindings({ repository }, globexToken);
      expect(globexFindings).toHaveLength(2);
      const acmeIds = new Set(before.map((finding) => finding.id));
      expect(globexFindings.filter((finding) => acmeIds.has(finding.id))).toEqual([]);
      expect(globexFindings.every((finding) => finding.occurrences === 1 && finding.state === 'open')).toBe(
        true,
      );
      // Acme's findings are as they were, every field of them.
      expect(await allFindings({ repository })).toEqual(before);
      expect(await summary({ repository })).toEqual(beforeSummary);
      expectError(await get(`/api/v1/scans/${response.body.scan_id}`), 404, 'scan_not_found');
    });
  });

  describe('OpenAPI document through the gateway', () => {
    interface Operation {
      parameters?: { name: string; in: string; schema?: Record<string, unknown> }[];
      requestBody?: { content: Record<string, unknown> };
      responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
    }
    interface Document {
      paths: Record<string, Record<string, Operation>>;
    }

    it('documents the upload’s media types, headers and answers, and the scans and summary routes', async () => {
      const response = await request<Document>(`${gw}/api/docs`);
      expect(response.status).toBe(200);
      const { paths } = response.body;
      const uploadOperation = paths['/api/v1/findings']?.['post'];
      expect(uploadOperation).toBeDefined();
      expect(Object.keys(uploadOperation?.requestBody?.content ?? {})).toEqual(
        expect.arrayContaining(['application/json', 'application/sarif+json']),
      );
      const headers = (uploadOperation?.parameters ?? [])
        .filter((parameter) => parameter.in === 'header')
        .map((parameter) => parameter.name);
      expect(headers).toEqual(expect.arrayContaining(['Idempotency-Key', 'Content-Encoding']));
      expect(uploadOperation?.responses).toHaveProperty('201');
      expect(uploadOperation?.responses).toHaveProperty('202');
      expect(Object.keys(uploadOperation?.responses['202']?.headers ?? {})).toContain('Location');
      expect(Object.keys(uploadOperation?.responses ?? {})).toEqual(
        expect.arrayContaining(['413', '415', '422']),
      );
      expect(paths['/api/v1/scans/{id}']?.['get']).toBeDefined();
      expect(paths['/api/v1/scans']?.['get']).toBeDefined();
      expect(paths['/api/v1/findings/summary']?.['get']).toBeDefined();
      expect(paths['/api/v1/findings/{id}']?.['get']).toBeDefined();
    });
  });

  describe('logs', () => {
    it('findings-service logged no unexpected error through all of the above', () => {
      for (const service of [...suite.findings, ...ownProcesses]) {
        expect({ url: service.url, errors: errorLines(service) }).toEqual({ url: service.url, errors: [] });
      }
    });
  });
});
