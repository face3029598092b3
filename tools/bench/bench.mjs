#!/usr/bin/env node
// Load benchmark of the two hot paths a pipeline uses, through the gateway and against the services directly:
//   1. POST /api/v1/auth/m2m/authenticate  (API key -> RS256 access token)
//   2. POST /api/v1/findings               (Bearer token, or the API key itself, one finding per request)
// and the RS256 signing ceiling of this machine (tools/bench/sign-ceiling.mjs, a plain jose SignJWT loop in one
// process, as auth-service is one process), so that authenticate ÷ ceiling can be printed.
//
// It migrates a dedicated database, measures the signing ceiling while nothing else of the bench runs, starts the
// four built apps on their own ports, bootstraps a throwaway enterprise organization, creates through the gateway
// one key for authenticate and BENCH_PIPELINE_KEYS pipeline keys, each with the highest per-key rate-limit
// override (100 000/min + burst 10 000), and runs autocannon per scenario. Each round has two gateway phases, the
// gateway restarted in between with the same upstreams:
//   rate limits on   authenticate via the gateway, authenticate against auth-service directly, findings via the
//                    gateway (Bearer), findings against findings-service directly, findings via the gateway with
//                    X-API-Key (direct key authentication);
//   rate limits off  (RATE_LIMIT_ENABLED=false) the three gateway scenarios again.
// With limits on, the authenticate limit is raised for the run (AUTH_RATE_LIMIT_PER_SECOND/BURST below) so that
// every request is still decided by the limiter but admitted; the findings connections are spread round-robin
// over the pipeline keys. Every response must be 2xx (a 429 fails the run). Rounds after the first swap the order
// of the two phases (on/off, off/on, …) so that drift of the shared machine cancels out.
//
// It prints gateway overhead % = (direct − gateway) ÷ direct, authenticate ÷ signing ceiling, and the limiter's
// cost % = (limits off − limits on) ÷ limits off, flagged above 10 %. The apps are always stopped (SIGTERM, then
// SIGKILL if they hang) and every step is bounded in time. Each run leaves its organization and findings in the
// bench database; drop the database to start afresh. Rate-limit counters in Redis expire by themselves.
//
// Usage: npm run bench            (builds first)
//        node tools/bench/bench.mjs [--json] [--help]   (expects `nx run-many -t build` to have run)
//
// Environment (all optional):
//   DATABASE_URL         default postgres://postgres@127.0.0.1:5432/gatehouse_bench (created if missing)
//   REDIS_URL            default redis://127.0.0.1:6379
//   BENCH_DURATION       seconds measured per scenario (default 10)
//   BENCH_WARMUP         seconds of discarded warm-up per scenario (default 2)
//   BENCH_CONNECTIONS    concurrent connections (default 10, as in the M8 goals)
//   BENCH_PEER           1 (default) runs the peer, panva's oidc-provider client_credentials token endpoint
//                        (tools/bench/peer/oidc-provider.mjs), in every round and prints our rates as ratios of its;
//                        0 skips it
//   BENCH_PEER_PORT      default 13900
//   BENCH_ROUNDS         rounds of the limits-on and limits-off phases (default 1)
//   BENCH_PIPELINE_KEYS  pipeline keys the findings connections are spread over (default 4)
//   BENCH_SIGN_SECONDS   seconds per signing-ceiling loop (default 3; 0 skips the ceiling)
//   BENCH_RATE_LIMIT_LEASE_DIVISOR  the gateway's RATE_LIMIT_LEASE_DIVISOR (default: the gateway's, 100; 0 = no leases)
//   BENCH_AUTH_RATE_LIMIT_PER_SECOND / BENCH_AUTH_RATE_LIMIT_BURST
//                        the gateway's AUTH_RATE_LIMIT_PER_SECOND / AUTH_RATE_LIMIT_BURST with limits on
//                        (default 1000000 / 100000: decided by the limiter, never refused)
//   BENCH_LIMITER_BUDGET limiter cost in % above which the run flags it (default 10)
//   BENCH_LOG_LEVEL      LOG_LEVEL of the apps (default warn)
//   BENCH_GATEWAY_PORT / BENCH_AUTH_PORT / BENCH_FINDINGS_PORT / BENCH_ADMIN_PORT
//                        default 18080 / 13001 / 13002 / 13003
//   BENCH_READY_TIMEOUT  seconds to wait for every app's /health/ready (default 60)
//   BENCH_TIMEOUT        hard limit for the whole run in seconds (default: derived from the durations)
//
// --json: the JSON results go alone to stdout and the human-readable report to stderr, so that
//         `node tools/bench/bench.mjs --json > result.json` works.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  appEnvironments,
  AUTHENTICATE_PATH,
  authenticate,
  bootstrapOrganization,
  bundleHash,
  call,
  cpuBetween,
  cpuSnapshot,
  createKey,
  createSupervisor,
  ensureDatabase,
  expectStatus,
  fixed,
  gitRevision,
  KEY_OVERRIDE,
  machineBusyPercent,
  machineFacts,
  managementOrigin,
  numberFromEnv,
  redactUrl,
  requireBuild,
  root,
  runCli,
  table,
  USAGE_EXIT_CODE,
  usageOf,
  withDeadline,
} from './lib/servers.mjs';

const signCeilingScript = join(root, 'tools/bench/sign-ceiling.mjs');
const args = process.argv.slice(2);

if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usageOf(import.meta.url));
  process.exit(0);
}
const unknownArgs = args.filter((arg) => arg !== '--json');
if (unknownArgs.length > 0) {
  process.stderr.write(`unknown argument(s): ${unknownArgs.join(' ')} (accepted: --json, --help)\n`);
  process.exit(USAGE_EXIT_CODE);
}
const jsonOutput = args.includes('--json');

const DURATION_S = numberFromEnv('BENCH_DURATION', 10, { min: 1 });
const WARMUP_S = numberFromEnv('BENCH_WARMUP', 2, { min: 0 });
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 10, { min: 1, integer: true });
const PEER = (process.env.BENCH_PEER ?? '1') !== '0';
const PEER_PORT = numberFromEnv('BENCH_PEER_PORT', 13900, { min: 1, integer: true });
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 1, { min: 1, integer: true });
const PIPELINE_KEYS = numberFromEnv('BENCH_PIPELINE_KEYS', 4, { min: 1, integer: true });
const SIGN_S = numberFromEnv('BENCH_SIGN_SECONDS', 3, { min: 0 });
// Unset: the gateway's default (leases of 1 % of a window); 0: one Redis call per limited request.
const LEASE_DIVISOR = process.env.BENCH_RATE_LIMIT_LEASE_DIVISOR || undefined;
const AUTH_LIMIT_PER_SECOND = numberFromEnv('BENCH_AUTH_RATE_LIMIT_PER_SECOND', 1_000_000, {
  min: 1,
  integer: true,
});
const AUTH_LIMIT_BURST = numberFromEnv('BENCH_AUTH_RATE_LIMIT_BURST', 100_000, { min: 0, integer: true });
const LIMITER_BUDGET_PERCENT = numberFromEnv('BENCH_LIMITER_BUDGET', 10, { min: 0 });
const READY_TIMEOUT_S = numberFromEnv('BENCH_READY_TIMEOUT', 60, { min: 1 });
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'warn';
const PORTS = {
  'api-gateway': numberFromEnv('BENCH_GATEWAY_PORT', 18080, { min: 1, integer: true }),
  'auth-service': numberFromEnv('BENCH_AUTH_PORT', 13001, { min: 1, integer: true }),
  'findings-service': numberFromEnv('BENCH_FINDINGS_PORT', 13002, { min: 1, integer: true }),
  'admin-api': numberFromEnv('BENCH_ADMIN_PORT', 13003, { min: 1, integer: true }),
};
const REQUEST_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 10_000;
/** Scenarios per round: five with limits on, three with limits off, and the peer. */
const SCENARIOS_PER_ROUND = 9;
const SIGN_LOOPS = 4;
/** Bound of the signing-ceiling child: its loops, their warm-ups, key loading and some slack. */
const SIGN_TIMEOUT_MS = (SIGN_LOOPS * (SIGN_S + 1) + 30) * 1000;
const TOTAL_TIMEOUT_S = numberFromEnv(
  'BENCH_TIMEOUT',
  180 +
    READY_TIMEOUT_S +
    (SIGN_S > 0 ? SIGN_TIMEOUT_MS / 1000 : 0) +
    ROUNDS * SCENARIOS_PER_ROUND * (WARMUP_S + DURATION_S + 30) +
    // At most two gateway restarts per round, each a bounded stop and a bounded start.
    2 * ROUNDS * (STOP_GRACE_MS / 1000 + 2 + READY_TIMEOUT_S),
  { min: 10 },
);

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/gatehouse_bench';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RUN_ID = randomBytes(4).toString('hex');
const REVOCATION_CHANNEL = `gatehouse:bench:${RUN_ID}`;
/** Namespaces the gateway's limiter counters in Redis: runs never share counters. */
const RATE_LIMIT_KEY_PREFIX = `gatehouse-bench-${RUN_ID}`;
const ORG_NAME = `bench-${RUN_ID}`;
const origin = (name) => `http://127.0.0.1:${PORTS[name]}`;
const GATEWAY = origin('api-gateway');
const FINDINGS_PATH = '/api/v1/findings';
const FINDINGS_BODY = JSON.stringify({
  findings: [{ rule_id: 'R1', title: 't', severity: 'high', location: { path: 'src/a.ts', start_line: 1 } }],
});

const PEER_SCRIPT = join(root, 'tools/bench/peer/oidc-provider.mjs');
const PEER_URL = `http://127.0.0.1:${PEER_PORT}`;
const PEER_TOKEN_PATH = '/token';
const PEER_HEADERS = {
  authorization: `Basic ${Buffer.from('bench-client:bench-secret-0123456789abcdef0123456789abcdef').toString('base64')}`,
};
const PEER_BODY =
  'grant_type=client_credentials&scope=write%3Afindings&resource=https%3A%2F%2Ffindings.api.test%2F';

/**
 * The goals of the M8 issue: our rates as multiples of the peer's token rate in the same run, and CPU per request
 * per process (ms of one core per request).
 */
const GOALS = {
  authenticateDirectToPeer: 1.4,
  authenticateGatewayToPeer: 1.0,
  findingsGatewayToPeer: 0.7,
  gatewayCpuMsPerRequest: 0.35,
  authCpuMsPerToken: 0.45,
  findingsCpuMsPerUpload: 0.3,
  postgresCpuMsPerUpload: 0.15,
  gatewayP99Ms: 15,
};

const report = (line = '') => (jsonOutput ? process.stderr : process.stdout).write(`${line}\n`);
const progress = (line) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------------------------------------------------
// Child processes

// The gateway is restarted between phases; its stopped instances stay in `retiredApps` for the report.
const { apps, retiredApps, startApp, stopApp, stopApps, waitReady, startAll, printTail } = createSupervisor({
  progress,
  stopGraceMs: STOP_GRACE_MS,
});

/** pid -> name of the processes whose CPU is reported apart: this process (the load generator) and each app. */
function cpuGroups() {
  const groups = new Map([[process.pid, 'bench (autocannon)']]);
  for (const app of apps.values()) groups.set(app.child.pid, app.name);
  if (peer?.pid) groups.set(peer.pid, 'oidc-provider');
  return groups;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

let currentCannon;
/** The peer's process while it runs. */
let peer;

/** Starts the peer and waits until its token endpoint answers a sane token (RS256, 1800 s). */
async function startPeer() {
  progress(`starting the peer (oidc-provider) on ${PEER_URL}`);
  peer = spawn(process.execPath, [PEER_SCRIPT], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(PEER_PORT) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  peer.stdout.on('data', (chunk) => (output += chunk));
  peer.stderr.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + READY_TIMEOUT_S * 1000;
  while (!output.includes('listening')) {
    if (peer.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the peer did not start: ${output.trim().slice(0, 500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const response = await fetch(`${PEER_URL}${PEER_TOKEN_PATH}`, {
    method: 'POST',
    headers: { ...PEER_HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
    body: PEER_BODY,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.json();
  const [header, claims] = String(body.access_token)
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  if (response.status !== 200 || header.alg !== 'RS256' || claims.exp - claims.iat !== 1800) {
    throw new Error(`the peer answered ${response.status} without a 30-minute RS256 token`);
  }
  progress('peer ready: client_credentials → RS256 JWT, 1800 s');
}

async function stopPeer() {
  if (!peer || peer.exitCode !== null) return;
  const exited = new Promise((resolve) => peer.once('exit', resolve));
  peer.kill('SIGTERM');
  const timer = setTimeout(() => peer.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function cannon(options) {
  return new Promise((resolve, reject) => {
    const errorKinds = {};
    const instance = autocannon(
      { pipelining: 1, timeout: REQUEST_TIMEOUT_MS / 1000, ...options },
      (error, result) => {
        currentCannon = undefined;
        if (error) reject(error);
        else resolve({ result, errorKinds });
      },
    );
    instance.on('reqError', (error) => {
      const kind = error?.code ?? error?.message ?? String(error);
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    });
    currentCannon = instance;
  });
}

/**
 * The gateway's limiter decisions so far (`gatehouse_rate_limit_decisions_total` on its management port), by
 * "policy/decision/store"; null when they cannot be read.
 */
async function limiterDecisions() {
  try {
    const response = await fetch(`${managementOrigin(PORTS['api-gateway'])}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    if (response.status !== 200) return null;
    const counts = {};
    for (const line of (await response.text()).split('\n')) {
      if (!line.startsWith('gatehouse_rate_limit_decisions_total{')) continue;
      const match = /\{([^}]*)\}\s+(\S+)$/.exec(line);
      if (!match) continue;
      const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
      counts[`${labels.policy}/${labels.decision}/${labels.store}`] = Number(match[2]);
    }
    return counts;
  } catch {
    return null;
  }
}

function decisionsBetween(before, after) {
  if (!before || !after) return null;
  const delta = {};
  for (const [name, count] of Object.entries(after)) {
    const difference = count - (before[name] ?? 0);
    if (difference > 0) delta[name] = difference;
  }
  return delta;
}

/**
 * Runs one scenario: warm-up (discarded), then the measured window with the CPU of every process sampled around
 * it. `scenario.headerSets`, when given, are spread over the connections round-robin (connection i gets set
 * i mod n), e.g. one per pipeline key.
 */
async function runScenario(scenario) {
  const baseHeaders = { 'content-type': scenario.contentType ?? 'application/json' };
  const sets = scenario.headerSets ?? [scenario.headers ?? {}];
  const options = () => {
    let next = 0;
    return {
      url: scenario.base + scenario.path,
      method: 'POST',
      headers: { ...baseHeaders, ...sets[0] },
      body: scenario.body,
      connections: CONNECTIONS,
      ...(sets.length > 1 && {
        setupClient: (client) => client.setHeaders({ ...baseHeaders, ...sets[next++ % sets.length] }),
      }),
    };
  };
  const bound = (seconds) => (seconds + 30) * 1000;
  let warmup;
  if (WARMUP_S > 0) {
    progress(`${scenario.name}: warm-up ${WARMUP_S} s`);
    const { result } = await withDeadline(
      cannon({ ...options(), duration: WARMUP_S }),
      bound(WARMUP_S),
      `${scenario.name} warm-up`,
    );
    warmup = { requests: result.requests.total, non2xx: result.non2xx, errors: result.errors };
    if (result.non2xx || result.errors) {
      progress(`${scenario.name}: warm-up had ${result.non2xx} non-2xx and ${result.errors} errors`);
    }
  }
  progress(`${scenario.name}: measuring ${DURATION_S} s with ${CONNECTIONS} connections`);
  const throughGateway = scenario.target === 'api-gateway';
  const decisionsBefore = throughGateway ? await limiterDecisions() : null;
  const before = cpuSnapshot();
  const { result, errorKinds } = await withDeadline(
    cannon({ ...options(), duration: DURATION_S }),
    bound(DURATION_S),
    scenario.name,
  );
  const cpu = cpuBetween(before, cpuSnapshot(), cpuGroups());
  // Counted from just before to just after the window: a few decisions of the warm-up's last requests may be in.
  const decisions = throughGateway ? decisionsBetween(decisionsBefore, await limiterDecisions()) : null;
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats.count]),
  );
  progress(
    `${scenario.name}: ${fixed(result.requests.average)} req/s, p99 ${result.latency.p99} ms` +
      (result.non2xx || result.errors ? `, ${result.non2xx} non-2xx, ${result.errors} errors` : ''),
  );
  return {
    scenario: scenario.name,
    id: scenario.id,
    round: scenario.round,
    target: scenario.target,
    rateLimits: scenario.rateLimits,
    credentials: scenario.credentials,
    path: scenario.path,
    url: scenario.base + scenario.path,
    keys: sets.length,
    requestsPerSecond: result.requests.average,
    requestsPerSecondStddev: result.requests.stddev,
    totalRequests: result.requests.total,
    latencyMs: {
      average: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    errorKinds,
    durationSeconds: result.duration,
    cpuPercentOfOneCore: cpu,
    limiterDecisions: decisions,
    warmup,
  };
}

/**
 * The signing ceiling, measured in a child process of its own (one process, like auth-service) while no app of
 * the bench runs yet. Returns its JSON, plus the CPU table of the window.
 */
async function measureSigningCeiling(privateKeyPem) {
  progress(
    `signing ceiling: ${SIGN_LOOPS} loops of ${SIGN_S} s (TokenSigner and jose SignJWT ${CONNECTIONS} in ` +
      'flight, jose one at a time, node:crypto sign on one thread)',
  );
  const before = cpuSnapshot();
  const child = spawn(process.execPath, [signCeilingScript, '--json'], {
    cwd: root,
    env: {
      ...process.env,
      SIGN_KEY_PEM: privateKeyPem,
      BENCH_SIGN_SECONDS: String(SIGN_S),
      SIGN_CONCURRENCY: String(CONNECTIONS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let exit;
  try {
    exit = await withDeadline(exited, SIGN_TIMEOUT_MS, 'the signing ceiling');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const after = cpuSnapshot();
  if (exit.code !== 0) {
    throw new Error(
      `sign-ceiling.mjs exited with ${exit.signal ?? exit.code}: ${stderr.trim().slice(0, 500)}`,
    );
  }
  const ceiling = JSON.parse(stdout);
  // The machine's busy time during the loops, minus the child's own: the work of others that shared the cores.
  const wall = Number(after.at - before.at) / 1e9;
  const machineTotal = after.machine.total - before.machine.total;
  const busy =
    machineTotal > 0
      ? ((after.machine.busy - before.machine.busy) / machineTotal) * os.cpus().length * 100
      : null;
  // The child reports its own CPU time: it has exited, so /proc no longer knows it.
  const childSeconds = ceiling.totalCpuSeconds ?? 0;
  ceiling.window = {
    seconds: Math.round(wall * 10) / 10,
    machineBusyPercent: busy === null ? null : Math.round(busy * 10) / 10,
    otherPercent:
      busy === null ? null : Math.max(0, Math.round((busy - (childSeconds / wall) * 100) * 10) / 10),
  };
  for (const [name, loop] of Object.entries(ceiling.loops)) {
    progress(
      `signing ceiling ${name}: ${loop.perSecond}/s (${loop.msEach} ms each, CPU ${loop.cpuPercentOfOneCore}%)`,
    );
  }
  return ceiling;
}
// ---------------------------------------------------------------------------------------------------------
// Output

const round1 = (value) =>
  typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 10) / 10 : null;
const mean = (values) =>
  values.length > 0 ? values.reduce((sum, value) => sum + value, 0) / values.length : null;
/** How much lower `value` is than `reference`, in % of `reference` (negative: higher). */
const percentBelow = (value, reference) =>
  typeof value === 'number' && typeof reference === 'number' && reference > 0
    ? ((reference - value) / reference) * 100
    : null;
const ratio = (value, reference) =>
  typeof value === 'number' && typeof reference === 'number' && reference > 0 ? value / reference : null;

/** The processes whose CPU per request is reported: ours, the stores, the peer. */
const SERVER_PROCESSES = [
  'api-gateway',
  'auth-service',
  'findings-service',
  'admin-api',
  'postgres',
  'redis',
  'oidc-provider',
];

/**
 * `id`'s rate as a multiple of the peer's, round by round (each round measures both on the same machine within
 * minutes), then the mean over the rounds; null without the peer.
 */
function ratioToPeer(results, id) {
  const ratios = [];
  for (const row of results.filter((r) => r.id === id)) {
    const peerRow = results.find((r) => r.id === 'peer-token' && r.round === row.round);
    const value = ratio(row.requestsPerSecond, peerRow?.requestsPerSecond);
    if (value !== null) ratios.push(value);
  }
  const average = mean(ratios);
  return average === null ? null : Math.round(average * 1000) / 1000;
}

/** One scenario over every round: mean req/s and latencies, and each round's req/s. */
function aggregate(results, id) {
  const rows = results.filter((r) => r.id === id);
  if (rows.length === 0) return null;
  return {
    scenario: rows[0].scenario.replace(/ \(round \d+\)$/, ''),
    rounds: rows.length,
    requestsPerSecond: round1(mean(rows.map((r) => r.requestsPerSecond))),
    p50Ms: round1(mean(rows.map((r) => r.latencyMs.p50))),
    p99Ms: round1(mean(rows.map((r) => r.latencyMs.p99))),
    perRound: rows.map((r) => round1(r.requestsPerSecond)),
    /** CPU time per request of each server process, in ms of one core (its CPU % ÷ the request rate). */
    cpuMsPerRequest: Object.fromEntries(
      SERVER_PROCESSES.filter((name) => rows.some((r) => (r.cpuPercentOfOneCore?.[name] ?? 0) > 0)).map(
        (name) => [
          name,
          Math.round(
            mean(
              rows.map((r) => (r.cpuPercentOfOneCore?.[name] ?? 0) / 100 / (r.requestsPerSecond || Infinity)),
            ) * 1e6,
          ) / 1e3,
        ],
      ),
    ),
    /** CPU used by everything outside the bench and its apps during the windows, % of one core. */
    otherCpuPercent: round1(mean(rows.map((r) => r.cpuPercentOfOneCore?.['everything else'] ?? 0))),
    /** Limiter decisions taken in memory because Redis did not answer in time (should be none). */
    localDecisions: rows.some((r) => r.limiterDecisions)
      ? rows.reduce(
          (sum, r) =>
            sum +
            Object.entries(r.limiterDecisions ?? {})
              .filter(([name]) => name.endsWith('/local'))
              .reduce((subtotal, [, count]) => subtotal + count, 0),
          0,
        )
      : null,
  };
}

function summarize(results, ceiling) {
  const get = (id) => aggregate(results, id);
  const rps = (entry) => entry?.requestsPerSecond ?? null;
  const authGateway = get('authenticate-gateway-limits-on');
  const authDirect = get('authenticate-direct');
  const authGatewayOff = get('authenticate-gateway-limits-off');
  const findingsGateway = get('findings-gateway-limits-on');
  const findingsDirect = get('findings-direct');
  const findingsGatewayOff = get('findings-gateway-limits-off');
  const apiKeyGateway = get('findings-api-key-gateway-limits-on');
  const apiKeyGatewayOff = get('findings-api-key-gateway-limits-off');
  const ceilingRate =
    ceiling?.loops?.['token-signer']?.perSecond ?? ceiling?.loops?.['jose-concurrent']?.perSecond ?? null;
  const singleThreadRate = ceiling?.loops?.['node-sign']?.perSecond ?? null;
  const round3 = (value) => (value === null ? null : Math.round(value * 1000) / 1000);
  const limiter = (on, off) => {
    const cost = round1(percentBelow(rps(on), rps(off)));
    return {
      limitsOn: rps(on),
      limitsOff: rps(off),
      p99LimitsOnMs: on?.p99Ms ?? null,
      p99LimitsOffMs: off?.p99Ms ?? null,
      costPercent: cost,
      overBudget: cost !== null && cost > LIMITER_BUDGET_PERCENT,
    };
  };
  const limiterCost = {
    budgetPercent: LIMITER_BUDGET_PERCENT,
    authenticate: limiter(authGateway, authGatewayOff),
    findings: limiter(findingsGateway, findingsGatewayOff),
    findingsApiKey: limiter(apiKeyGateway, apiKeyGatewayOff),
  };
  const peerToken = get('peer-token');
  const toPeer = {
    authenticateDirect: ratioToPeer(results, 'authenticate-direct'),
    authenticateGateway: ratioToPeer(results, 'authenticate-gateway-limits-on'),
    findingsGateway: ratioToPeer(results, 'findings-gateway-limits-on'),
  };
  const cpu = (entry, name) => entry?.cpuMsPerRequest?.[name] ?? null;
  const goal = (name, value, target, atMost = false) => ({
    name,
    value,
    goal: target,
    met: value === null ? null : atMost ? value <= target : value >= target,
    atMost,
  });
  const goals = [
    goal('authenticate direct ÷ peer', toPeer.authenticateDirect, GOALS.authenticateDirectToPeer),
    goal('authenticate via the gateway ÷ peer', toPeer.authenticateGateway, GOALS.authenticateGatewayToPeer),
    goal('findings POST via the gateway ÷ peer', toPeer.findingsGateway, GOALS.findingsGatewayToPeer),
    goal(
      'gateway CPU ms per proxied findings POST',
      cpu(findingsGateway, 'api-gateway'),
      GOALS.gatewayCpuMsPerRequest,
      true,
    ),
    goal(
      'gateway CPU ms per proxied authenticate',
      cpu(authGateway, 'api-gateway'),
      GOALS.gatewayCpuMsPerRequest,
      true,
    ),
    goal('auth-service CPU ms per token', cpu(authDirect, 'auth-service'), GOALS.authCpuMsPerToken, true),
    goal(
      'findings-service CPU ms per upload',
      cpu(findingsDirect, 'findings-service'),
      GOALS.findingsCpuMsPerUpload,
      true,
    ),
    goal('PostgreSQL CPU ms per upload', cpu(findingsDirect, 'postgres'), GOALS.postgresCpuMsPerUpload, true),
    goal('p99 ms, authenticate via the gateway', authGateway?.p99Ms ?? null, GOALS.gatewayP99Ms, true),
    goal('p99 ms, findings POST via the gateway', findingsGateway?.p99Ms ?? null, GOALS.gatewayP99Ms, true),
  ];
  return {
    peer: peerToken,
    toPeer,
    goals,
    authenticate: {
      gateway: authGateway,
      direct: authDirect,
      gatewayOverheadPercent: round1(percentBelow(rps(authGateway), rps(authDirect))),
      signingCeilingPerSecond: ceilingRate,
      gatewayToCeiling: round3(ratio(rps(authGateway), ceilingRate)),
      directToCeiling: round3(ratio(rps(authDirect), ceilingRate)),
      singleThreadSignPerSecond: singleThreadRate,
    },
    findings: {
      gateway: findingsGateway,
      direct: findingsDirect,
      gatewayOverheadPercent: round1(percentBelow(rps(findingsGateway), rps(findingsDirect))),
      apiKeyGateway,
      /** X-API-Key throughput relative to Bearer's, in % (positive: faster). */
      apiKeyVsBearerPercent: (() => {
        const relative = ratio(rps(apiKeyGateway), rps(findingsGateway));
        return relative === null ? null : round1(relative * 100 - 100);
      })(),
    },
    limiterCost,
    limiterOverBudget: ['authenticate', 'findings', 'findingsApiKey'].some(
      (name) => limiterCost[name].overBudget,
    ),
  };
}

function printReport(output) {
  const { machine, settings, results, signingCeiling: ceiling, summary } = output;
  report('');
  report(`Gatehouse benchmark — ${output.date}`);
  report(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.totalMemoryGiB} GiB RAM, Node ${machine.node}, ` +
      `${machine.platform}`,
  );
  report(
    `Before the run: machine busy ${machine.busyBeforePercent ?? 'n/a'}% of one core, ` +
      `load average ${machine.loadAverage.join(' / ')}`,
  );
  report(
    `Settings: ${settings.connections} connections, ${settings.durationSeconds} s measured after ` +
      `${settings.warmupSeconds} s warm-up per scenario, ${settings.rounds} round(s), findings spread over ` +
      `${settings.pipelineKeys} pipeline key(s) with override ${settings.keyOverride.requests_per_minute}/min + ` +
      `${settings.keyOverride.burst}, limits on: AUTH_RATE_LIMIT_PER_SECOND=${settings.authRateLimit.perSecond} ` +
      `burst ${settings.authRateLimit.burst}; apps LOG_LEVEL=${settings.logLevel}, NODE_ENV=production, ` +
      `autocannon ${settings.autocannon}` +
      (settings.revision
        ? `, built from ${settings.revision.commit}${settings.revision.dirty ? ' + uncommitted changes' : ''}`
        : '') +
      ` (bundles ${settings.bundles})`,
  );
  report(
    `Start-up (spawn to /health/ready): ${Object.entries(output.startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')}; gateway restarts: ${
      output.gatewayStarts
        .slice(1)
        .map((start) => `limits ${start.rateLimits ? 'on' : 'off'} ${start.readyMs} ms`)
        .join(', ') || 'none'
    }`,
  );
  report('');
  if (ceiling) {
    const loops = ceiling.loops;
    report(
      `RS256 signing ceiling (tools/bench/sign-ceiling.mjs, one process, RSA-${ceiling.key.modulusLength}, ` +
        `jose ${ceiling.jose}, ${ceiling.secondsPerLoop} s per loop, other CPU during it ` +
        `${ceiling.window.otherPercent ?? 'n/a'}% of one core):`,
    );
    report(
      table(
        ['loop', 'signatures/s', 'ms each', 'CPU % of one core'],
        [
          [
            `TokenSigner (node:crypto on the libuv pool), ${ceiling.concurrency} in flight (the ceiling)`,
            loops['token-signer'],
          ],
          [`jose SignJWT, ${ceiling.concurrency} in flight`, loops['jose-concurrent']],
          ['jose SignJWT, one at a time', loops['jose-serial']],
          ['node:crypto sign, one thread', loops['node-sign']],
        ].map(([name, loop]) => [
          name,
          fixed(loop.perSecond),
          fixed(loop.msEach, 3),
          fixed(loop.cpuPercentOfOneCore),
        ]),
        [false, true, true, true],
      ),
    );
    report('');
  }
  report(
    table(
      ['scenario', 'req/s (avg)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'requests', 'other CPU %'],
      results.map((r) => [
        r.scenario,
        fixed(r.requestsPerSecond),
        fixed(r.latencyMs.p50, 0),
        fixed(r.latencyMs.p99, 0),
        r.non2xx,
        r.errors,
        r.totalRequests,
        fixed(r.cpuPercentOfOneCore?.['everything else']),
      ]),
      [false, true, true, true, true, true, true, true],
    ),
  );
  report('');
  const cpuNames = [...new Set(results.flatMap((r) => Object.keys(r.cpuPercentOfOneCore ?? {})))];
  if (cpuNames.length > 0) {
    report(
      `CPU during the measured window, % of one core (${machine.cpus} cores = ${machine.cpus * 100}%; ` +
        'postgres and redis count all their processes, softirq+steal is kernel network time and hypervisor ' +
        'steal, "everything else" is the rest of the machine):',
    );
    report(
      table(
        ['scenario', ...cpuNames],
        results.map((r) => [r.scenario, ...cpuNames.map((name) => fixed(r.cpuPercentOfOneCore?.[name]))]),
        [false, ...cpuNames.map(() => true)],
      ),
    );
    report('');
  }
  for (const r of results) {
    const codes = Object.entries(r.statusCodes)
      .map(([code, count]) => `${code}×${count}`)
      .join(', ');
    const kinds = Object.entries(r.errorKinds)
      .map(([kind, count]) => `${kind}×${count}`)
      .join(', ');
    report(
      `${r.scenario}: status codes ${codes || 'none'}; latency avg ${fixed(r.latencyMs.average, 2)} ms, ` +
        `p90 ${r.latencyMs.p90} ms, max ${r.latencyMs.max} ms` +
        (r.timeouts ? `; ${r.timeouts} timeouts` : '') +
        (kinds ? `; errors: ${kinds}` : '') +
        (r.limiterDecisions
          ? `; limiter decisions (policy/decision/store): ${
              Object.entries(r.limiterDecisions)
                .map(([name, count]) => `${name}×${count}`)
                .join(', ') || 'none'
            }`
          : ''),
    );
  }
  report('');
  const { authenticate: auth, findings, limiterCost } = summary;
  const rounds = settings.rounds > 1 ? ` (mean of ${settings.rounds} rounds)` : '';
  const line = (label, entry) =>
    entry
      ? `${label}: ${fixed(entry.requestsPerSecond)} req/s, p99 ${fixed(entry.p99Ms, 0)} ms` +
        (entry.rounds > 1 ? ` [rounds: ${entry.perRound.map((v) => fixed(v)).join(', ')}]` : '') +
        ` (other CPU ${fixed(entry.otherCpuPercent)} %)` +
        (entry.localDecisions
          ? `; ${entry.localDecisions} limiter decisions taken locally (Redis too slow)`
          : '')
      : `${label}: not measured`;
  const signed = (value, digits = 1) =>
    typeof value === 'number' ? `${value > 0 ? '+' : ''}${value.toFixed(digits)}` : 'n/a';
  report(`Summary${rounds}:`);
  if (summary.peer) {
    report(`  ${line("peer: oidc-provider's client_credentials token endpoint", summary.peer)}`);
  }
  report(`  ${line('authenticate via the gateway (limits on)', auth.gateway)}`);
  report(`  ${line('authenticate against auth-service directly', auth.direct)}`);
  report(`  gateway overhead on authenticate: ${fixed(auth.gatewayOverheadPercent)} % of direct throughput`);
  report(
    auth.signingCeilingPerSecond === null
      ? '  signing ceiling not measured (BENCH_SIGN_SECONDS=0)'
      : `  signing ceiling ${fixed(auth.signingCeilingPerSecond)}/s (TokenSigner, one process): authenticate ÷ ceiling = ` +
          `${fixed(auth.gatewayToCeiling, 3)} through the gateway, ${fixed(auth.directToCeiling, 3)} directly`,
  );
  report(`  ${line('findings POST via the gateway (Bearer, limits on)', findings.gateway)}`);
  report(`  ${line('findings POST against findings-service directly', findings.direct)}`);
  report(
    `  gateway overhead on findings POST: ${fixed(findings.gatewayOverheadPercent)} % of direct throughput`,
  );
  report(
    `  ${line('findings POST via the gateway with X-API-Key (limits on)', findings.apiKeyGateway)}; ` +
      `${signed(findings.apiKeyVsBearerPercent)} % vs Bearer`,
  );
  report(
    `  limiter cost (limits on vs RATE_LIMIT_ENABLED=false, budget ${limiterCost.budgetPercent} % of gateway ` +
      'throughput):',
  );
  for (const [name, label] of [
    ['authenticate', 'authenticate'],
    ['findings', 'findings POST (Bearer)'],
    ['findingsApiKey', 'findings POST (X-API-Key)'],
  ]) {
    const cost = limiterCost[name];
    report(
      `    ${label}: ${fixed(cost.limitsOn)} vs ${fixed(cost.limitsOff)} req/s → ${signed(cost.costPercent)} %` +
        (cost.costPercent === null
          ? ''
          : cost.overBudget
            ? `  FLAG: over the ${limiterCost.budgetPercent} % budget`
            : '  (within budget)'),
    );
  }
}

/** The M8 goals and the CPU per request of every process, after the report. */
function printGoals(output) {
  const { results, summary } = output;
  if (summary.goals.some((g) => g.value !== null)) {
    report('');
    report('Goals (M8; ratios are ours ÷ the peer within each round, CPU in ms of one core per request):');
    report(
      table(
        ['goal', 'measured', 'target', 'met'],
        summary.goals.map((g) => [
          g.name,
          fixed(g.value, 3),
          `${g.atMost ? '≤' : '≥'} ${g.goal}`,
          g.met === null ? 'n/a' : g.met ? 'yes' : 'NO',
        ]),
        [false, true, true, false],
      ),
    );
    const cpuRows = results
      .map((r) => r.id)
      .filter((id, i, ids) => ids.indexOf(id) === i)
      .map((id) => aggregate(results, id));
    const names = SERVER_PROCESSES.filter((name) => cpuRows.some((row) => row.cpuMsPerRequest[name]));
    report('CPU per request, ms of one core (process CPU % ÷ request rate, mean over rounds):');
    report(
      table(
        ['scenario', ...names],
        cpuRows.map((row) => [row.scenario, ...names.map((name) => fixed(row.cpuMsPerRequest[name], 3))]),
        [false, ...names.map(() => true)],
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Main

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
  const bundleHashAtStart = bundleHash();
  progress(
    `run ${RUN_ID}: bundles ${bundleHashAtStart}, database ${redactUrl(DATABASE_URL)}, redis ${redactUrl(REDIS_URL)}`,
  );

  await ensureDatabase(DATABASE_URL, progress);
  const cliEnv = {
    ...process.env,
    DATABASE_URL,
    REDIS_URL,
    KEY_EVENTS_CHANNEL: REVOCATION_CHANNEL,
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
  // Before any app starts, so that the loops have the machine to themselves (bar other users' work).
  const signingCeiling = SIGN_S > 0 ? await measureSigningCeiling(privateKey) : null;
  if (PEER) await startPeer();

  const environments = appEnvironments({
    ports: PORTS,
    databaseUrl: DATABASE_URL,
    redisUrl: REDIS_URL,
    revocationChannel: REVOCATION_CHANNEL,
    logLevel: LOG_LEVEL,
    privateKey,
    gateway: {
      RATE_LIMIT_KEY_PREFIX,
      AUTH_RATE_LIMIT_PER_SECOND: String(AUTH_LIMIT_PER_SECOND),
      AUTH_RATE_LIMIT_BURST: String(AUTH_LIMIT_BURST),
      ...(LEASE_DIVISOR === undefined ? {} : { RATE_LIMIT_LEASE_DIVISOR: LEASE_DIVISOR }),
    },
  });
  const gatewayEnv = (rateLimits) => ({
    ...environments['api-gateway'],
    RATE_LIMIT_ENABLED: String(rateLimits),
  });
  const notReady = `within ${READY_TIMEOUT_S} s`;
  // The first phase of round 1 has the limits on.
  let gatewayLimits = true;
  progress(
    `starting ${Object.entries(PORTS)
      .map(([name, port]) => `${name}:${port}`)
      .join(', ')} (gateway rate limits on, key prefix ${RATE_LIMIT_KEY_PREFIX})`,
  );
  const startupMs = await startAll(
    { ...environments, 'api-gateway': gatewayEnv(gatewayLimits) },
    READY_TIMEOUT_S,
    notReady,
  );
  progress(
    `all ready (${Object.entries(startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')})`,
  );
  const gatewayStarts = [{ rateLimits: gatewayLimits, readyMs: startupMs['api-gateway'] }];

  const owner = bootstrapOrganization(cliEnv, ORG_NAME);
  progress(`bootstrapped organization ${ORG_NAME} (enterprise, owner client_id ${owner.client_id})`);

  const ownerToken = await authenticate(GATEWAY, owner.api_key, owner.client_id);
  const ownerAuth = { authorization: `Bearer ${ownerToken.access_token}` };
  /** A key with write:findings and the highest rate-limit override, created through the gateway. */
  const createFindingsKey = (clientId) => createKey(GATEWAY, ownerAuth, clientId, ['write:findings']);
  const authKey = await createFindingsKey('bench-auth');
  const pipelineKeys = [];
  for (let i = 1; i <= PIPELINE_KEYS; i++) pipelineKeys.push(await createFindingsKey(`bench-runner-${i}`));
  progress(
    `created ${PIPELINE_KEYS + 1} keys (bench-auth, bench-runner-1…${PIPELINE_KEYS}), each with write:findings ` +
      `and the override ${KEY_OVERRIDE.requests_per_minute}/min + ${KEY_OVERRIDE.burst}`,
  );

  /** Fresh tokens for the pipeline keys (issued after the override, so their rate_limit claim carries it). */
  const pipelineTokens = async () => {
    const tokens = [];
    for (const key of pipelineKeys)
      tokens.push((await authenticate(GATEWAY, key.apiKey, key.clientId)).access_token);
    return tokens;
  };
  const postFinding = async (base, headers, what) => {
    const result = await call(base, 'POST', FINDINGS_PATH, { headers, body: JSON.parse(FINDINGS_BODY) });
    expectStatus(result, 201, what);
    return result.headers.get('x-ratelimit-limit');
  };

  // Each scenario's request must succeed once before it is hammered, and the gateway must be in the mode asked.
  const probeGateway = async (rateLimits) => {
    const auth = await authenticate(GATEWAY, authKey.apiKey, authKey.clientId);
    const [token] = await pipelineTokens();
    const bearerLimit = await postFinding(
      GATEWAY,
      { authorization: `Bearer ${token}` },
      'findings probe (Bearer)',
    );
    const apiKeyLimit = await postFinding(
      GATEWAY,
      { 'x-api-key': pipelineKeys[0].apiKey },
      'findings probe (X-API-Key)',
    );
    const probe = {
      authenticate: auth.rateLimitHeader,
      findingsBearer: bearerLimit,
      findingsApiKey: apiKeyLimit,
    };
    const expected = rateLimits
      ? {
          authenticate: String(AUTH_LIMIT_PER_SECOND),
          findingsBearer: String(KEY_OVERRIDE.requests_per_minute),
          findingsApiKey: String(KEY_OVERRIDE.requests_per_minute),
        }
      : { authenticate: null, findingsBearer: null, findingsApiKey: null };
    const wrong = Object.keys(expected).filter((name) => probe[name] !== expected[name]);
    if (wrong.length > 0) {
      throw new Error(
        `the gateway (RATE_LIMIT_ENABLED=${rateLimits}) answered X-RateLimit-Limit ${JSON.stringify(probe)}, ` +
          `expected ${JSON.stringify(expected)}: it is not limiting as the bench configured it`,
      );
    }
    progress(
      `gateway probes passed (limits ${rateLimits ? 'on' : 'off'}, X-RateLimit-Limit ${JSON.stringify(probe)})`,
    );
    return probe;
  };
  gatewayStarts[0].probe = await probeGateway(gatewayLimits);
  await authenticate(origin('auth-service'), authKey.apiKey, authKey.clientId);
  await postFinding(
    origin('findings-service'),
    { authorization: `Bearer ${(await pipelineTokens())[0]}` },
    'findings probe (findings-service directly)',
  );

  const restartGateway = async (rateLimits) => {
    progress(`restarting the gateway with RATE_LIMIT_ENABLED=${rateLimits}`);
    await stopApp('api-gateway');
    const entry = startApp('api-gateway', gatewayEnv(rateLimits));
    await waitReady(entry, Date.now() + READY_TIMEOUT_S * 1000, notReady);
    gatewayLimits = rateLimits;
    const start = { rateLimits, readyMs: entry.readyMs };
    gatewayStarts.push(start);
    start.probe = await probeGateway(rateLimits);
  };

  const authBody = JSON.stringify({ client_id: authKey.clientId });
  const phase = (rateLimits, round, tokens) => {
    const mode = rateLimits ? 'limits on' : 'limits off';
    const suffix = rateLimits ? 'limits-on' : 'limits-off';
    const named = (name) => (ROUNDS > 1 ? `${name} (round ${round})` : name);
    const bearer = tokens.map((token) => ({ authorization: `Bearer ${token}` }));
    const apiKeys = pipelineKeys.map((key) => ({ 'x-api-key': key.apiKey }));
    const scenarios = [
      {
        id: `authenticate-gateway-${suffix}`,
        name: named(`authenticate · gateway, ${mode}`),
        base: GATEWAY,
        path: AUTHENTICATE_PATH,
        headers: { 'x-api-key': authKey.apiKey },
        body: authBody,
        target: 'api-gateway',
        credentials: 'api-key',
      },
      rateLimits && {
        id: 'authenticate-direct',
        name: named('authenticate · auth-service direct'),
        base: origin('auth-service'),
        path: AUTHENTICATE_PATH,
        headers: { 'x-api-key': authKey.apiKey },
        body: authBody,
        target: 'auth-service',
        credentials: 'api-key',
      },
      {
        id: `findings-gateway-${suffix}`,
        name: named(`findings POST · gateway, ${mode}`),
        base: GATEWAY,
        path: FINDINGS_PATH,
        headerSets: bearer,
        body: FINDINGS_BODY,
        target: 'api-gateway',
        credentials: 'bearer',
      },
      rateLimits && {
        id: 'findings-direct',
        name: named('findings POST · findings-service direct'),
        base: origin('findings-service'),
        path: FINDINGS_PATH,
        headerSets: bearer,
        body: FINDINGS_BODY,
        target: 'findings-service',
        credentials: 'bearer',
      },
      {
        id: `findings-api-key-gateway-${suffix}`,
        name: named(`findings POST X-API-Key · gateway, ${mode}`),
        base: GATEWAY,
        path: FINDINGS_PATH,
        headerSets: apiKeys,
        body: FINDINGS_BODY,
        target: 'api-gateway',
        credentials: 'api-key',
      },
    ];
    return scenarios.filter(Boolean).map((scenario) => ({
      ...scenario,
      round,
      rateLimits: scenario.target === 'api-gateway' ? rateLimits : null,
    }));
  };

  const results = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Rounds alternate the order of the two phases: on/off, off/on, on/off…
    const order = round % 2 === 1 ? [true, false] : [false, true];
    if (PEER) {
      results.push(
        await runScenario({
          id: 'peer-token',
          name: ROUNDS > 1 ? `peer · oidc-provider token (round ${round})` : 'peer · oidc-provider token',
          base: PEER_URL,
          path: PEER_TOKEN_PATH,
          headers: PEER_HEADERS,
          contentType: 'application/x-www-form-urlencoded',
          body: PEER_BODY,
          target: 'oidc-provider',
          credentials: 'client-secret-basic',
          round,
          rateLimits: null,
        }),
      );
    }
    for (const rateLimits of order) {
      if (rateLimits !== gatewayLimits) await restartGateway(rateLimits);
      // Fresh tokens per phase, so that none can expire during a long run.
      const tokens = await pipelineTokens();
      for (const scenario of phase(rateLimits, round, tokens)) {
        const result = await runScenario(scenario);
        results.push(result);
        const perKey = result.totalRequests / result.keys;
        if (
          result.rateLimits &&
          scenario.path === FINDINGS_PATH &&
          perKey > KEY_OVERRIDE.requests_per_minute / 2
        ) {
          progress(
            `warning: ${Math.round(perKey)} requests per key in ${result.durationSeconds} s; counters share a ` +
              'one-minute window, raise BENCH_PIPELINE_KEYS before the limit is reached',
          );
        }
      }
    }
  }

  const crashed = [...apps.values(), ...retiredApps].filter((app) => app.unexpectedExit);
  const output = {
    date: started.toISOString(),
    machine,
    settings: {
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
      rounds: ROUNDS,
      pipelineKeys: PIPELINE_KEYS,
      keyOverride: KEY_OVERRIDE,
      authRateLimit: { perSecond: AUTH_LIMIT_PER_SECOND, burst: AUTH_LIMIT_BURST },
      rateLimitKeyPrefix: RATE_LIMIT_KEY_PREFIX,
      signSeconds: SIGN_S,
      logLevel: LOG_LEVEL,
      ports: PORTS,
      database: redactUrl(DATABASE_URL),
      redis: redactUrl(REDIS_URL),
      revocationChannel: REVOCATION_CHANNEL,
      organization: ORG_NAME,
      autocannon: JSON.parse(readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8'))
        .version,
      revision: gitRevision(),
      bundles: bundleHashAtStart,
    },
    startupMs,
    gatewayStarts,
    signingCeiling,
    results,
    summary: summarize(results, signingCeiling),
  };
  return { output, crashed };
}

const watchdog = setTimeout(() => {
  progress(`the whole run exceeded BENCH_TIMEOUT=${TOTAL_TIMEOUT_S} s; aborting`);
  currentCannon?.stop();
  void Promise.all([stopApps(), stopPeer()]).finally(() => process.exit(1));
}, TOTAL_TIMEOUT_S * 1000);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    progress(`received ${signal}; stopping`);
    currentCannon?.stop();
    void Promise.all([stopApps(), stopPeer()]).finally(() =>
      process.exit(128 + (os.constants.signals[signal] ?? 1)),
    );
  });
}

let exitCode = 0;
try {
  const { output, crashed } = await main();
  await Promise.all([stopApps(), stopPeer()]);
  const everyApp = [...retiredApps, ...apps.values()];
  output.logLines = {};
  for (const app of everyApp) output.logLines[app.name] = (output.logLines[app.name] ?? 0) + app.lines;
  output.shutdown = Object.fromEntries(
    [...apps.values()].map((app) => [
      app.name,
      { exit: app.exitSignal ?? app.exitCode ?? null, ms: app.stopMs ?? null, killed: Boolean(app.killed) },
    ]),
  );
  output.gatewayStops = retiredApps.map((app) => ({
    exit: app.exitSignal ?? app.exitCode ?? null,
    ms: app.stopMs ?? null,
    killed: Boolean(app.killed),
  }));
  printReport(output);
  printGoals(output);
  const logged = Object.entries(output.logLines).filter(([, count]) => count > 0);
  if (logged.length > 0) {
    report(
      `App log lines at LOG_LEVEL=${LOG_LEVEL}: ${logged.map(([name, count]) => `${name} ${count}`).join(', ')}`,
    );
  }
  // Nest's shutdown hooks close the app and then re-raise the signal, so "SIGTERM" is a clean stop here.
  const badShutdown = [
    ...Object.entries(output.shutdown),
    ...output.gatewayStops.map((stop, i) => [`api-gateway (restart ${i + 1})`, stop]),
  ].filter(([, s]) => s.killed || (s.exit !== 0 && s.exit !== 'SIGTERM'));
  if (badShutdown.length > 0) {
    report(
      `Shutdown: ${badShutdown.map(([name, s]) => `${name} exit ${s.exit}${s.killed ? ' (killed)' : ''}`).join(', ')}`,
    );
  }
  const failed = output.results.filter((r) => r.non2xx > 0 || r.errors > 0);
  for (const r of failed)
    report(`FAIL: ${r.scenario} had ${r.non2xx} non-2xx responses and ${r.errors} errors`);
  for (const app of crashed) {
    report(`FAIL: ${app.name} exited during the run (${app.exitSignal ?? app.exitCode})`);
    printTail(app);
  }
  // Over the limiter budget is a finding to report, not a failed run: benchmarks print numbers.
  output.ok = failed.length === 0 && crashed.length === 0;
  if (jsonOutput) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  if (!output.ok) exitCode = 1;
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  for (const app of [...retiredApps, ...apps.values()]) {
    if (app.unexpectedExit)
      progress(`(${app.name} had exited on its own: ${app.exitSignal ?? app.exitCode})`);
  }
  currentCannon?.stop();
  await Promise.all([stopApps(), stopPeer()]);
  exitCode = 1;
}
clearTimeout(watchdog);
process.exit(exitCode);
