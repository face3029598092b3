import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GatehouseError } from '@gatehouse/contracts';
import { openUpload, type UploadReaderOptions } from './upload-reader';
import type { MappedFinding, RunContext } from './upload.types';

/**
 * The SARIF mapping, on real scanner output (fixtures/README.md says how each file was made) and on hand-written
 * edge cases, read through openUpload as findings-service reads an upload.
 */

const MiB = 1024 * 1024;

function fixture(name: string): Buffer {
  return readFileSync(join(__dirname, 'fixtures', name));
}

function options(overrides: Partial<UploadReaderOptions> = {}): UploadReaderOptions {
  return {
    mediaType: 'application/sarif+json',
    coding: 'identity',
    limits: { decompressedBytes: 16 * MiB, runs: 20, resultsPerRun: 25_000 },
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
  const findings: MappedFinding[] = [];
  for await (const finding of upload.findings()) findings.push(finding);
  return { runs: upload.runs, findings };
}

async function refusal(document: unknown): Promise<GatehouseError> {
  const error = await read(document).then(
    () => new Error('expected the upload to be refused'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof GatehouseError)) throw error;
  return error;
}

type Json = Record<string, unknown>;

const RULES = [
  {
    id: 'demo/xss',
    name: 'XssRule',
    shortDescription: { text: 'Cross-site scripting' },
    properties: { tags: ['security', 'external/cwe/cwe-079'], 'security-severity': '6.1' },
  },
  {
    id: 'demo/style',
    defaultConfiguration: { level: 'note' },
    messageStrings: { default: { text: 'Rename {0} to {1} ({{style}})' } },
  },
];

function sarifOf(results: unknown[], run: Json = {}): Json {
  return {
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'demo', version: '1.0', rules: RULES } }, results, ...run }],
  };
}

function at(path: string, line?: number): Json {
  return {
    physicalLocation: { artifactLocation: { uri: path }, ...(line ? { region: { startLine: line } } : {}) },
  };
}

async function only(result: Json, run: Json = {}): Promise<MappedFinding> {
  const { findings } = await read(sarifOf([result], run));
  expect(findings).toHaveLength(1);
  return findings[0];
}

describe('real scanner output', () => {
  it('Flawfinder: rules by id, fingerprints, CWE from relationships, uriBaseId without a declaration', async () => {
    const { runs, findings } = await read(fixture('flawfinder.sarif'));
    expect(runs).toEqual([
      {
        index: 0,
        tool: 'Flawfinder',
        toolVersion: '2.0.19',
        repository: null,
        commit: null,
        ref: null,
        automationId: null,
      },
    ]);
    expect(findings).toHaveLength(8);
    expect(findings.every((finding) => finding.identitySource === 'fingerprints')).toBe(true);
    expect(new Set(findings.map((finding) => finding.identity)).size).toBe(8);
    expect(findings[2]).toEqual({
      runIndex: 0,
      resultIndex: 2,
      identity: expect.stringMatching(/^[0-9a-f]{64}$/),
      identitySource: 'fingerprints',
      tool: 'Flawfinder',
      ruleId: 'FF1001',
      title: 'Does not check for buffer overflows when copying to destination [MS-banned] (CWE-120).',
      description:
        'buffer/strcpy:Does not check for buffer overflows when copying to destination [MS-banned] (CWE-120).',
      severity: 'high',
      location: { path: 'copy.c', start_line: 12, start_column: 3 },
      rule: {
        name: 'buffer/strcpy',
        help: null,
        helpUri: 'https://cwe.mitre.org/data/definitions/120.html',
        tags: [],
        cwe: ['CWE-120'],
      },
      metadata: { level: 'error' },
    });
    expect(findings.map((finding) => finding.severity)).toEqual([
      'low',
      'low',
      'high',
      'high',
      'high',
      'high',
      'medium',
      'high',
    ]);
    expect(findings[0].rule.cwe).toEqual(['CWE-119', 'CWE-120']);
  });

  it('ESLint: absolute file URIs kept as paths, ruleIndex, identity computed from the line', async () => {
    const { runs, findings } = await read(fixture('eslint.sarif'));
    expect(runs[0]).toMatchObject({ tool: 'ESLint', toolVersion: '9.39.5' });
    expect(findings.map((finding) => finding.ruleId)).toEqual([
      'no-unused-vars',
      'eqeqeq',
      'no-eval',
      'no-debugger',
      'no-cond-assign',
      'no-constant-condition',
      'no-undef',
    ]);
    expect(findings[1]).toMatchObject({
      title: 'Require the use of `===` and `!==`',
      description: "Expected '===' and instead saw '=='.",
      severity: 'medium',
      identitySource: 'computed',
      location: { path: '/tmp/m6sarif/eslint/src/app.js', start_line: 6, end_line: 6, start_column: 12 },
      rule: { name: null, helpUri: 'https://eslint.org/docs/latest/rules/eqeqeq', tags: [], cwe: [] },
    });
    // Two rules on one line are two findings.
    expect(findings[4].identity).not.toBe(findings[5].identity);
  });

  it('secretlint: rule ids with spaces, relative URIs, masked secrets', async () => {
    const { runs, findings } = await read(fixture('secretlint.sarif'));
    expect(runs[0].tool).toBe('secretlint');
    expect(findings.map((finding) => [finding.location?.path, finding.severity])).toEqual([
      ['config/deploy.env', 'high'],
      ['config/deploy.env', 'high'],
      ['config/deploy.env', 'high'],
      ['config/id_rsa', 'high'],
    ]);
    expect(findings[3]).toMatchObject({
      ruleId: '@secretlint/secretlint-rule-preset-recommend > @secretlint/secretlint-rule-privatekey',
      location: { path: 'config/id_rsa', start_line: 1, end_line: 9, start_column: 1 },
    });
  });

  it('CodeQL (hand-made): extension rules, security-severity, CWE tags, partialFingerprints, run context', async () => {
    const { runs, findings } = await read(fixture('codeql-javascript.sarif'));
    expect(runs).toEqual([
      {
        index: 0,
        tool: 'CodeQL',
        toolVersion: '2.17.6',
        repository: 'https://github.com/acme/shop',
        commit: '3f6a1c2e9b0d4e5f8a7b6c5d4e3f2a1b0c9d8e7f',
        ref: 'refs/heads/main',
        automationId: '.github/workflows/codeql.yml:analyze/language:javascript/',
      },
    ]);
    expect(findings).toHaveLength(3);
    expect(findings[0]).toMatchObject({
      ruleId: 'js/reflected-xss',
      title: 'Reflected cross-site scripting',
      description: 'Cross-site scripting vulnerability due to a [user-provided value](1).',
      severity: 'high',
      identitySource: 'partialFingerprints',
      location: { path: 'src/server.js', start_line: 14, start_column: 12 },
      rule: {
        name: 'js/reflected-xss',
        help: expect.stringMatching(/^# Reflected cross-site scripting\nDirectly writing user input/),
        tags: ['security', 'external/cwe/cwe-079', 'external/cwe/cwe-116'],
        cwe: ['CWE-79', 'CWE-116'],
      },
      metadata: { level: 'error', security_severity: 7.8, precision: 'high' },
    });
    expect(findings[1]).toMatchObject({
      severity: 'high',
      location: { path: 'src/db/users.js', start_line: 8, end_line: 9 },
    });
    expect(findings[1].rule.cwe).toEqual(['CWE-89', 'CWE-90', 'CWE-943']);
    expect(findings[2]).toMatchObject({
      severity: 'low',
      rule: { cwe: [] },
      metadata: { level: 'note', precision: 'very-high' },
    });
  });

  it('maps every fixture the same way twice, gzip or not (the identity is stable)', async () => {
    for (const name of ['flawfinder.sarif', 'eslint.sarif', 'secretlint.sarif', 'codeql-javascript.sarif']) {
      const plain = await read(fixture(name));
      const gzipped = await read(gzipSync(fixture(name)), { coding: 'gzip', mediaType: 'application/json' });
      expect(gzipped).toEqual(plain);
    }
  });

  it('maps the same with tool, provenance and base URIs after the results in key order', async () => {
    const original = JSON.parse(fixture('codeql-javascript.sarif').toString()) as { runs: Json[] };
    const { results, ...header } = original.runs[0];
    const reordered = { runs: [{ results, ...header }], version: '2.1.0' };
    expect(Object.keys(reordered.runs[0])[0]).toBe('results');
    expect(await read(reordered)).toEqual(await read(original));
  });
});

describe('locations and paths', () => {
  it('gives no location to a result without one, its identity from the message', async () => {
    for (const locations of [undefined, [], [{ logicalLocations: [{ fullyQualifiedName: 'Main.run' }] }]]) {
      const finding = await only({ ruleId: 'demo/xss', message: { text: 'Somewhere' }, locations });
      expect(finding.location).toBeNull();
      expect(finding.identitySource).toBe('computed');
    }
    const a = await only({ ruleId: 'demo/xss', message: { text: 'Somewhere' } });
    const b = await only({ ruleId: 'demo/xss', message: { text: 'Elsewhere' } });
    expect(a.identity).not.toBe(b.identity);
  });

  it('resolves uriBaseIds to repository-relative paths', async () => {
    const bases = {
      originalUriBaseIds: {
        SRCROOT: { uri: 'file:///home/runner/work/app/app/' },
        WEB: { uri: 'web/', uriBaseId: 'SRCROOT' },
        STATIC: { uri: 'static', uriBaseId: 'WEB' },
        LIB: { uri: 'file:///home/runner/work/app/app/lib/' },
        LOOP: { uri: 'loop/', uriBaseId: 'LOOP' },
      },
    };
    const uris: [Json, string][] = [
      [{ uri: 'src/a.js', uriBaseId: 'SRCROOT' }, 'src/a.js'],
      [{ uri: 'a.js', uriBaseId: 'WEB' }, 'web/a.js'],
      [{ uri: 'img/b.png', uriBaseId: 'STATIC' }, 'web/static/img/b.png'],
      [{ uri: 'c.js', uriBaseId: 'LIB' }, 'lib/c.js'],
      [{ uri: 'd.js', uriBaseId: 'UNDECLARED' }, 'd.js'],
      [{ uri: 'file:///home/runner/work/app/app/src/e.js' }, 'src/e.js'],
      [{ uri: 'file:///usr/include/stdio.h' }, '/usr/include/stdio.h'],
      [{ uri: 'file:///C:/build/app/main.c' }, 'C:/build/app/main.c'],
      [{ uri: 'src/my%20file%2B1.js' }, 'src/my file+1.js'],
      [{ uri: './src/f.js' }, 'src/f.js'],
      [{ uri: 'src/100%.js' }, 'src/100%.js'],
      [{ uri: 'https://example.com/app.js' }, 'https://example.com/app.js'],
    ];
    const { findings } = await read(
      sarifOf(
        uris.map(([artifactLocation]) => ({
          ruleId: 'demo/xss',
          message: { text: 'm' },
          locations: [{ physicalLocation: { artifactLocation } }],
        })),
        bases,
      ),
    );
    expect(findings.map((finding) => finding.location?.path)).toEqual(uris.map(([, path]) => path));
    const looped = await only(
      {
        ruleId: 'demo/xss',
        locations: [{ physicalLocation: { artifactLocation: { uri: 'x.js', uriBaseId: 'LOOP' } } }],
      },
      bases,
    );
    expect(looped.location?.path).toBe(`${'loop/'.repeat(9)}x.js`);
  });

  it('finds the URI of artifactLocation.index in run.artifacts, and refuses an index that is not there', async () => {
    const run = {
      artifacts: [{ location: { uri: 'src/zero.c' } }, { location: { uri: 'one.c', uriBaseId: 'SRC' } }],
      originalUriBaseIds: { SRC: { uri: 'src/' } },
    };
    const finding = await only(
      {
        ruleId: 'demo/xss',
        locations: [{ physicalLocation: { artifactLocation: { index: 1 }, region: { startLine: 3 } } }],
      },
      run,
    );
    expect(finding.location).toEqual({ path: 'src/one.c', start_line: 3 });
    const error = await refusal(
      sarifOf(
        [{ ruleId: 'demo/xss', locations: [{ physicalLocation: { artifactLocation: { index: 7 } } }] }],
        run,
      ),
    );
    expect(error.code).toBe('invalid_sarif');
    expect(error.message).toBe(
      'runs[0].results[0].locations[0].physicalLocation.artifactLocation.index: runs[0].artifacts has no artifact 7',
    );
  });

  it('keeps valid lines and columns, ignores the others', async () => {
    const finding = await only({
      ruleId: 'demo/xss',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'a.c' },
            region: { startLine: 4, endLine: '9', startColumn: 0 },
          },
        },
      ],
    });
    expect(finding.location).toEqual({ path: 'a.c', start_line: 4 });
  });
});

describe('rules and messages', () => {
  it('refuses a result that names no rule, saying where', async () => {
    const error = await refusal(sarifOf([{ ruleId: 'demo/xss' }, { message: { text: 'no rule' } }]));
    expect(error.code).toBe('invalid_sarif');
    expect(error.message).toBe(
      'runs[0].results[1]: has no rule id: neither ruleId, rule.id nor a rule at ruleIndex names one',
    );
    expect(error.details).toEqual({ pointer: '/runs/0/results/1' });
    const badIndex = await refusal(sarifOf([{ ruleIndex: 9 }]));
    expect(badIndex.message).toMatch(/\(its tool has no rule at index 9\)$/);
  });

  it('finds the rule by ruleIndex, rule.index or rule.id', async () => {
    expect((await only({ ruleIndex: 1 })).ruleId).toBe('demo/style');
    expect((await only({ rule: { index: 0 } })).title).toBe('Cross-site scripting');
    expect((await only({ rule: { id: 'demo/xss' } })).rule.name).toBe('XssRule');
  });

  it('finds rules of a tool extension named by rule.toolComponent', async () => {
    const tool = {
      driver: { name: 'engine', rules: [] },
      extensions: [
        { name: 'pack-a', rules: [{ id: 'a/one', shortDescription: { text: 'A one' } }] },
        { name: 'pack-b', guid: 'B-GUID', rules: [{ id: 'b/one', shortDescription: { text: 'B one' } }] },
      ],
    };
    const document = {
      version: '2.1.0',
      runs: [
        {
          tool,
          results: [
            { rule: { index: 0, toolComponent: { index: 1 } } },
            { ruleId: 'a/one', rule: { index: 0, toolComponent: { name: 'pack-a' } } },
            { rule: { index: 0, toolComponent: { guid: 'B-GUID' } } },
            { ruleId: 'b/one' },
          ],
        },
      ],
    };
    const { findings } = await read(document);
    expect(findings.map((finding) => [finding.ruleId, finding.title])).toEqual([
      ['b/one', 'B one'],
      ['a/one', 'A one'],
      ['b/one', 'B one'],
      ['b/one', 'B one'],
    ]);
  });

  it("takes the title from the rule's short description, else its name, else the message's first line", async () => {
    expect((await only({ ruleId: 'demo/xss', message: { text: 'Tainted' } })).title).toBe(
      'Cross-site scripting',
    );
    expect((await only({ ruleId: 'other', message: { text: '\n  First line  \nSecond line' } })).title).toBe(
      'First line',
    );
    expect((await only({ ruleId: 'other' })).title).toBe('other');
  });

  it('takes the message from text, else markdown, else the rule’s messageStrings with arguments', async () => {
    expect((await only({ ruleId: 'demo/xss', message: { markdown: '**Bold** claim' } })).description).toBe(
      '**Bold** claim',
    );
    const templated = await only({
      ruleIndex: 1,
      message: { id: 'default', arguments: ['fooBar', 'foo_bar'] },
    });
    expect(templated.description).toBe('Rename fooBar to foo_bar ({style})');
    expect(
      (await only({ ruleId: 'demo/xss', message: { text: 'Value {0} used', arguments: ['x'] } })).description,
    ).toBe('Value x used');
    expect((await only({ ruleId: 'demo/xss', message: { text: 'Literal {0} and {{' } })).description).toBe(
      'Literal {0} and {{',
    );
    expect((await only({ ruleId: 'demo/xss', message: { text: '   ' } })).description).toBeNull();
  });

  it('cuts a huge message to 10 000 characters and its title to 500', async () => {
    const finding = await only({ ruleId: 'other', message: { text: 'word '.repeat(400_000) } });
    expect(finding.description).toHaveLength(10_000);
    expect(finding.description?.endsWith('…')).toBe(true);
    expect(finding.title).toHaveLength(500);
  });

  it('merges rule and result tags and finds CWE ids in the forms tools write them', async () => {
    const tool = {
      driver: {
        name: 'semgrep',
        rules: [
          {
            id: 'r',
            properties: {
              tags: [
                'CWE-89: Improper Neutralization of Special Elements used in an SQL Command',
                'security',
              ],
              cwe: [22, 'CWE-1004'],
            },
          },
        ],
      },
    };
    const { findings } = await read({
      version: '2.1.0',
      runs: [
        {
          tool,
          results: [
            {
              ruleId: 'r',
              properties: { tags: ['security', 'external/cwe/cwe-079', 'cwe_352', 'not-a-cwe-1'] },
            },
          ],
        },
      ],
    });
    expect(findings[0].rule.tags).toEqual([
      'CWE-89: Improper Neutralization of Special Elements used in an SQL Command',
      'security',
      'external/cwe/cwe-079',
      'cwe_352',
      'not-a-cwe-1',
    ]);
    expect(findings[0].rule.cwe).toEqual(['CWE-22', 'CWE-79', 'CWE-89', 'CWE-352', 'CWE-1004']);
  });
});

describe('severity', () => {
  it("uses the result's security-severity over the rule's, then levels", async () => {
    expect((await only({ ruleId: 'demo/xss' })).severity).toBe('medium');
    expect((await only({ ruleId: 'demo/xss', properties: { 'security-severity': 9.3 } })).severity).toBe(
      'critical',
    );
    expect((await only({ ruleId: 'demo/style' })).severity).toBe('low');
    expect((await only({ ruleId: 'demo/style', level: 'error' })).severity).toBe('high');
    expect((await only({ ruleId: 'other' })).severity).toBe('medium');
    expect((await only({ ruleId: 'other', level: 'none' })).metadata).toEqual({ level: 'none' });
  });
});

describe('results that are not findings', () => {
  it('skips kinds other than fail, suppressed results and absent baseline results', async () => {
    const results = [
      { ruleId: 'demo/xss', kind: 'pass' },
      { ruleId: 'demo/xss', kind: 'notApplicable' },
      { ruleId: 'demo/xss', kind: 'informational' },
      { ruleId: 'demo/xss', kind: 'review' },
      { ruleId: 'demo/xss', kind: 'open' },
      { ruleId: 'demo/xss', kind: 'fail', message: { text: 'kept: fail' } },
      { ruleId: 'demo/xss', suppressions: [{ kind: 'inSource' }] },
      { ruleId: 'demo/xss', suppressions: [{ kind: 'external', status: 'accepted' }] },
      {
        ruleId: 'demo/xss',
        suppressions: [{ kind: 'external', status: 'underReview' }],
        message: { text: 'kept: under review' },
      },
      {
        ruleId: 'demo/xss',
        suppressions: [{ kind: 'inSource' }, { kind: 'external', status: 'rejected' }],
        message: { text: 'kept: rejected' },
      },
      { ruleId: 'demo/xss', suppressions: [], message: { text: 'kept: no suppression' } },
      { ruleId: 'demo/xss', baselineState: 'absent' },
      { ruleId: 'demo/xss', baselineState: 'unchanged', message: { text: 'kept: unchanged' } },
    ];
    const { findings } = await read(sarifOf(results));
    expect(findings.map((finding) => [finding.resultIndex, finding.description])).toEqual([
      [5, 'kept: fail'],
      [8, 'kept: under review'],
      [9, 'kept: rejected'],
      [10, 'kept: no suppression'],
      [12, 'kept: unchanged'],
    ]);
    expect(findings[0].metadata).toMatchObject({ kind: 'fail' });
  });
});

describe('identity', () => {
  it('prefers fingerprints, then partialFingerprints, then computes', async () => {
    const both = await only({
      ruleId: 'demo/xss',
      fingerprints: { v1: 'f' },
      partialFingerprints: { p: '1' },
      locations: [at('a.js', 1)],
    });
    const partial = await only({
      ruleId: 'demo/xss',
      partialFingerprints: { p: '1' },
      locations: [at('a.js', 1)],
    });
    const computed = await only({ ruleId: 'demo/xss', locations: [at('a.js', 1)] });
    expect([both.identitySource, partial.identitySource, computed.identitySource]).toEqual([
      'fingerprints',
      'partialFingerprints',
      'computed',
    ]);
    const moved = await only({ ruleId: 'demo/xss', fingerprints: { v1: 'f' }, locations: [at('b.js', 90)] });
    expect(moved.identity).toBe(both.identity);
  });

  it('computes from the snippet, so a moved line keeps its identity', async () => {
    const region = (line: number, text: string): Json => ({
      physicalLocation: { artifactLocation: { uri: 'a.js' }, region: { startLine: line, snippet: { text } } },
    });
    const before = await only({ ruleId: 'demo/xss', locations: [region(3, 'eval(x)')] });
    const after = await only({ ruleId: 'demo/xss', locations: [region(30, '  eval(x)  ')] });
    expect(after.identity).toBe(before.identity);
  });

  it('depends on the tool, so the query tool decides which stream a result belongs to', async () => {
    const document = sarifOf([{ ruleId: 'demo/xss', locations: [at('a.js', 1)] }]);
    const declared = await read(document);
    const renamed = await read(document, { context: { tool: 'renamed' } });
    expect(renamed.findings[0].tool).toBe('renamed');
    expect(renamed.findings[0].identity).not.toBe(declared.findings[0].identity);
  });
});

describe('several runs', () => {
  it('maps each run with its own tool and rules', async () => {
    const document = {
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: 'first', rules: [{ id: 'x', shortDescription: { text: 'First X' } }] } },
          results: [{ ruleId: 'x' }],
        },
        {
          tool: { driver: { name: 'second', rules: [{ id: 'x', shortDescription: { text: 'Second X' } }] } },
          results: null,
        },
        {
          tool: { driver: { name: 'third', rules: [{ id: 'x', shortDescription: { text: 'Third X' } }] } },
          results: [{ ruleId: 'x' }, { ruleIndex: 0 }],
        },
      ],
    };
    const { runs, findings } = await read(document);
    expect(runs.map((run) => run.tool)).toEqual(['first', 'second', 'third']);
    expect(
      findings.map((finding) => [finding.runIndex, finding.resultIndex, finding.tool, finding.title]),
    ).toEqual([
      [0, 0, 'first', 'First X'],
      [2, 0, 'third', 'Third X'],
      [2, 1, 'third', 'Third X'],
    ]);
  });
});

describe('malformed SARIF, refused with where', () => {
  it.each<[string, Json, string, string]>([
    [
      'results not an array',
      { version: '2.1.0', runs: [{ results: {} }] },
      'runs[0].results: must be an array',
      '/runs/0/results',
    ],
    ['a run not an object', { version: '2.1.0', runs: [{}, 'run'] }, 'runs[1]: must be an object', '/runs/1'],
    [
      'a result not an object',
      sarifOf([{ ruleId: 'demo/xss' }, 7]),
      'runs[0].results[1]: must be an object',
      '/runs/0/results/1',
    ],
    [
      'locations not an array',
      sarifOf([{ ruleId: 'demo/xss', locations: {} }]),
      'runs[0].results[0].locations: must be an array',
      '/runs/0/results/0/locations',
    ],
    [
      'a location not an object',
      sarifOf([{ ruleId: 'demo/xss', locations: ['a.js'] }]),
      'runs[0].results[0].locations[0]: must be an object',
      '/runs/0/results/0/locations/0',
    ],
    [
      'a region not an object',
      sarifOf([{ ruleId: 'demo/xss', locations: [{ physicalLocation: { region: [] } }] }]),
      'runs[0].results[0].locations[0].physicalLocation.region: must be an object',
      '/runs/0/results/0/locations/0/physicalLocation/region',
    ],
    [
      'message not an object',
      sarifOf([{ ruleId: 'demo/xss', message: 'text' }]),
      'runs[0].results[0].message: must be an object',
      '/runs/0/results/0/message',
    ],
    [
      'fingerprints not an object',
      sarifOf([{ ruleId: 'demo/xss', fingerprints: ['f'] }]),
      'runs[0].results[0].fingerprints: must be an object',
      '/runs/0/results/0/fingerprints',
    ],
    [
      'a rule not an object',
      { version: '2.1.0', runs: [{ tool: { driver: { name: 't', rules: ['r'] } } }] },
      'runs[0].tool.driver.rules[0]: must be an object',
      '/runs/0/tool/driver/rules/0',
    ],
    [
      'tool not an object',
      { version: '2.1.0', runs: [{ tool: 'eslint' }] },
      'runs[0].tool: must be an object',
      '/runs/0/tool',
    ],
    [
      'a base URI not an object',
      { version: '2.1.0', runs: [{ originalUriBaseIds: { 'SRC/ROOT': 'file:///x/' } }] },
      'runs[0].originalUriBaseIds.SRC/ROOT: must be an object',
      '/runs/0/originalUriBaseIds/SRC~1ROOT',
    ],
  ])('%s', async (_name, document, message, pointer) => {
    const error = await refusal(document);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_sarif');
    expect(error.message).toBe(message);
    expect(error.details).toEqual({ pointer });
  });

  it('refuses a key read twice in a run', async () => {
    const text = '{"version": "2.1.0", "runs": [{"results": [], "results": []}]}';
    const error = await refusal(Buffer.from(text));
    expect(error.message).toBe('runs[0].results: appears twice');
  });
});
