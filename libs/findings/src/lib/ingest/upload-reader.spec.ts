import { gzipSync } from 'node:zlib';
import { GatehouseError } from '@gatehouse/contracts';
import { CHUNK_BYTES } from './decompress';
import {
  JsonWalker,
  MAX_DEPTH,
  openUpload,
  parseUploadMediaType,
  readUpload,
  type UploadReaderOptions,
} from './upload-reader';
import type { MappedFinding, UploadEvent } from './upload.types';

const MiB = 1024 * 1024;

function options(overrides: Partial<UploadReaderOptions> = {}): UploadReaderOptions {
  return {
    mediaType: 'application/sarif+json',
    coding: 'identity',
    limits: { decompressedBytes: 16 * MiB, runs: 20, resultsPerRun: 25_000 },
    context: {},
    ...overrides,
  };
}

function bodyOf(document: unknown): Buffer {
  if (Buffer.isBuffer(document)) return document;
  return Buffer.from(typeof document === 'string' ? document : JSON.stringify(document));
}

async function findingsOf(
  document: unknown,
  overrides: Partial<UploadReaderOptions> = {},
): Promise<MappedFinding[]> {
  const upload = await openUpload(bodyOf(document), options(overrides));
  const findings: MappedFinding[] = [];
  for await (const finding of upload.findings()) findings.push(finding);
  return findings;
}

async function refusal(attempt: Promise<unknown>): Promise<GatehouseError> {
  const error = await attempt.then(
    () => new Error('expected the upload to be refused'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof GatehouseError)) throw error;
  return error;
}

function result(index: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ruleId: 'demo/rule',
    message: { text: `result ${index}` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: `src/f${index}.js` }, region: { startLine: index + 1 } },
      },
    ],
    ...extra,
  };
}

function sarif(runs: unknown[]): Record<string, unknown> {
  return { version: '2.1.0', runs };
}

function run(results: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tool: { driver: { name: 'demo', rules: [{ id: 'demo/rule', shortDescription: { text: 'Demo' } }] } },
    results,
    ...extra,
  };
}

describe('parseUploadMediaType', () => {
  it('accepts JSON and SARIF, ignoring parameters and case', () => {
    expect(parseUploadMediaType('application/json')).toBe('application/json');
    expect(parseUploadMediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(parseUploadMediaType('application/sarif+json;charset=UTF-8')).toBe('application/sarif+json');
  });

  it.each([
    undefined,
    '',
    'text/plain',
    'application/xml',
    'application/json-patch+json',
    'multipart/form-data',
  ])('refuses %p with 415 naming both accepted types', (header) => {
    try {
      parseUploadMediaType(header);
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(GatehouseError);
      expect((error as GatehouseError).code).toBe('unsupported_media_type');
      expect((error as GatehouseError).message).toMatch(/application\/json or application\/sarif\+json/);
    }
  });
});

describe('openUpload: JSON that is not', () => {
  it('says where invalid JSON breaks, as a byte offset', async () => {
    const text = '{"version": "2.1.0", "runs": [}';
    const error = await refusal(openUpload(bodyOf(text), options()));
    expect(error.code).toBe('malformed_json');
    expect(error.status).toBe(400);
    expect(error.message).toBe(`Request body is not valid JSON: unexpected "}" at byte ${text.indexOf('}')}`);
    expect(error.details).toEqual({ offset: text.indexOf('}') });
  });

  it('counts offsets across chunks and in gzip bodies', async () => {
    const text = `{"version": "2.1.0", ${' '.repeat(3 * CHUNK_BYTES)} "runs": [tru]}`;
    const offset = text.indexOf(']');
    for (const [body, coding] of [
      [bodyOf(text), 'identity'],
      [gzipSync(text), 'gzip'],
    ] as const) {
      const error = await refusal(openUpload(body, options({ coding })));
      expect(error.code).toBe('malformed_json');
      expect(error.details).toEqual({ offset });
    }
  });

  it.each([
    ['', 'the body is empty'],
    ['   \n', 'the body holds no JSON value'],
    ['{"version": "2.1.0", "runs": [', 'the body ends before the JSON value is complete'],
    ['{"version": "2.1', 'the body ends in the middle of a value'],
    ['{"version": "2.1.0", "runs": []} {}', 'unexpected "{" after the JSON value'],
    ['{"version" "2.1.0"}', 'unexpected string'],
    ['{"x": [1,,2]}', 'unexpected ","'],
    ['{"x": [1],}', 'unexpected "}"'],
  ])('refuses %p: %s', async (text, problem) => {
    const error = await refusal(openUpload(bodyOf(text), options()));
    expect(error.code).toBe('malformed_json');
    expect(error.message).toContain(problem);
  });

  it(`refuses nesting deeper than ${MAX_DEPTH} levels, even where nothing is read`, async () => {
    const deep = `{"version": "2.1.0", "x": ${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}, "runs": []}`;
    const error = await refusal(openUpload(bodyOf(deep), options()));
    expect(error.code).toBe('validation_failed');
    expect(error.message).toContain(`nested deeper than ${MAX_DEPTH} levels`);
  });

  it('refuses bytes that are not UTF-8, also inside parts that are skipped', async () => {
    const document = JSON.stringify(sarif([run([result(0, { codeFlows: [{ message: { text: 'XX' } }] })])]));
    const bytes = Buffer.from(document);
    const at = bytes.indexOf('XX');
    bytes[at] = 0xe9; // Latin-1 é: a lead byte that would swallow the next two bytes
    const error = await refusal(openUpload(bytes, options()));
    expect(error.code).toBe('malformed_json');
    expect(error.message).toMatch(/not valid UTF-8/);
  });

  it('accepts a UTF-8 byte order mark before the document', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bodyOf(sarif([run([result(0)])]))]);
    expect(await findingsOf(body)).toHaveLength(1);
  });
});

describe('openUpload: what the document is', () => {
  const native = { findings: [{ rule_id: 'r', title: 't', severity: 'low', location: { path: 'a' } }] };

  it('tells SARIF from native when sent as application/json', async () => {
    const json = options({ mediaType: 'application/json' });
    expect((await openUpload(bodyOf(sarif([run([])])), json)).format).toBe('sarif');
    expect((await openUpload(bodyOf(native), json)).format).toBe('native');
  });

  it('decides on the whole top level, whatever the key order', async () => {
    const upload = await openUpload(bodyOf({ runs: [run([result(0)])], version: '2.1.0' }), options());
    expect(upload.format).toBe('sarif');
  });

  it('refuses JSON that is neither, saying what is expected', async () => {
    for (const document of [{ foo: 1 }, [], '"text"', 12]) {
      const error = await refusal(openUpload(bodyOf(document), options({ mediaType: 'application/json' })));
      expect(error.code).toBe('validation_failed');
      expect(error.message).toMatch(/SARIF 2\.1\.0 log .*"runs".* or native findings .*"findings"/);
    }
  });

  it('refuses a SARIF of another version, naming it', async () => {
    const error = await refusal(
      openUpload(bodyOf({ version: '2.0.0', runs: [] }), options({ mediaType: 'application/json' })),
    );
    expect(error.code).toBe('invalid_sarif');
    expect(error.message).toBe('version: must be "2.1.0" (the only SARIF version accepted), not "2.0.0"');
    expect(error.details).toEqual({ pointer: '/version' });
    const missing = await refusal(openUpload(bodyOf({ runs: [] }), options()));
    expect(missing.message).toMatch(/^version: .* it has none$/);
  });

  it('refuses a SARIF body that is no SARIF log', async () => {
    expect((await refusal(openUpload(bodyOf([]), options()))).message).toBe(
      'The SARIF log: must be a JSON object',
    );
    expect((await refusal(openUpload(bodyOf({ version: '2.1.0' }), options()))).message).toBe(
      'runs: is missing',
    );
    const notAnArray = await refusal(openUpload(bodyOf({ version: '2.1.0', runs: {} }), options()));
    expect(notAnArray.message).toBe('runs: must be an array');
    expect(notAnArray.details).toEqual({ pointer: '/runs' });
  });

  it('refuses a second runs, which would let runs and results be counted apart', async () => {
    const text = '{"version": "2.1.0", "runs": [], "runs": []}';
    const error = await refusal(openUpload(bodyOf(text), options()));
    expect(error.code).toBe('invalid_sarif');
    expect(error.message).toBe('runs: appears twice');
  });
});

describe('openUpload: limits, refused before any finding exists', () => {
  const small = options({ limits: { decompressedBytes: 16 * MiB, runs: 2, resultsPerRun: 3 } });

  it('refuses more runs than SCAN_MAX_RUNS with 422', async () => {
    const error = await refusal(openUpload(bodyOf(sarif([run([]), run([]), run([])])), small));
    expect(error.status).toBe(422);
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toBe('runs: more than 2 runs (SCAN_MAX_RUNS)');
    expect(error.details).toEqual({ limit: 'SCAN_MAX_RUNS', max: 2 });
  });

  it('refuses more results in a run than SCAN_MAX_RESULTS_PER_RUN, skipped kinds included', async () => {
    const results = [result(0), result(1), result(2, { kind: 'pass' }), result(3)];
    const error = await refusal(openUpload(bodyOf(sarif([run([]), run(results)])), small));
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toBe('runs[1].results: more than 3 results (SCAN_MAX_RESULTS_PER_RUN)');
    expect(error.details).toEqual({ limit: 'SCAN_MAX_RESULTS_PER_RUN', max: 3 });
  });

  it('counts results even when the run comes last in a long document', async () => {
    const filler = Array.from({ length: 2000 }, (_, i) => result(i));
    const error = await refusal(
      openUpload(bodyOf(sarif([run(filler.slice(0, 3)), run(filler)])), { ...small, coding: 'identity' }),
    );
    expect(error.message).toBe('runs[1].results: more than 3 results (SCAN_MAX_RESULTS_PER_RUN)');
  });

  it('refuses a decompressed body over SCAN_MAX_DECOMPRESSED_BYTES with 413, a valid-looking gzip bomb too', async () => {
    const spaces = gzipSync(Buffer.alloc(MiB, ' '));
    const bomb = Buffer.concat([
      gzipSync('{"version": "2.1.0", "runs": ['),
      ...Array.from({ length: 64 }, () => spaces),
    ]);
    const error = await refusal(
      openUpload(
        bomb,
        options({ coding: 'gzip', limits: { decompressedBytes: 8 * MiB, runs: 20, resultsPerRun: 10 } }),
      ),
    );
    expect(error.status).toBe(413);
    expect(error.details).toEqual({ limit: 'SCAN_MAX_DECOMPRESSED_BYTES', max: 8 * MiB });
  });

  it('refuses runs whose tools, rules and artifacts would take more than 32 MiB to keep, before any finding', async () => {
    const rules = Array.from({ length: 70_000 }, () => ({}));
    const error = await refusal(
      openUpload(bodyOf(sarif([{ tool: { driver: { name: 't', rules } } }])), options()),
    );
    expect(error.code).toBe('limit_exceeded');
    expect(error.details).toMatchObject({ limit: 'run_headers_bytes', max: 32 * MiB });
  });

  it('refuses a result whose kept parts are larger than 1 MiB', async () => {
    const fingerprints = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`k${i}`, 'x'.repeat(4000)]),
    );
    const error = await refusal(findingsOf(sarif([run([result(0), result(1, { fingerprints })])])));
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toMatch(
      /^runs\[0\]\.results\[1\]: the parts of the result Gatehouse reads are larger than/,
    );
    expect(error.details).toMatchObject({ limit: 'result_bytes', pointer: '/runs/0/results/1' });
  });
});

describe('openUpload: two passes', () => {
  it("maps results with their run's tool, rules and provenance even when these come after the results", async () => {
    const text =
      '{"runs": [{"results": [{"ruleIndex": 0, "message": {"text": "m"}}],' +
      ' "versionControlProvenance": [{"repositoryUri": "https://example.com/acme/app", "revisionId": "abc", "branch": "main"}],' +
      ' "tool": {"driver": {"name": "late-tool", "version": "1.2", "rules": [{"id": "R1", "shortDescription": {"text": "Rule one"}}]}}}],' +
      ' "version": "2.1.0"}';
    const upload = await openUpload(bodyOf(text), options());
    expect(upload.runs).toEqual([
      {
        index: 0,
        tool: 'late-tool',
        toolVersion: '1.2',
        repository: 'https://example.com/acme/app',
        commit: 'abc',
        ref: 'main',
        automationId: null,
      },
    ]);
    const findings: MappedFinding[] = [];
    for await (const finding of upload.findings()) findings.push(finding);
    expect(findings).toMatchObject([
      { tool: 'late-tool', ruleId: 'R1', title: 'Rule one', description: 'm' },
    ]);
  });

  it('reads a gzip body like an identity one', async () => {
    const document = sarif([run([result(0), result(1)]), run([result(2)])]);
    const plain = await findingsOf(document);
    const gzipped = await findingsOf(gzipSync(bodyOf(document)), { coding: 'gzip' });
    expect(gzipped).toEqual(plain);
    expect(plain.map((finding) => [finding.runIndex, finding.resultIndex])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
  });

  it('reads the next chunk only once the findings of the last one are taken', async () => {
    const results = Array.from({ length: 3000 }, (_, i) => result(i));
    const body = bodyOf(sarif([run(results)]));
    const chunks = Math.ceil(body.length / CHUNK_BYTES);
    expect(chunks).toBeGreaterThan(3);
    const write = jest.spyOn(JsonWalker.prototype, 'write');
    try {
      const upload = await openUpload(body, options());
      expect(write).toHaveBeenCalledTimes(chunks);
      for await (const finding of upload.findings()) {
        expect(finding.resultIndex).toBe(0);
        break;
      }
      expect(write).toHaveBeenCalledTimes(chunks + 1);
    } finally {
      write.mockRestore();
    }
  });

  it('keeps a huge string at a bounded cost, cut where it is stored', async () => {
    const prefix =
      '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"ruleId": "r", "message": {"text": "';
    const a = gzipSync(Buffer.alloc(MiB, 'a'));
    const body = Buffer.concat([
      gzipSync(prefix),
      ...Array.from({ length: 48 }, () => a),
      gzipSync('"}}]}]}'),
    ]);
    const before = process.memoryUsage().rss;
    const findings = await findingsOf(body, {
      coding: 'gzip',
      limits: { decompressedBytes: 64 * MiB, runs: 1, resultsPerRun: 1 },
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(48 * MiB);
    expect(findings[0].description).toHaveLength(10_000);
    expect(findings[0].description?.endsWith('a…')).toBe(true);
  });

  it('stores NUL and lone surrogates from JSON escapes as U+FFFD', async () => {
    const text =
      '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t\\u0000ool"}}, "results": [' +
      '{"ruleId": "r\\ud800", "message": {"text": "nul \\u0000 high \\ud83d low \\ude00 pair \\ud83d\\ude00"}}]}]}';
    const [finding] = await findingsOf(text);
    expect(finding.tool).toBe('t\uFFFDool');
    expect(finding.ruleId).toBe('r\uFFFD');
    expect(finding.description).toBe('nul \uFFFD high \uFFFD low \uFFFD pair 😀');
  });
});

describe('readUpload', () => {
  it('yields every run, then the findings, with format and runs known from the first event on', async () => {
    const { reader, events } = readUpload(
      bodyOf(sarif([run([result(0)]), run([result(1), result(2)])])),
      options(),
    );
    expect(() => reader.format).toThrow(GatehouseError);
    const seen: string[] = [];
    for await (const event of events) {
      expect(reader.format).toBe('sarif');
      expect(reader.runs).toHaveLength(2);
      seen.push(
        event.kind === 'run'
          ? `run ${event.run.index}`
          : `finding ${event.finding.runIndex}.${event.finding.resultIndex}`,
      );
    }
    expect(seen).toEqual(['run 0', 'run 1', 'finding 0.0', 'finding 1.0', 'finding 1.1']);
  });

  it('knows the upload after the events end, also when there is nothing to yield', async () => {
    const { reader, events } = readUpload(bodyOf(sarif([])), options());
    const all: UploadEvent[] = [];
    for await (const event of events) all.push(event);
    expect(all).toEqual([]);
    expect(reader.format).toBe('sarif');
    expect(reader.runs).toEqual([]);
  });

  it('fails its first step, before any event, when a limit is passed', async () => {
    const { events } = readUpload(
      bodyOf(sarif([run([result(0), result(1)])])),
      options({ limits: { decompressedBytes: MiB, runs: 1, resultsPerRun: 1 } }),
    );
    const error = await refusal(events[Symbol.asyncIterator]().next());
    expect(error.code).toBe('limit_exceeded');
  });

  it('applies the query context over what each run declares', async () => {
    const declared = run([result(0)], {
      versionControlProvenance: [
        { repositoryUri: 'declared/repo', revisionId: 'declared', branch: 'declared' },
      ],
    });
    const upload = await openUpload(
      bodyOf(sarif([declared, run([])])),
      options({
        context: { tool: ' query-tool ', repository: 'acme/app', commit: '', ref: 'refs/heads/dev' },
      }),
    );
    expect(upload.runs.map((each) => [each.tool, each.repository, each.commit, each.ref])).toEqual([
      ['query-tool', 'acme/app', 'declared', 'refs/heads/dev'],
      ['query-tool', 'acme/app', null, 'refs/heads/dev'],
    ]);
  });

  it('stops reading past SCAN_MAX_PROCESSING_SECONDS with 422 naming it', async () => {
    // Escapes are what the tokenizer reads slowest: 350 000 of them take far longer than one 4 ms slice.
    const head = JSON.stringify({
      version: '2.1.0',
      runs: [{ tool: { driver: { name: 't' } }, results: [] }],
    });
    const body = Buffer.from(`${head.slice(0, -1)},"padding":"${'\\u0041'.repeat(350_000)}"}`);
    const error = await refusal(
      findingsOf(body, {
        limits: { decompressedBytes: 16 * MiB, runs: 20, resultsPerRun: 25_000, processingSeconds: 0 },
      }),
    );
    expect(error).toMatchObject({
      code: 'limit_exceeded',
      status: 422,
      details: { limit: 'SCAN_MAX_PROCESSING_SECONDS', max: 0 },
    });
  });

  it('reads the same document to its end within a bound it keeps', async () => {
    const head = JSON.stringify({
      version: '2.1.0',
      runs: [{ tool: { driver: { name: 't' } }, results: [] }],
    });
    const body = Buffer.from(`${head.slice(0, -1)},"padding":"${'\\u0041'.repeat(350_000)}"}`);
    await expect(
      findingsOf(body, {
        limits: { decompressedBytes: 16 * MiB, runs: 20, resultsPerRun: 25_000, processingSeconds: 60 },
      }),
    ).resolves.toEqual([]);
  });
});
