import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { GatehouseError } from '@gatehouse/contracts';
import { FindingDto } from '../dto/ingest-findings.dto';
import { acceptedFinding } from './native-reader';
import { openUpload, type UploadReaderOptions } from './upload-reader';
import type { MappedFinding, RunContext } from './upload.types';

const MiB = 1024 * 1024;

function options(overrides: Partial<UploadReaderOptions> = {}): UploadReaderOptions {
  return {
    mediaType: 'application/json',
    coding: 'identity',
    limits: { decompressedBytes: 16 * MiB, runs: 20, resultsPerRun: 100 },
    context: {},
    ...overrides,
  };
}

async function read(
  document: unknown,
  overrides: Partial<UploadReaderOptions> = {},
): Promise<{ runs: RunContext[]; findings: MappedFinding[] }> {
  const body = Buffer.isBuffer(document) ? document : Buffer.from(JSON.stringify(document));
  const upload = await openUpload(body, options(overrides));
  expect(upload.format).toBe('native');
  const findings: MappedFinding[] = [];
  for await (const finding of upload.findings()) findings.push(finding);
  return { runs: upload.runs, findings };
}

async function refusal(
  document: unknown,
  overrides: Partial<UploadReaderOptions> = {},
): Promise<GatehouseError> {
  const error = await read(document, overrides).then(
    () => new Error('expected the upload to be refused'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof GatehouseError)) throw error;
  return error;
}

const sha256 = (tuple: unknown[]): string => createHash('sha256').update(JSON.stringify(tuple)).digest('hex');

const secret = {
  rule_id: 'hardcoded-secret',
  title: 'Hard-coded secret',
  severity: 'high',
  location: { path: 'src/config.ts', start_line: 12, end_line: 14 },
  description: 'An AWS key in source',
  tool: 'gitleaks',
  fingerprint: 'fp-123',
  metadata: { entropy: 4.2, tags: ['aws'] },
};

describe('native findings', () => {
  it('maps each finding as the API always accepted it, its run being the query context', async () => {
    const { runs, findings } = await read(
      {
        findings: [
          secret,
          { rule_id: 'todo', title: 'TODO left', severity: 'info', location: { path: 'a.md' } },
        ],
      },
      { context: { tool: 'pipeline', repository: 'acme/app', commit: 'abc', ref: 'main' } },
    );
    expect(runs).toEqual([
      { index: 0, tool: 'pipeline', toolVersion: null, repository: 'acme/app', commit: 'abc', ref: 'main' },
    ]);
    expect(findings[0]).toEqual({
      runIndex: 0,
      resultIndex: 0,
      identity: sha256(['fingerprint', 'gitleaks', 'hardcoded-secret', 'fp-123']),
      identitySource: 'fingerprint',
      fingerprint: 'fp-123',
      tool: 'gitleaks',
      ruleId: 'hardcoded-secret',
      title: 'Hard-coded secret',
      description: 'An AWS key in source',
      severity: 'high',
      location: { path: 'src/config.ts', start_line: 12, end_line: 14 },
      rule: { name: null, help: null, helpUri: null, tags: [], cwe: [] },
      metadata: { entropy: 4.2, tags: ['aws'] },
    });
    // Without a tool of its own a finding takes the query's; without a fingerprint its identity is computed.
    expect(findings[1]).toMatchObject({
      tool: 'pipeline',
      description: null,
      metadata: null,
      identity: sha256(['computed', 'pipeline', 'todo', 'a.md', null]),
      identitySource: 'computed',
    });
  });

  it("uses '' as the tool when neither the finding nor the query names one", async () => {
    const { runs, findings } = await read({
      findings: [{ ...secret, tool: undefined, fingerprint: undefined }],
    });
    expect(runs[0].tool).toBeNull();
    expect(findings[0].tool).toBe('');
    expect(findings[0].identity).toBe(sha256(['computed', '', 'hardcoded-secret', 'src/config.ts', 12]));
  });

  it('reads gzip bodies too', async () => {
    const { findings } = await read(gzipSync(JSON.stringify({ findings: [secret] })), { coding: 'gzip' });
    expect(findings).toHaveLength(1);
  });

  it('replaces NUL and lone surrogates, which PostgreSQL refuses, in every string and in metadata', async () => {
    const { findings } = await read({
      findings: [
        { ...secret, title: 'a\u0000b', description: 'x\ud800', metadata: { 'k\u0000': ['v\u0000'] } },
      ],
    });
    expect(findings[0]).toMatchObject({
      title: 'a\uFFFDb',
      description: 'x\uFFFD',
      metadata: { 'k\uFFFD': ['v\uFFFD'] },
    });
  });

  it('refuses an invalid finding, naming it and its field like the validation pipe', async () => {
    const error = await refusal({
      findings: [secret, { ...secret, severity: 'urgent', location: { path: '' } }],
    });
    expect(error.code).toBe('validation_failed');
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      'findings[1].severity: severity must be one of the following values: critical, high, medium, low, info; ' +
        'findings[1].location.path: path must be longer than or equal to 1 characters',
    );
    expect(error.details).toEqual([
      {
        field: 'findings[1].severity',
        problems: ['severity must be one of the following values: critical, high, medium, low, info'],
      },
      { field: 'findings[1].location.path', problems: ['path must be longer than or equal to 1 characters'] },
    ]);
  });

  it('refuses unknown fields, in a finding and beside findings', async () => {
    const inItem = await refusal({ findings: [{ ...secret, sevrity: 'high' }] });
    expect(inItem.message).toBe('findings[0].sevrity: property sevrity should not exist');
    const beside = await refusal({ findings: [secret], scanner: 'x' });
    expect(beside.message).toBe('scanner: property scanner should not exist');
  });

  it('refuses a finding that is not an object', async () => {
    expect((await refusal({ findings: [secret, 'oops'] })).message).toBe(
      'findings[1]: findings[1] must be an object',
    );
  });

  it('refuses an empty list and a findings that is not a list', async () => {
    expect((await refusal({ findings: [] })).message).toBe(
      'findings: findings must contain at least 1 elements',
    );
    expect((await refusal({ findings: { 0: secret } })).message).toBe('findings: findings must be an array');
  });

  it('refuses more findings than SCAN_MAX_RESULTS_PER_RUN with 422, before reading any', async () => {
    const error = await refusal({ findings: Array.from({ length: 101 }, () => 'not even valid') });
    expect(error.status).toBe(422);
    expect(error.message).toBe('findings: more than 100 findings (SCAN_MAX_RESULTS_PER_RUN)');
    expect(error.details).toEqual({ limit: 'SCAN_MAX_RESULTS_PER_RUN', max: 100 });
  });

  it('refuses a finding larger than 1 MiB (metadata is free-form)', async () => {
    const error = await refusal({
      findings: [{ ...secret, metadata: { blob: Array.from({ length: 40 }, () => 'x'.repeat(30_000)) } }],
    });
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toMatch(/^findings\[0\]: larger than/);
  });

  it('keeps free-form metadata as given, long strings whole, only NUL replaced', async () => {
    const blob = 'b'.repeat(5_000);
    const { findings } = await read({
      findings: [
        {
          rule_id: 'r',
          title: 't',
          severity: 'low',
          location: { path: 'a.ts' },
          metadata: { blob, nested: { list: [blob, 'x\u0000y'] } },
        },
      ],
    });
    expect(findings[0]?.metadata).toEqual({ blob, nested: { list: [blob, 'x\uFFFDy'] } });
  });
});

describe('acceptedFinding (the fast check of the common shape)', () => {
  const base = {
    rule_id: 'R1',
    title: 'Hard-coded secret',
    severity: 'high',
    location: { path: 'src/a.ts', start_line: 1, end_line: 3 },
  };
  /** What class-validator, with the ValidationPipe's options, says of the same fields. */
  const classValidatorAccepts = (fields: Record<string, unknown>): boolean =>
    validateSync(plainToInstance(FindingDto, fields), { whitelist: true, forbidNonWhitelisted: true })
      .length === 0;

  const variants: [string, Record<string, unknown>][] = [
    ['the common shape', base],
    ['with every optional field', { ...base, description: 'd', tool: 'gitleaks', fingerprint: 'f' }],
    ['an empty description', { ...base, description: '' }],
    ['no lines', { ...base, location: { path: 'a' } }],
    ['the longest texts', { ...base, rule_id: 'r'.repeat(200), title: 't'.repeat(500) }],
    ['a rule id too long', { ...base, rule_id: 'r'.repeat(201) }],
    ['an empty title', { ...base, title: '' }],
    ['an unknown severity', { ...base, severity: 'urgent' }],
    ['a number as title', { ...base, title: 7 }],
    ['an unknown field', { ...base, extra: 1 }],
    ['an unknown location field', { ...base, location: { path: 'a', column: 1 } }],
    ['line 0', { ...base, location: { path: 'a', start_line: 0 } }],
    ['a fractional line', { ...base, location: { path: 'a', end_line: 1.5 } }],
    ['a line too far', { ...base, location: { path: 'a', start_line: 10_000_001 } }],
    ['a line as text', { ...base, location: { path: 'a', start_line: '1' } }],
    ['a location that is a list', { ...base, location: ['a'] }],
    ['no location', { rule_id: 'R1', title: 't', severity: 'low' }],
    ['a null tool', { ...base, tool: null }],
    ['an empty tool', { ...base, tool: '' }],
    ['an emoji title (counted differently by validator.js)', { ...base, title: '🔑'.repeat(300) }],
    ['a lone variation selector', { ...base, rule_id: '\uFE0F' }],
  ];

  it.each(variants)('accepts only what class-validator accepts: %s', (_name, fields) => {
    const fast = acceptedFinding(fields);
    if (fast !== undefined) expect(classValidatorAccepts(fields)).toBe(true);
  });

  it('takes the common shapes itself, leaving class-validator for the rest', () => {
    expect(acceptedFinding(base)).toBe(base);
    expect(acceptedFinding({ ...base, description: 'd', tool: 'gitleaks', fingerprint: 'f' })).toBeDefined();
    expect(acceptedFinding({ ...base, title: '🔑' })).toBeUndefined();
    expect(acceptedFinding({ ...base, tool: null })).toBeUndefined();
  });

  it('maps a finding the same whichever path judged it', async () => {
    // A variation selector in the description sends the item to class-validator; the rest is the same.
    const plain = await read({ findings: [{ ...base, description: 'key' }] });
    const slow = await read({ findings: [{ ...base, description: 'key\uFE0F' }] });
    expect({ ...slow.findings[0], description: 'key', identity: undefined }).toEqual({
      ...plain.findings[0],
      identity: undefined,
    });
  });
});
