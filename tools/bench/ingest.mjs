#!/usr/bin/env node
// Ingest benchmark: one generated SARIF 2.1.0 report at scanner scale, uploaded gzipped through the gateway as a
// pipeline would, while small uploads keep arriving.
//
//   1. Generates a SARIF document of BENCH_INGEST_RESULTS results in one run of the tool "bench-scanner": 200 rules
//      (descriptions, help, tags with CWE, security-severity), each result with a level, a message, a location
//      under src/ with a snippet, partialFingerprints and a code flow of 3–6 steps; versionControlProvenance
//      names the repository, revision and branch. The same seed gives the same bytes. It is gzipped before any
//      app starts; the gzipped size must stay under the 10 MiB upload limit.
//   2. Migrates a dedicated database, starts the four built apps on their own ports (the gateway with
//      FINDINGS_UPLOAD_LIMIT_BYTES=10485760), bootstraps a throwaway enterprise organization and creates through
//      the gateway two API keys, bench-ingest (the report) and bench-small (the small uploads), each with
//      read:findings and write:findings and the highest rate-limit override.
//   3. Starts BENCH_SMALL_CONNECTIONS loops, each POSTing one native finding (?repository=bench-small-<loop>&
//      ref=main&tool=small, a new rule_id each time: each loop another pipeline) through the gateway with a Bearer token, one request after another:
//      a warm-up, then a baseline window with no ingest.
//   4. Uploads the report (POST /api/v1/findings, application/sarif+json, Content-Encoding: gzip, a fresh
//      Idempotency-Key), expects 202 + Location (or 201 with the summary) and polls GET /api/v1/scans/{id} every
//      100 ms until the scan is completed (failed: the run fails with the scan's error). Meanwhile it samples
//      findings-service's VmRSS every 50 ms (and reads VmHWM, reset before the upload where the kernel allows) and
//      keeps the latencies of the small uploads sent during the ingest.
//   5. Uploads the same report again with a new Idempotency-Key (a re-scan: every result unchanged, none new),
//      measured the same way, stops the small uploads, and replays the first request with the first
//      Idempotency-Key (expects the first answer again, same status and body, with Idempotent-Replayed: true).
//
// It prints seconds from the start of the upload until the scan is completed, results/s, the upload's response
// time, findings-service's peak RSS and the small uploads' p50/p99/max, and compares them with the goals
// (≥ 5 000 results/s, peak RSS ≤ 256 MiB, small-upload p99 ≤ 100 ms). A missed goal is reported, not a failure;
// the run fails (exit 1) when an ingest fails or counts differently than expected, when a small upload gets a
// non-2xx answer other than 429 (429s are counted apart), when the replay differs, or when an app dies. The apps
// are always stopped (SIGTERM, then SIGKILL) and every step is bounded in time. Each run leaves its organization,
// findings and scans in the bench database; drop the database to start afresh.
//
// Usage: npm run bench:ingest                         (builds first)
//        node tools/bench/ingest.mjs [--json] [--help] (expects `nx run-many -t build` to have run)
//        node tools/bench/ingest.mjs --generate-only FILE [--json]
//             writes the report to FILE (gzipped when FILE ends in .gz), checks it and prints its sizes; starts
//             nothing
//
// Environment (all optional):
//   BENCH_FINDINGS_NODE_OPTIONS  findings-service's NODE_OPTIONS (default --max-old-space-size=160, as deployed)
//   BENCH_INGEST_RESULTS     results in the report (default 25000; findings-service refuses more than
//                            SCAN_MAX_RESULTS_PER_RUN, 25000 by default, in one run)
//   BENCH_INGEST_SEED        seed of the generator (default 1)
//   BENCH_SMALL_CONNECTIONS  concurrent small-upload loops (default 4; 0 sends none)
//   BENCH_SMALL_WARMUP       seconds of discarded small uploads before the baseline (default 1)
//   BENCH_SMALL_BASELINE     seconds of small uploads measured before the first ingest (default 3; 0 skips it)
//   BENCH_UPLOAD_TIMEOUT     seconds the upload request may take (default 120)
//   BENCH_INGEST_TIMEOUT     seconds from the upload until the scan must be completed (default 300)
//   DATABASE_URL             default postgres://postgres@127.0.0.1:5432/gatehouse_bench_ingest (created if missing)
//   REDIS_URL                default redis://127.0.0.1:6379
//   BENCH_LOG_LEVEL          LOG_LEVEL of the apps (default warn)
//   BENCH_GATEWAY_PORT / BENCH_AUTH_PORT / BENCH_FINDINGS_PORT / BENCH_ADMIN_PORT
//                            default 28080 / 23001 / 23002 / 23003 (bench.mjs uses 18080 / 1300x)
//   BENCH_READY_TIMEOUT      seconds to wait for every app's /health/ready (default 60)
//   BENCH_TIMEOUT            hard limit for the whole run in seconds (default: derived from the timeouts above)
//
// --json: the JSON results go alone to stdout and the human-readable report to stderr, so that
//         `node tools/bench/ingest.mjs --json > result.json` works.
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  appEnvironments,
  authenticate,
  bootstrapOrganization,
  bundleHash,
  call,
  cpuBetween,
  cpuSnapshot,
  createKey,
  createSupervisor,
  ensureDatabase,
  fixed,
  gitRevision,
  KEY_OVERRIDE,
  machineBusyPercent,
  machineFacts,
  numberFromEnv,
  redactUrl,
  requireBuild,
  runCli,
  sleep,
  table,
  USAGE_EXIT_CODE,
  usageOf,
  withDeadline,
} from './lib/servers.mjs';

// ---------------------------------------------------------------------------------------------------------
// Arguments and settings

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usageOf(import.meta.url));
  process.exit(0);
}
const jsonOutput = args.includes('--json');
const generateOnlyAt = args.indexOf('--generate-only');
const generateOnlyFile = generateOnlyAt === -1 ? undefined : args[generateOnlyAt + 1];
if (generateOnlyAt !== -1 && (!generateOnlyFile || generateOnlyFile.startsWith('--'))) {
  process.stderr.write('--generate-only needs a file name\n');
  process.exit(USAGE_EXIT_CODE);
}
const unknownArgs = args.filter(
  (arg, i) =>
    arg !== '--json' && arg !== '--generate-only' && !(generateOnlyAt !== -1 && i === generateOnlyAt + 1),
);
if (unknownArgs.length > 0) {
  process.stderr.write(
    `unknown argument(s): ${unknownArgs.join(' ')} (accepted: --json, --generate-only FILE, --help)\n`,
  );
  process.exit(USAGE_EXIT_CODE);
}

const RESULTS = numberFromEnv('BENCH_INGEST_RESULTS', 25_000, { min: 1, integer: true });
const SEED = numberFromEnv('BENCH_INGEST_SEED', 1, { min: 0, integer: true });
const SMALL_CONNECTIONS = numberFromEnv('BENCH_SMALL_CONNECTIONS', 4, { min: 0, integer: true });
const SMALL_WARMUP_S = numberFromEnv('BENCH_SMALL_WARMUP', 1, { min: 0 });
const SMALL_BASELINE_S = numberFromEnv('BENCH_SMALL_BASELINE', 3, { min: 0 });
const UPLOAD_TIMEOUT_S = numberFromEnv('BENCH_UPLOAD_TIMEOUT', 120, { min: 1 });
const INGEST_TIMEOUT_S = numberFromEnv('BENCH_INGEST_TIMEOUT', 300, { min: 1 });
const READY_TIMEOUT_S = numberFromEnv('BENCH_READY_TIMEOUT', 60, { min: 1 });
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'warn';
const PORTS = {
  'api-gateway': numberFromEnv('BENCH_GATEWAY_PORT', 28080, { min: 1, integer: true }),
  'auth-service': numberFromEnv('BENCH_AUTH_PORT', 23001, { min: 1, integer: true }),
  'findings-service': numberFromEnv('BENCH_FINDINGS_PORT', 23002, { min: 1, integer: true }),
  'admin-api': numberFromEnv('BENCH_ADMIN_PORT', 23003, { min: 1, integer: true }),
};
const STOP_GRACE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 100;
const RSS_INTERVAL_MS = 50;
const TOTAL_TIMEOUT_S = numberFromEnv(
  'BENCH_TIMEOUT',
  // Set-up and teardown, start-up, the small-upload windows, two ingests and the replay, each bounded.
  240 + READY_TIMEOUT_S + SMALL_WARMUP_S + SMALL_BASELINE_S + 3 * (UPLOAD_TIMEOUT_S + INGEST_TIMEOUT_S),
  { min: 10 },
);

/** What the service and the issue hold the ingest to (issue 11, "Tests and speed"). */
const GOALS = { resultsPerSecond: 5_000, peakRssMiB: 256, smallP99Ms: 100 };
/** The upload limit (SCAN_MAX_UPLOAD_BYTES, the gateway's FINDINGS_UPLOAD_LIMIT_BYTES): 10 MiB as received. */
const UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
/** findings-service's NODE_OPTIONS, as its Kubernetes component and docker-compose.yml set them. */
const FINDINGS_NODE_OPTIONS = process.env.BENCH_FINDINGS_NODE_OPTIONS ?? '--max-old-space-size=160';

/** findings-service's default SCAN_MAX_RESULTS_PER_RUN. */
const RESULTS_PER_RUN_LIMIT = 25_000;
const TOOL_NAME = 'bench-scanner';
const FINDINGS_PATH = '/api/v1/findings';
const SCANS_PATH = '/api/v1/scans';
// Each loop is another pipeline: its own repository. Uploads to one (repository, ref) are applied one at a time by
// design (docs/FINDINGS.md), so loops sharing one would measure that queue, not the ingest's effect on others.
const smallPath = (connection) => `${FINDINGS_PATH}?repository=bench-small-${connection}&ref=main&tool=small`;
const SMALL_PATH = smallPath(0);

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/gatehouse_bench_ingest';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RUN_ID = randomBytes(4).toString('hex');
const ORG_NAME = `bench-ingest-${RUN_ID}`;
const origin = (name) => `http://127.0.0.1:${PORTS[name]}`;
const GATEWAY = origin('api-gateway');

const report = (line = '') => (jsonOutput ? process.stderr : process.stdout).write(`${line}\n`);
const progress = (line) => process.stderr.write(`[bench:ingest] ${line}\n`);
const MiB = (bytes) => bytes / (1024 * 1024);
const round1 = (value) =>
  typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 10) / 10 : null;
const thousands = (value) => (typeof value === 'number' ? Math.round(value).toLocaleString('en-US') : 'n/a');

// ---------------------------------------------------------------------------------------------------------
// The report: a SARIF 2.1.0 document, deterministic from the seed

/** mulberry32: small, fast and the same on every machine, which Math.random is not. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Kinds of flaw the scanner "finds", modelled on CodeQL's JavaScript queries (CWE numbers and security-severity
 * as CodeQL publishes them): slug | title | CWEs | security-severity | sink | what reaches the sink. Each yields
 * ten rules, one per variant below.
 */
const FLAWS = `
sql-injection | Database query built from user-controlled sources | 89 90 943 | 8.8 | db.query | query
command-line-injection | Uncontrolled command line | 78 88 | 9.8 | execSync | command
code-injection | Code injection | 94 95 79 116 | 9.3 | vm.runInContext | expression
path-injection | Uncontrolled data used in path expression | 22 23 36 73 99 | 7.5 | fs.readFile | path
reflected-xss | Reflected cross-site scripting | 79 116 | 6.1 | res.send | html
stored-xss | Stored cross-site scripting | 79 116 | 6.1 | dom.setInnerHtml | markup
request-forgery | Server-side request forgery | 918 | 9.1 | axios.get | url
prototype-pollution | Prototype-polluting assignment | 78 79 94 400 471 915 | 6.1 | merge | key
insecure-randomness | Insecure randomness | 338 | 7.8 | Math.random | seed
hardcoded-credentials | Hard-coded credentials | 259 321 798 | 9.8 | jwt.sign | secret
weak-cryptographic-algorithm | Use of a broken or weak cryptographic algorithm | 327 328 | 7.5 | createCipheriv | key
clear-text-logging | Clear-text logging of sensitive information | 312 359 532 | 7.5 | logger.info | password
regex-injection | Regular expression injection | 730 400 | 7.5 | new RegExp | pattern
polynomial-redos | Polynomial regular expression used on uncontrolled data | 1333 730 400 | 7.5 | input.match | text
server-side-unvalidated-url-redirection | Server-side URL redirect | 601 | 6.1 | res.redirect | target
xxe | XML external entity expansion | 611 827 | 9.1 | libxml.parseXml | xml
unsafe-deserialization | Deserialization of user-controlled data | 502 | 9.8 | yaml.load | document
missing-rate-limiting | Missing rate limiting | 770 307 400 | 7.5 | app.post | handler
clear-text-cookie | Clear text transmission of sensitive cookie | 614 311 312 319 | 5.0 | res.cookie | session
log-injection | Log injection | 117 | 7.8 | console.log | entry`
  .trim()
  .split('\n')
  .map((line) => {
    const [slug, title, cwes, severity, sink, argument] = line.split(' | ');
    return { slug, title, cwes: cwes.split(' ').map(Number), severity: Number(severity), sink, argument };
  });
/** Per variant: a label and how far its security-severity lies below the flaw's (the last ones low or 0). */
const VARIANTS = [
  ['directly', 0],
  ['through a helper', 0],
  ['through a framework adapter', 0.4],
  ['in a template literal', 0.9],
  ['in an async callback', 1.6],
  ['in a background job', 2.4],
  ['in a CLI script', 3.3],
  ['in test fixtures', 4.6],
  ['in generated code', 6.5],
  ['in dead code', 99],
];
const SOURCES = [
  'req.query.id',
  'req.body.name',
  'req.params.file',
  'req.headers.referer',
  'event.body',
  'ctx.request.query.q',
  'process.argv[2]',
  'message.payload',
  'form.get("q")',
  'url.searchParams.get("next")',
];
const IDENTIFIERS = 'id name file target query input payload filter value data'.split(' ');
const DIRECTORIES = (
  'api auth billing catalog checkout core db events files gateway http jobs mail orders payments reports search ' +
  'session storage users admin export cache queue audit'
).split(' ');
const SUBDIRECTORIES = 'controllers services handlers models routes lib middleware views'.split(' ');
const BASENAMES = 'user order invoice session token upload report payment account profile'.split(' ');
const EXTENSIONS = ['ts', 'js', 'mjs'];

const levelOf = (severity) => (severity >= 7 ? 'error' : severity >= 4 ? 'warning' : 'note');
const severityBucket = (severity) =>
  severity >= 9
    ? 'critical'
    : severity >= 7
      ? 'high'
      : severity >= 4
        ? 'medium'
        : severity > 0
          ? 'low'
          : 'info';

function generateRules() {
  const rules = [];
  for (const { slug, title, cwes, severity: baseSeverity, sink, argument } of FLAWS) {
    VARIANTS.forEach(([label, lower], variant) => {
      const severity = Math.max(0, Math.round((baseSeverity - lower) * 10) / 10);
      const cweTags = cwes.map((cwe) => `external/cwe/cwe-${String(cwe).padStart(3, '0')}`);
      const fix =
        `Validate or encode the ${argument} before it reaches \`${sink}\`, or use an API that keeps data and ` +
        'code apart.';
      rules.push({
        id: `bench/js/${slug}/${String(variant).padStart(2, '0')}`,
        name: `${slug}-${variant}`,
        shortDescription: { text: `${title} (${label})` },
        fullDescription: {
          text: `${title}: a value from outside the program reaches \`${sink}\` ${label} without validation.`,
        },
        defaultConfiguration: { level: levelOf(severity) },
        help: {
          text: `# ${title}\n\n${fix}\n\nReferences: ${cwes.map((cwe) => `CWE-${cwe}`).join(', ')}.`,
          markdown:
            `# ${title}\n\nA value from outside the program reaches \`${sink}\` ${label}.\n\n## Recommendation\n\n` +
            `${fix}\n\n## References\n` +
            cwes
              .map((cwe) => `- [CWE-${cwe}](https://cwe.mitre.org/data/definitions/${cwe}.html)`)
              .join('\n'),
        },
        helpUri: `https://scanner.example/rules/${slug}`,
        properties: {
          tags: ['security', ...cweTags, slug.split('-')[0]],
          precision: variant < 4 ? 'high' : 'medium',
          'problem.severity': levelOf(severity),
          'security-severity': severity.toFixed(1),
        },
        // Kept for the generator, removed before serialization.
        meta: { sink, argument, severity },
      });
    });
  }
  return rules;
}

/**
 * The report as gzipped bytes, plus what the checks and the report need: raw size, sha256 of the raw bytes and
 * the results per severity (by security-severity, which decides here: every rule has one).
 */
function generateReport(resultCount, seed) {
  const random = seededRandom(seed);
  const int = (n) => Math.floor(random() * n);
  const pick = (list) => list[int(list.length)];
  const hex = (digits) => {
    let out = '';
    while (out.length < digits) out += int(0x10000).toString(16).padStart(4, '0');
    return out.slice(0, digits);
  };

  const files = [];
  for (const directory of DIRECTORIES) {
    for (const subdirectory of SUBDIRECTORIES) {
      for (let i = 0; i < 6; i++) {
        files.push(`src/${directory}/${subdirectory}/${pick(BASENAMES)}-${i}.${pick(EXTENSIONS)}`);
      }
    }
  }
  const rules = generateRules();
  const severities = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  const levels = { error: 0, warning: 0, note: 0, none: 0 };
  const fingerprints = new Set();

  const results = [];
  for (let index = 0; index < resultCount; index++) {
    // Rules are hit unevenly, as in real reports: a few rules account for most results.
    const ruleIndex = Math.min(rules.length - 1, Math.floor(rules.length * random() ** 2));
    const rule = rules[ruleIndex];
    const { sink, argument } = rule.meta;
    const file = pick(files);
    const line = 1 + int(1800);
    const identifier = pick(IDENTIFIERS);
    const indent = ' '.repeat(2 * (1 + int(3)));
    const snippet = `${indent}const ${argument} = await ${sink}(${identifier}${int(3) === 0 ? ', options' : ''});`;
    const column = indent.length + 1;
    const source = pick(SOURCES);
    let fingerprint;
    do fingerprint = hex(16);
    while (fingerprints.has(fingerprint));
    fingerprints.add(fingerprint);
    // One result in twenty is reported at a level other than its rule's default.
    const level = int(20) === 0 ? pick(['error', 'warning', 'note']) : rule.defaultConfiguration.level;
    levels[level] += 1;
    severities[severityBucket(rule.meta.severity)] += 1;

    const steps = 3 + int(4);
    const flow = [];
    let stepFile = int(5) < 3 ? file : pick(files);
    let stepLine = Math.max(1, line - 40 - int(200));
    for (let step = 0; step < steps - 1; step++) {
      const text = step === 0 ? source : step === 1 ? identifier : `${identifier}.${argument}`;
      flow.push({
        location: {
          physicalLocation: {
            artifactLocation: { uri: stepFile },
            region: { startLine: stepLine, startColumn: 5 + int(30), endColumn: 40 + int(30) },
          },
          message: { text },
        },
      });
      stepLine += 1 + int(30);
      if (int(4) === 0) stepFile = file;
    }
    flow.push({
      location: {
        physicalLocation: {
          artifactLocation: { uri: file },
          region: { startLine: line, startColumn: column, endColumn: column + snippet.trimStart().length },
        },
        message: { text: identifier },
      },
    });
    const endLine = int(5) === 0 ? line + 1 + int(3) : line;
    results.push(
      JSON.stringify({
        ruleId: rule.id,
        ruleIndex,
        level,
        message: {
          text: `${rule.shortDescription.text}: this ${argument} depends on a user-provided value from ${source}.`,
        },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: file },
              region: {
                startLine: line,
                startColumn: column,
                endLine,
                endColumn: column + snippet.trimStart().length,
                snippet: { text: snippet },
              },
            },
          },
        ],
        partialFingerprints: { primaryLocationLineHash: `${fingerprint}:1` },
        codeFlows: [{ threadFlows: [{ locations: flow }] }],
      }),
    );
  }

  const run = {
    tool: {
      driver: {
        name: TOOL_NAME,
        semanticVersion: '1.0.0',
        version: '1.0.0',
        informationUri: 'https://scanner.example/',
        rules: rules.map(({ meta: _meta, ...rule }) => rule),
      },
    },
    versionControlProvenance: [
      {
        repositoryUri: 'https://git.example/bench/ingest-target',
        revisionId: hex(40),
        branch: 'main',
      },
    ],
    invocations: [{ executionSuccessful: true }],
    columnKind: 'utf16CodeUnits',
  };
  // Serialized around the results, which are joined as text: one JSON.stringify of the whole would hold every
  // result as an object at once.
  const head = JSON.stringify({
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ ...run, results: [] }],
  });
  const marker = '"results":[]';
  const at = head.lastIndexOf(marker);
  const raw = Buffer.from(
    `${head.slice(0, at)}"results":[${results.join(',')}]${head.slice(at + marker.length)}`,
    'utf8',
  );
  return {
    raw,
    rules: rules.length,
    files: files.length,
    severities,
    levels,
    sha256: createHash('sha256').update(raw).digest('hex'),
  };
}

/**
 * What this benchmark relies on in the generated report, checked on the parsed JSON: problems as
 * "pointer: what" strings (empty when it is what it should be).
 */
function checkReport(document, expectedResults) {
  const problems = [];
  const fail = (pointer, what) => problems.length < 20 && problems.push(`${pointer}: ${what}`);
  if (document.version !== '2.1.0') fail('/version', 'is not "2.1.0"');
  if (!Array.isArray(document.runs) || document.runs.length !== 1) return [...problems, '/runs: not one run'];
  const run = document.runs[0];
  if (run.tool?.driver?.name !== TOOL_NAME) fail('/runs/0/tool/driver/name', `is not ${TOOL_NAME}`);
  const rules = run.tool?.driver?.rules ?? [];
  if (rules.length < 150 || rules.length > 250)
    fail('/runs/0/tool/driver/rules', `has ${rules.length} rules`);
  const ruleIds = new Set();
  rules.forEach((rule, i) => {
    const at = `/runs/0/tool/driver/rules/${i}`;
    ruleIds.add(rule.id);
    if (typeof rule.shortDescription?.text !== 'string') fail(at, 'no shortDescription.text');
    if (typeof rule.help?.text !== 'string') fail(at, 'no help.text');
    const tags = rule.properties?.tags ?? [];
    if (!tags.some((tag) => /^external\/cwe\/cwe-\d+$/.test(tag))) fail(at, 'no CWE tag');
    const severity = Number(rule.properties?.['security-severity']);
    if (!Number.isFinite(severity) || severity < 0 || severity > 10) fail(at, 'no numeric security-severity');
  });
  if (ruleIds.size !== rules.length) fail('/runs/0/tool/driver/rules', 'rule ids repeat');
  const provenance = run.versionControlProvenance?.[0];
  for (const field of ['repositoryUri', 'revisionId', 'branch']) {
    if (typeof provenance?.[field] !== 'string')
      fail(`/runs/0/versionControlProvenance/0/${field}`, 'missing');
  }
  const results = run.results ?? [];
  if (results.length !== expectedResults)
    fail('/runs/0/results', `has ${results.length}, not ${expectedResults}`);
  const fingerprints = new Set();
  results.forEach((result, i) => {
    const at = `/runs/0/results/${i}`;
    if (!ruleIds.has(result.ruleId)) fail(`${at}/ruleId`, 'names no rule of the driver');
    if (!['error', 'warning', 'note', 'none'].includes(result.level))
      fail(`${at}/level`, 'not a SARIF level');
    if (typeof result.message?.text !== 'string') fail(`${at}/message/text`, 'missing');
    const physical = result.locations?.[0]?.physicalLocation;
    if (!physical?.artifactLocation?.uri?.startsWith('src/')) fail(`${at}/locations/0`, 'uri not under src/');
    const region = physical?.region ?? {};
    if (!(region.startLine >= 1 && region.endLine >= region.startLine))
      fail(`${at}/locations/0`, 'bad region');
    if (typeof region.snippet?.text !== 'string') fail(`${at}/locations/0`, 'no snippet');
    const fingerprint = result.partialFingerprints?.primaryLocationLineHash;
    if (typeof fingerprint !== 'string') fail(`${at}/partialFingerprints`, 'no primaryLocationLineHash');
    else if (fingerprints.has(fingerprint)) fail(`${at}/partialFingerprints`, 'repeats an earlier result');
    fingerprints.add(fingerprint);
    const steps = result.codeFlows?.[0]?.threadFlows?.[0]?.locations ?? [];
    if (steps.length < 3 || steps.length > 6) fail(`${at}/codeFlows/0`, `has ${steps.length} steps, not 3–6`);
  });
  return problems;
}

/** Generates and gzips the report; exits the run when the gzipped size reaches the upload limit. */
function buildDocument() {
  progress(`generating a SARIF report of ${thousands(RESULTS)} results (seed ${SEED})`);
  if (RESULTS > RESULTS_PER_RUN_LIMIT) {
    progress(
      `warning: ${RESULTS} results in one run exceed findings-service's default SCAN_MAX_RESULTS_PER_RUN ` +
        `(${RESULTS_PER_RUN_LIMIT}); expect 422 limit_exceeded`,
    );
  }
  const generateStarted = performance.now();
  const generated = generateReport(RESULTS, SEED);
  const generateMs = performance.now() - generateStarted;
  const gzipStarted = performance.now();
  const gzipped = gzipSync(generated.raw);
  const gzipMs = performance.now() - gzipStarted;
  const document = {
    results: RESULTS,
    seed: SEED,
    rules: generated.rules,
    files: generated.files,
    severities: generated.severities,
    levels: generated.levels,
    rawBytes: generated.raw.length,
    gzipBytes: gzipped.length,
    rawMiB: round1(MiB(generated.raw.length)),
    gzipMiB: round1(MiB(gzipped.length)),
    sha256: generated.sha256,
    generateMs: Math.round(generateMs),
    gzipMs: Math.round(gzipMs),
  };
  progress(
    `report: raw ${fixed(MiB(document.rawBytes), 2)} MiB, gzipped ${fixed(MiB(document.gzipBytes), 2)} MiB ` +
      `(generated in ${document.generateMs} ms, gzipped in ${document.gzipMs} ms, sha256 ${document.sha256.slice(0, 12)})`,
  );
  if (gzipped.length >= UPLOAD_LIMIT_BYTES) {
    throw new Error(
      `the gzipped report is ${gzipped.length} bytes, not under the ${UPLOAD_LIMIT_BYTES}-byte upload limit; ` +
        'lower BENCH_INGEST_RESULTS',
    );
  }
  return { document, raw: generated.raw, gzipped };
}

function generateOnly(file) {
  const { document, raw, gzipped } = buildDocument();
  writeFileSync(file, file.endsWith('.gz') ? gzipped : raw);
  // Read back what was written, as a consumer would.
  const written = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(written) : written).toString('utf8');
  const problems = checkReport(JSON.parse(text), RESULTS);
  document.file = file;
  document.checks = problems.length === 0 ? 'passed' : problems;
  report(
    `SARIF 2.1.0, 1 run of ${TOOL_NAME}: ${document.rules} rules, ${thousands(document.results)} results over ` +
      `${document.files} files; by security-severity ${Object.entries(document.severities)
        .map(([name, count]) => `${name} ${thousands(count)}`)
        .join(', ')}`,
  );
  report(
    `raw ${thousands(document.rawBytes)} bytes (${fixed(MiB(document.rawBytes), 2)} MiB), gzipped ` +
      `${thousands(document.gzipBytes)} bytes (${fixed(MiB(document.gzipBytes), 2)} MiB, limit 10 MiB), ` +
      `sha256 of the raw JSON ${document.sha256}`,
  );
  report(
    `written to ${file} (${file.endsWith('.gz') ? 'gzipped' : 'raw JSON'}), ${raw.length} bytes of JSON`,
  );
  for (const problem of problems) report(`FAIL: ${problem}`);
  if (problems.length === 0)
    report('checks passed: the report parses and has every field the benchmark relies on');
  if (jsonOutput) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  return problems.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP, measured

/** One request over `agent`; resolves with status, headers, body text and milliseconds to the last byte. */
function request(agent, method, url, { headers = {}, body, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const outgoing = http.request(url, {
      agent,
      method,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
    });
    outgoing.setTimeout(timeoutMs, () =>
      outgoing.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })),
    );
    outgoing.once('error', reject);
    outgoing.once('response', (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () =>
        resolve({
          status: response.statusCode,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
        }),
      );
    });
    outgoing.end(body);
  });
}

const parseJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * BENCH_SMALL_CONNECTIONS loops, each sending one small native upload after another through the gateway. Each
 * request is counted in the window that was current when it started (null: not counted).
 */
function startSmallLoad(token) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, SMALL_CONNECTIONS) });
  const windows = new Map();
  let current = null;
  let stopped = false;
  let sequence = 0;
  const windowNamed = (name) => {
    if (!windows.has(name)) {
      windows.set(name, {
        name,
        startedAt: performance.now(),
        endedAt: undefined,
        latencies: [],
        statusCodes: {},
        errorKinds: {},
      });
    }
    return windows.get(name);
  };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const loop = async (connection) => {
    while (!stopped) {
      const window = current;
      const body = JSON.stringify({
        findings: [
          {
            rule_id: `r-${connection}-${sequence++}`,
            title: 't',
            severity: 'low',
            location: { path: 'a.ts', start_line: 1 },
          },
        ],
      });
      const started = performance.now();
      try {
        const answer = await request(agent, 'POST', GATEWAY + smallPath(connection), { headers, body });
        if (window) {
          window.latencies.push(answer.ms);
          window.statusCodes[answer.status] = (window.statusCodes[answer.status] ?? 0) + 1;
        }
      } catch (error) {
        const kind = error.code ?? error.message;
        if (window) {
          window.latencies.push(performance.now() - started);
          window.errorKinds[kind] = (window.errorKinds[kind] ?? 0) + 1;
        }
        // A refused connection fails at once; do not spin on it.
        await sleep(50);
      }
    }
  };
  const loops = Array.from({ length: SMALL_CONNECTIONS }, (_, i) => loop(i));
  return {
    /** Requests started from now on count in window `name` (null: in none). */
    enter(name) {
      if (current) current.endedAt = performance.now();
      current = name === null ? null : windowNamed(name);
    },
    async stop() {
      this.enter(null);
      stopped = true;
      await withDeadline(Promise.all(loops), REQUEST_TIMEOUT_MS + 5000, 'stopping the small uploads');
      agent.destroy();
    },
    summary(name) {
      const window = windows.get(name);
      if (!window) return null;
      const sorted = [...window.latencies].sort((a, b) => a - b);
      const seconds = ((window.endedAt ?? performance.now()) - window.startedAt) / 1000;
      const codes = Object.entries(window.statusCodes);
      const count = (predicate) =>
        codes.filter(([code]) => predicate(Number(code))).reduce((n, [, c]) => n + c, 0);
      const errors = Object.values(window.errorKinds).reduce((n, c) => n + c, 0);
      return {
        window: name,
        seconds: round1(seconds),
        requests: sorted.length,
        requestsPerSecond: seconds > 0 ? round1(sorted.length / seconds) : null,
        p50Ms: round1(percentile(sorted, 0.5)),
        p99Ms: round1(percentile(sorted, 0.99)),
        maxMs: round1(sorted.at(-1) ?? null),
        statusCodes: window.statusCodes,
        rateLimited: count((code) => code === 429),
        otherNon2xx: count((code) => (code < 200 || code > 299) && code !== 429),
        errors,
        errorKinds: window.errorKinds,
      };
    },
  };
}

/**
 * Samples VmRSS of `pid` every RSS_INTERVAL_MS from /proc. Writing 5 to /proc/<pid>/clear_refs first resets its
 * VmHWM (the kernel's exact peak, which sampling can miss) to the current RSS, where the kernel allows it.
 */
function startRssSampler(pid) {
  const read = () => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kiB = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kiB('VmRSS') * 1024, hwm: kiB('VmHWM') * 1024 };
  };
  let hwmReset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    hwmReset = true;
  } catch (error) {
    progress(
      `cannot reset VmHWM of findings-service (${error.code ?? error.message}); it covers its whole life`,
    );
  }
  let first;
  try {
    first = read();
  } catch (error) {
    progress(`cannot read /proc/${pid}/status (${error.code ?? error.message}); no RSS figures`);
    return { stop: () => null };
  }
  let peak = first.rss;
  let samples = 1;
  let last = performance.now();
  let longestGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    try {
      peak = Math.max(peak, read().rss);
      samples += 1;
    } catch {
      // The process is gone; its exit is reported by the supervisor.
      clearInterval(timer);
    }
  }, RSS_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      let end;
      try {
        end = read();
        peak = Math.max(peak, end.rss);
      } catch {
        end = undefined;
      }
      return {
        startMiB: round1(MiB(first.rss)),
        peakSampledMiB: round1(MiB(peak)),
        endMiB: end ? round1(MiB(end.rss)) : null,
        hwmMiB: end ? round1(MiB(end.hwm)) : null,
        hwmSince: hwmReset ? 'the upload' : 'process start',
        samples,
        longestGapMs: Math.round(longestGapMs),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// One ingest

const SUMMARY_FIELDS = ['results', 'new', 'unchanged', 'fixed', 'reopened'];

/**
 * Uploads the gzipped report with `idempotencyKey` and waits until its scan is completed. Returns the measured
 * numbers and the first answer (for the replay). Throws when the upload is refused or the scan fails.
 */
async function ingest({ label, gzipped, token, idempotencyKey, supervisor, smallLoad, windowName }) {
  const findings = supervisor.apps.get('findings-service');
  const uploadAgent = new http.Agent({ keepAlive: false });
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/sarif+json',
    'content-encoding': 'gzip',
    'idempotency-key': idempotencyKey,
  };
  const groups = new Map([[process.pid, 'bench (load)']]);
  for (const app of supervisor.apps.values()) groups.set(app.child.pid, app.name);

  progress(
    `${label}: uploading ${fixed(MiB(gzipped.length), 2)} MiB gzipped (Idempotency-Key ${idempotencyKey})`,
  );
  const rss = startRssSampler(findings.child.pid);
  const cpuBefore = cpuSnapshot();
  smallLoad?.enter(windowName);
  const uploadStarted = performance.now();
  const uploadStartedAt = new Date();
  let upload;
  let answer;
  let scan;
  let completedMs;
  let polls = 0;
  const finish = () => {
    smallLoad?.enter(null);
    return { rss: rss.stop(), cpu: cpuBetween(cpuBefore, cpuSnapshot(), groups) };
  };
  try {
    try {
      upload = await request(uploadAgent, 'POST', GATEWAY + FINDINGS_PATH, {
        headers,
        body: gzipped,
        timeoutMs: UPLOAD_TIMEOUT_S * 1000,
      });
    } catch (error) {
      const hint = error.code === 'TIMEOUT' ? ' (BENCH_UPLOAD_TIMEOUT)' : '';
      throw new Error(`${label}: POST ${FINDINGS_PATH} failed: ${error.message}${hint}`);
    } finally {
      uploadAgent.destroy();
    }
    answer = parseJson(upload.text);
    progress(`${label}: HTTP ${upload.status} in ${Math.round(upload.ms)} ms`);
    if (upload.status === 201 && answer?.status === 'completed') {
      completedMs = upload.ms;
      scan = answer;
    } else if (upload.status === 202) {
      // Relative as documented; an absolute URL is followed by its path, through the gateway all the same.
      const location =
        typeof upload.headers.location === 'string'
          ? new URL(upload.headers.location, GATEWAY).pathname
          : undefined;
      if (!location?.startsWith(`${SCANS_PATH}/`)) {
        throw new Error(
          `${label}: 202 without Location: ${SCANS_PATH}/{id} (Location: ${upload.headers.location ?? 'none'})`,
        );
      }
      const deadline = uploadStarted + INGEST_TIMEOUT_S * 1000;
      for (;;) {
        let polled;
        try {
          polled = await call(GATEWAY, 'GET', location, { headers: { authorization: `Bearer ${token}` } });
        } catch (error) {
          throw new Error(`${label}: polling GET ${location} failed: ${error.message}`);
        }
        polls += 1;
        if (polled.status !== 200) {
          throw new Error(
            `${label}: GET ${location} answered ${polled.status}: ${polled.text.slice(0, 300)}` +
              (polled.status === 404
                ? ' (the scans endpoint is missing from this build, or the gateway does not route it)'
                : ''),
          );
        }
        scan = polled.json;
        if (scan?.status === 'completed') {
          completedMs = performance.now() - uploadStarted;
          break;
        }
        if (scan?.status === 'failed') {
          throw new Error(`${label}: the scan failed: ${JSON.stringify(scan.error ?? scan).slice(0, 500)}`);
        }
        if (performance.now() > deadline) {
          throw new Error(
            `${label}: the scan was still ${scan?.status} ${INGEST_TIMEOUT_S} s after the upload started ` +
              '(BENCH_INGEST_TIMEOUT)',
          );
        }
        await sleep(POLL_INTERVAL_MS);
      }
    } else {
      throw new Error(
        `${label}: POST ${FINDINGS_PATH} answered ${upload.status}, expected 202 (or 201 with the summary): ` +
          upload.text.slice(0, 500),
      );
    }
  } catch (error) {
    finish();
    throw error;
  }
  const { rss: memory, cpu } = finish();
  // Processed in the request: the answer is only the summary; the scan record has the timing.
  const scanId = scan?.id ?? scan?.scan_id ?? null;
  if (scan?.received_at === undefined && typeof scanId === 'string') {
    try {
      const record = await call(GATEWAY, 'GET', `${SCANS_PATH}/${scanId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (record.status === 200 && record.json) scan = { ...record.json, ...scan };
      else progress(`${label}: GET ${SCANS_PATH}/${scanId} answered ${record.status}; no server timing`);
    } catch (error) {
      progress(`${label}: cannot read scan ${scanId} (${error.message}); no server timing`);
    }
  }
  const seconds = completedMs / 1000;
  const at = (name) => (typeof scan?.[name] === 'string' ? Date.parse(scan[name]) : NaN);
  const serverMs = (from, to) =>
    Number.isFinite(at(from)) && Number.isFinite(at(to)) ? at(to) - at(from) : null;
  const counts = Object.fromEntries(SUMMARY_FIELDS.map((name) => [name, scan?.[name] ?? null]));
  const measured = {
    label,
    idempotencyKey,
    upload: {
      status: upload.status,
      ms: Math.round(upload.ms),
      location: upload.headers.location ?? null,
      body: answer ?? upload.text.slice(0, 500),
    },
    startedAt: uploadStartedAt.toISOString(),
    seconds: Math.round(seconds * 100) / 100,
    resultsPerSecond: Math.round(RESULTS / seconds),
    polls,
    scanId,
    counts,
    scan: {
      format: scan?.format ?? null,
      repository: scan?.repository ?? null,
      ref: scan?.ref ?? null,
      attempts: scan?.attempts ?? null,
      receivedBytes: scan?.received_bytes ?? null,
    },
    serverTiming: {
      queuedMs: serverMs('received_at', 'started_at'),
      processingMs: serverMs('started_at', 'completed_at'),
      receivedToCompletedMs: serverMs('received_at', 'completed_at'),
      durationMs: scan?.duration_ms ?? null,
    },
    rss: memory,
    cpuPercentOfOneCore: cpu,
    smallWindow: windowName,
    small: smallLoad?.summary(windowName) ?? null,
  };
  progress(
    `${label}: completed after ${fixed(seconds, 2)} s (${thousands(measured.resultsPerSecond)} results/s), ` +
      `${SUMMARY_FIELDS.map((name) => `${name} ${counts[name]}`).join(', ')}; findings-service peak RSS ` +
      `${memory?.peakSampledMiB ?? 'n/a'} MiB sampled, VmHWM ${memory?.hwmMiB ?? 'n/a'} MiB` +
      (measured.small
        ? `; small uploads p99 ${measured.small.p99Ms} ms over ${measured.small.requests}`
        : ''),
  );
  return { measured, firstAnswer: { status: upload.status, text: upload.text, headers: upload.headers } };
}

/** The same JSON value, whatever the order of object keys (a stored answer may come back reordered). */
function sameJson(a, b) {
  const canonical = (value) =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, canonical(value[key])]),
          )
        : value;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** The goals for one ingest: each with the measured value and whether it was met. */
function goalsOf(measured) {
  const peak =
    measured.rss === null
      ? null
      : Math.max(
          measured.rss.peakSampledMiB ?? 0,
          measured.rss.hwmSince === 'the upload' ? (measured.rss.hwmMiB ?? 0) : 0,
        );
  const p99 = measured.small?.p99Ms ?? null;
  return {
    resultsPerSecond: {
      value: measured.resultsPerSecond,
      goal: GOALS.resultsPerSecond,
      met: measured.resultsPerSecond >= GOALS.resultsPerSecond,
    },
    peakRssMiB: { value: peak, goal: GOALS.peakRssMiB, met: peak === null ? null : peak <= GOALS.peakRssMiB },
    smallP99Ms: { value: p99, goal: GOALS.smallP99Ms, met: p99 === null ? null : p99 <= GOALS.smallP99Ms },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Report

function printReport(output) {
  const { machine, settings, document, ingests, replay, small } = output;
  report('');
  report(`Gatehouse ingest benchmark — ${output.date}`);
  report(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.totalMemoryGiB} GiB RAM, Node ${machine.node}, ` +
      `${machine.platform}; busy before the run ${machine.busyBeforePercent ?? 'n/a'}% of one core, load ` +
      `average ${machine.loadAverage.join(' / ')}`,
  );
  report(
    `Settings: ${settings.smallConnections} small-upload connection(s), apps LOG_LEVEL=${settings.logLevel}, ` +
      `NODE_ENV=production, gateway FINDINGS_UPLOAD_LIMIT_BYTES=${UPLOAD_LIMIT_BYTES}, findings-service ` +
      `SCAN_SYNC_MAX_BYTES at its default and NODE_OPTIONS=${FINDINGS_NODE_OPTIONS}` +
      (settings.revision
        ? `, built from ${settings.revision.commit}${settings.revision.dirty ? ' + uncommitted changes' : ''}`
        : '') +
      ` (bundles ${settings.bundles}), organization ${settings.organization}`,
  );
  report(
    `Report: SARIF 2.1.0, 1 run of ${TOOL_NAME}, ${document.rules} rules, ${thousands(document.results)} results ` +
      `with code flows and partialFingerprints (seed ${document.seed}); by security-severity ` +
      `${Object.entries(document.severities)
        .map(([name, count]) => `${name} ${thousands(count)}`)
        .join(
          ', ',
        )}; raw ${fixed(MiB(document.rawBytes), 2)} MiB, gzipped ${fixed(MiB(document.gzipBytes), 2)} ` +
      `MiB (limit 10 MiB); generated in ${document.generateMs} ms, gzipped in ${document.gzipMs} ms`,
  );
  report(
    `Start-up (spawn to /health/ready): ${Object.entries(output.startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')}`,
  );
  report('');
  report(
    table(
      [
        'ingest',
        'answer',
        'upload ms',
        's until completed',
        'results/s',
        ...SUMMARY_FIELDS,
        'peak RSS MiB',
        'VmHWM MiB',
        'small p99 ms',
      ],
      ingests.map((m) => [
        m.label,
        m.upload.status,
        m.upload.ms,
        fixed(m.seconds, 2),
        thousands(m.resultsPerSecond),
        ...SUMMARY_FIELDS.map((name) => thousands(m.counts[name])),
        fixed(m.rss?.peakSampledMiB),
        fixed(m.rss?.hwmMiB),
        fixed(m.small?.p99Ms),
      ]),
      [false, true, true, true, true, ...SUMMARY_FIELDS.map(() => true), true, true, true],
    ),
  );
  report('');
  for (const m of ingests) {
    const timing = m.serverTiming;
    report(
      `${m.label}: scan ${m.scanId ?? 'n/a'} (format ${m.scan.format ?? 'n/a'}, repository ` +
        `${m.scan.repository ?? 'n/a'}, ref ${m.scan.ref ?? 'n/a'}, ${m.scan.receivedBytes ?? 'n/a'} bytes received, ` +
        `${m.scan.attempts ?? 'n/a'} attempt(s)); per the scan record queued ${timing.queuedMs ?? 'n/a'} ms, ` +
        `processed in ${timing.processingMs ?? 'n/a'} ms (received → completed ${timing.receivedToCompletedMs ?? 'n/a'} ` +
        `ms); ${m.polls} polls every ${POLL_INTERVAL_MS} ms; findings-service RSS ${m.rss?.startMiB ?? 'n/a'} MiB ` +
        `before, peak ${m.rss?.peakSampledMiB ?? 'n/a'} MiB over ${m.rss?.samples ?? 0} samples (longest gap ` +
        `${m.rss?.longestGapMs ?? 'n/a'} ms), ${m.rss?.endMiB ?? 'n/a'} MiB at the end; VmHWM since ` +
        `${m.rss?.hwmSince ?? 'n/a'} ${m.rss?.hwmMiB ?? 'n/a'} MiB`,
    );
  }
  report('');
  if (small.length > 0) {
    report(
      `Small uploads (native JSON, one finding, ${settings.smallConnections} connection(s) one request after ` +
        'another, Bearer, through the gateway), by window:',
    );
    report(
      table(
        [
          'window',
          'seconds',
          'requests',
          'req/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          '429',
          'other non-2xx',
          'errors',
        ],
        small.map((s) => [
          s.window,
          fixed(s.seconds),
          s.requests,
          fixed(s.requestsPerSecond),
          fixed(s.p50Ms),
          fixed(s.p99Ms),
          fixed(s.maxMs),
          s.rateLimited,
          s.otherNon2xx,
          s.errors,
        ]),
        [false, true, true, true, true, true, true, true, true, true],
      ),
    );
    report('');
  }
  const cpuNames = [...new Set(ingests.flatMap((m) => Object.keys(m.cpuPercentOfOneCore ?? {})))];
  if (cpuNames.length > 0) {
    report(
      `CPU from the upload until completed, % of one core (${machine.cpus} cores = ${machine.cpus * 100}%; ` +
        'postgres and redis count all their processes, "everything else" is the rest of the machine):',
    );
    report(
      table(
        ['ingest', ...cpuNames],
        ingests.map((m) => [m.label, ...cpuNames.map((name) => fixed(m.cpuPercentOfOneCore?.[name]))]),
        [false, ...cpuNames.map(() => true)],
      ),
    );
    report('');
  }
  if (replay) {
    report(
      `Replay with the first Idempotency-Key: HTTP ${replay.status} in ${replay.ms} ms, Idempotent-Replayed: ` +
        `${replay.replayedHeader ?? '(absent)'}, same status ${replay.sameStatus ? 'yes' : 'NO'}, same body ` +
        `${replay.sameBody ? 'yes' : 'NO'}` +
        (replay.sameLocation === null ? '' : `, same Location ${replay.sameLocation ? 'yes' : 'NO'}`),
    );
    report('');
  }
  const goalRows = [
    ['resultsPerSecond', `≥ ${thousands(GOALS.resultsPerSecond)} results/s`, (v) => thousands(v)],
    ['peakRssMiB', `findings-service peak RSS ≤ ${GOALS.peakRssMiB} MiB`, (v) => fixed(v)],
    ['smallP99Ms', `small-upload p99 ≤ ${GOALS.smallP99Ms} ms during the ingest`, (v) => fixed(v)],
  ];
  const verdict = (entry, format) =>
    `${format(entry.value)} ${entry.met === null ? '(not measured)' : entry.met ? 'met' : 'MISSED'}`;
  report('Goals (issue 11, this machine):');
  report(
    table(
      ['goal', ...ingests.map((m) => m.label)],
      goalRows.map(([name, label, format]) => [label, ...ingests.map((m) => verdict(m.goals[name], format))]),
      [false, ...ingests.map(() => true)],
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Main

const supervisor = createSupervisor({ progress, stopGraceMs: STOP_GRACE_MS });
let smallLoad;

async function main() {
  const started = new Date();
  const machine = machineFacts();
  // Other work on the machine skews every number here; measure how busy it is before anything starts.
  machine.busyBeforePercent = await machineBusyPercent(2000);
  progress(`machine busy before the run: ${machine.busyBeforePercent}% of one core (${machine.cpus} cores)`);
  if (machine.busyBeforePercent > 25) {
    progress('warning: the machine is not idle; other work will lower and scatter the numbers');
  }

  requireBuild();
  // Before any app starts, so that generating and gzipping do not compete with them.
  const { document, gzipped } = buildDocument();

  const bundles = bundleHash();
  progress(
    `run ${RUN_ID}: bundles ${bundles}, database ${redactUrl(DATABASE_URL)}, redis ${redactUrl(REDIS_URL)}`,
  );
  await ensureDatabase(DATABASE_URL, progress);
  const revocationChannel = `gatehouse:bench-ingest:${RUN_ID}`;
  const cliEnv = {
    ...process.env,
    DATABASE_URL,
    REDIS_URL,
    KEY_EVENTS_CHANNEL: revocationChannel,
    LOG_LEVEL,
    NODE_ENV: 'production',
  };
  const migrated = runCli(['migrate'], cliEnv);
  progress(`migrate: ${migrated.stderr.trim().split('\n').pop()}`);

  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const environments = appEnvironments({
    ports: PORTS,
    databaseUrl: DATABASE_URL,
    redisUrl: REDIS_URL,
    revocationChannel,
    logLevel: LOG_LEVEL,
    privateKey,
    gateway: {
      FINDINGS_UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT_BYTES),
      // Limiter counters of this run only.
      RATE_LIMIT_KEY_PREFIX: `gatehouse-bench-ingest-${RUN_ID}`,
    },
    // As deployed (deploy/components/findings-service, docker-compose.yml): the heap its memory limit allows.
    services: { 'findings-service': { NODE_OPTIONS: FINDINGS_NODE_OPTIONS } },
  });
  progress(
    `starting ${Object.entries(PORTS)
      .map(([name, port]) => `${name}:${port}`)
      .join(', ')}`,
  );
  const startupMs = await supervisor.startAll(environments, READY_TIMEOUT_S);
  progress(
    `all ready (${Object.entries(startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')})`,
  );

  const owner = bootstrapOrganization(cliEnv, ORG_NAME);
  progress(`bootstrapped organization ${ORG_NAME} (enterprise, owner client_id ${owner.client_id})`);
  const ownerToken = await authenticate(GATEWAY, owner.api_key, owner.client_id);
  const ownerAuth = { authorization: `Bearer ${ownerToken.access_token}` };
  const permissions = ['read:findings', 'write:findings'];
  const ingestKey = await createKey(GATEWAY, ownerAuth, 'bench-ingest', permissions);
  const smallKey = await createKey(GATEWAY, ownerAuth, 'bench-small', permissions);
  progress(
    `created keys bench-ingest and bench-small with ${permissions.join(' + ')} and the override ` +
      `${KEY_OVERRIDE.requests_per_minute}/min + ${KEY_OVERRIDE.burst}`,
  );
  const ingestToken = (await authenticate(GATEWAY, ingestKey.apiKey, ingestKey.clientId)).access_token;
  const smallToken = (await authenticate(GATEWAY, smallKey.apiKey, smallKey.clientId)).access_token;

  // The endpoints the run depends on must answer before anything is measured.
  const scansProbe = await call(GATEWAY, 'GET', SCANS_PATH, {
    headers: { authorization: `Bearer ${ingestToken}` },
  });
  if (scansProbe.status !== 200) {
    let direct;
    try {
      direct = await call(origin('findings-service'), 'GET', SCANS_PATH, {
        headers: { authorization: `Bearer ${ingestToken}` },
      });
    } catch (error) {
      direct = { status: `no answer (${error.message})` };
    }
    throw new Error(
      `GET ${SCANS_PATH} answered ${scansProbe.status} through the gateway (${scansProbe.text.slice(0, 200)}) ` +
        `and ${direct.status} from findings-service directly: ` +
        (direct.status === 200
          ? 'the gateway does not route /api/v1/scans to findings-service'
          : 'this build has no scans endpoints (GET /api/v1/scans/{id} is how the bench sees an ingest complete)'),
    );
  }
  const smallProbe = await call(GATEWAY, 'POST', SMALL_PATH, {
    headers: { authorization: `Bearer ${smallToken}` },
    body: {
      findings: [
        { rule_id: 'probe', title: 't', severity: 'low', location: { path: 'a.ts', start_line: 1 } },
      ],
    },
  });
  if (smallProbe.status < 200 || smallProbe.status > 299) {
    throw new Error(`small upload probe: HTTP ${smallProbe.status}: ${smallProbe.text.slice(0, 300)}`);
  }
  progress(`probes passed (GET ${SCANS_PATH} 200, small upload ${smallProbe.status})`);

  if (SMALL_CONNECTIONS > 0) {
    smallLoad = startSmallLoad(smallToken);
    if (SMALL_WARMUP_S > 0) {
      progress(`small uploads: ${SMALL_CONNECTIONS} connection(s), warm-up ${SMALL_WARMUP_S} s`);
      smallLoad.enter('warm-up');
      await sleep(SMALL_WARMUP_S * 1000);
    }
    if (SMALL_BASELINE_S > 0) {
      progress(`small uploads: baseline ${SMALL_BASELINE_S} s without an ingest`);
      smallLoad.enter('baseline (no ingest)');
      await sleep(SMALL_BASELINE_S * 1000);
    }
    smallLoad.enter(null);
  }

  const firstKey = randomUUID();
  const first = await ingest({
    label: 'first upload (all new)',
    gzipped,
    token: ingestToken,
    idempotencyKey: firstKey,
    supervisor,
    smallLoad,
    windowName: 'during the first upload',
  });
  const second = await ingest({
    label: 're-scan (all unchanged)',
    gzipped,
    token: ingestToken,
    idempotencyKey: randomUUID(),
    supervisor,
    smallLoad,
    windowName: 'during the re-scan',
  });
  if (smallLoad) {
    await smallLoad.stop();
    progress('small uploads stopped');
  }

  progress('replaying the first upload with its Idempotency-Key');
  const replayAgent = new http.Agent({ keepAlive: false });
  let replayed;
  try {
    replayed = await request(replayAgent, 'POST', GATEWAY + FINDINGS_PATH, {
      headers: {
        authorization: `Bearer ${ingestToken}`,
        'content-type': 'application/sarif+json',
        'content-encoding': 'gzip',
        'idempotency-key': firstKey,
      },
      body: gzipped,
      timeoutMs: UPLOAD_TIMEOUT_S * 1000,
    });
  } finally {
    replayAgent.destroy();
  }
  const firstBody = parseJson(first.firstAnswer.text);
  const replay = {
    status: replayed.status,
    ms: Math.round(replayed.ms),
    replayedHeader: replayed.headers['idempotent-replayed'] ?? null,
    sameStatus: replayed.status === first.firstAnswer.status,
    sameBody: firstBody !== undefined && sameJson(parseJson(replayed.text), firstBody),
    sameLocation:
      first.firstAnswer.headers.location === undefined
        ? null
        : replayed.headers.location === first.firstAnswer.headers.location,
    body: parseJson(replayed.text) ?? replayed.text.slice(0, 500),
  };

  const ingests = [first.measured, second.measured];
  for (const measured of ingests) {
    // Again now that the loops have stopped: requests still in flight at completion have their answers.
    if (smallLoad) measured.small = smallLoad.summary(measured.smallWindow);
    measured.goals = goalsOf(measured);
  }
  const small = smallLoad
    ? ['warm-up', 'baseline (no ingest)', 'during the first upload', 'during the re-scan']
        .map((name) => smallLoad.summary(name))
        .filter(Boolean)
    : [];

  const expected = [
    [first.measured, { results: RESULTS, new: RESULTS, unchanged: 0, fixed: 0, reopened: 0 }],
    [second.measured, { results: RESULTS, new: 0, unchanged: RESULTS, fixed: 0, reopened: 0 }],
  ];
  const failures = [];
  for (const [measured, counts] of expected) {
    const wrong = SUMMARY_FIELDS.filter((name) => measured.counts[name] !== counts[name]);
    if (wrong.length > 0) {
      failures.push(
        `${measured.label}: ${wrong.map((name) => `${name} ${measured.counts[name]} (expected ${counts[name]})`).join(', ')}`,
      );
    }
  }
  if (replay.replayedHeader !== 'true') failures.push('replay: no Idempotent-Replayed: true header');
  if (!replay.sameStatus)
    failures.push(`replay: HTTP ${replay.status}, the first answer was ${first.firstAnswer.status}`);
  if (!replay.sameBody) failures.push('replay: the body differs from the first answer');
  if (replay.sameLocation === false) failures.push('replay: the Location differs from the first answer');
  for (const s of small) {
    if (s.otherNon2xx > 0 || s.errors > 0) {
      failures.push(
        `small uploads ${s.window}: ${s.otherNon2xx} non-2xx other than 429 ` +
          `(${JSON.stringify(s.statusCodes)}) and ${s.errors} errors (${JSON.stringify(s.errorKinds)})`,
      );
    }
  }

  return {
    date: started.toISOString(),
    machine,
    settings: {
      results: RESULTS,
      seed: SEED,
      smallConnections: SMALL_CONNECTIONS,
      smallWarmupSeconds: SMALL_WARMUP_S,
      smallBaselineSeconds: SMALL_BASELINE_S,
      pollIntervalMs: POLL_INTERVAL_MS,
      rssIntervalMs: RSS_INTERVAL_MS,
      keyOverride: KEY_OVERRIDE,
      logLevel: LOG_LEVEL,
      ports: PORTS,
      database: redactUrl(DATABASE_URL),
      redis: redactUrl(REDIS_URL),
      organization: ORG_NAME,
      revision: gitRevision(),
      bundles,
    },
    goals: GOALS,
    document,
    startupMs,
    ingests,
    small,
    replay,
    failures,
  };
}

if (generateOnlyFile !== undefined) {
  let code = 1;
  try {
    code = generateOnly(generateOnlyFile);
  } catch (error) {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(code);
}

const watchdog = setTimeout(() => {
  progress(`the whole run exceeded BENCH_TIMEOUT=${TOTAL_TIMEOUT_S} s; aborting`);
  void supervisor.stopApps().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_S * 1000);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    progress(`received ${signal}; stopping`);
    void supervisor.stopApps().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 1)));
  });
}

let exitCode = 0;
try {
  const output = await main();
  await supervisor.stopApps();
  const everyApp = [...supervisor.retiredApps, ...supervisor.apps.values()];
  output.logLines = Object.fromEntries(everyApp.map((app) => [app.name, app.lines]));
  output.shutdown = supervisor.shutdownReport();
  printReport(output);
  const logged = Object.entries(output.logLines).filter(([, count]) => count > 0);
  if (logged.length > 0) {
    report(
      `App log lines at LOG_LEVEL=${LOG_LEVEL}: ${logged.map(([name, count]) => `${name} ${count}`).join(', ')}`,
    );
  }
  // Nest's shutdown hooks close the app and then re-raise the signal, so "SIGTERM" is a clean stop here.
  const badShutdown = Object.entries(output.shutdown).filter(
    ([, s]) => s.killed || (s.exit !== 0 && s.exit !== 'SIGTERM'),
  );
  if (badShutdown.length > 0) {
    report(
      `Shutdown: ${badShutdown.map(([name, s]) => `${name} exit ${s.exit}${s.killed ? ' (killed)' : ''}`).join(', ')}`,
    );
  }
  const crashed = everyApp.filter((app) => app.unexpectedExit);
  for (const app of crashed) {
    output.failures.push(`${app.name} exited during the run (${app.exitSignal ?? app.exitCode})`);
    supervisor.printTail(app);
  }
  for (const failure of output.failures) report(`FAIL: ${failure}`);
  if (output.failures.length === 0)
    report('Checks passed: counts as expected, replay identical, no failed small upload.');
  // A missed goal is a finding to report, not a failed run: benchmarks print numbers.
  output.ok = output.failures.length === 0;
  if (jsonOutput) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  if (!output.ok) exitCode = 1;
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  for (const app of [...supervisor.retiredApps, ...supervisor.apps.values()]) {
    if (app.unexpectedExit)
      progress(`(${app.name} had exited on its own: ${app.exitSignal ?? app.exitCode})`);
  }
  if (smallLoad) {
    await smallLoad.stop().catch((stopError) => progress(`stopping the small uploads: ${stopError.message}`));
  }
  await supervisor.stopApps();
  exitCode = 1;
}
clearTimeout(watchdog);
process.exit(exitCode);
