#!/usr/bin/env node
// Load benchmark of the two hot paths a pipeline uses, measured end to end through the gateway:
//   1. POST /api/v1/auth/m2m/authenticate  (API key -> RS256 access token)
//   2. POST /api/v1/findings               (Bearer token, one finding per request)
// It migrates a dedicated database, starts the four built apps on their own ports, bootstraps a throwaway
// organization, creates a pipeline key through the gateway, runs autocannon against each path and prints a
// table. The apps are always stopped (SIGTERM, then SIGKILL if they hang) and every step is bounded in time.
// Each run leaves its organization and findings in the bench database; drop the database to start afresh.
//
// Usage: npm run bench            (builds first)
//        node tools/bench/bench.mjs [--json]   (expects `nx run-many -t build` to have run)
//
// Environment (all optional):
//   DATABASE_URL         default postgres://postgres@127.0.0.1:5432/gatehouse_bench (created if missing)
//   REDIS_URL            default redis://127.0.0.1:6379
//   BENCH_DURATION       seconds measured per scenario (default 10)
//   BENCH_WARMUP         seconds of discarded warm-up per scenario (default 2)
//   BENCH_CONNECTIONS    concurrent connections (default 32)
//   BENCH_LOG_LEVEL      LOG_LEVEL of the apps (default warn)
//   BENCH_GATEWAY_PORT / BENCH_AUTH_PORT / BENCH_FINDINGS_PORT / BENCH_ADMIN_PORT
//                        default 18080 / 13001 / 13002 / 13003
//   BENCH_READY_TIMEOUT  seconds to wait for every app's /health/ready (default 60)
//   BENCH_TIMEOUT        hard limit for the whole run in seconds (default: derived from the durations)
//
// --json: the JSON results go alone to stdout and the human-readable report to stderr, so that
//         `node tools/bench/bench.mjs --json > result.json` works.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'dist/tools/gatehouse-cli/main.js');
const args = process.argv.slice(2);

if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0] + '\n');
  process.exit(0);
}
const unknownArgs = args.filter((arg) => arg !== '--json');
if (unknownArgs.length > 0) {
  process.stderr.write(`unknown argument(s): ${unknownArgs.join(' ')} (only --json is accepted)\n`);
  process.exit(64);
}
const jsonOutput = args.includes('--json');

function numberFromEnv(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    process.stderr.write(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${raw}"\n`);
    process.exit(64);
  }
  return value;
}

const DURATION_S = numberFromEnv('BENCH_DURATION', 10, { min: 1 });
const WARMUP_S = numberFromEnv('BENCH_WARMUP', 2, { min: 0 });
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 32, { min: 1, integer: true });
const READY_TIMEOUT_S = numberFromEnv('BENCH_READY_TIMEOUT', 60, { min: 1 });
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'warn';
const PORTS = {
  'api-gateway': numberFromEnv('BENCH_GATEWAY_PORT', 18080, { min: 1, integer: true }),
  'auth-service': numberFromEnv('BENCH_AUTH_PORT', 13001, { min: 1, integer: true }),
  'findings-service': numberFromEnv('BENCH_FINDINGS_PORT', 13002, { min: 1, integer: true }),
  'admin-api': numberFromEnv('BENCH_ADMIN_PORT', 13003, { min: 1, integer: true }),
};
const SCENARIO_COUNT = 2;
const TOTAL_TIMEOUT_S = numberFromEnv(
  'BENCH_TIMEOUT',
  180 + READY_TIMEOUT_S + SCENARIO_COUNT * (WARMUP_S + DURATION_S + 30),
  { min: 10 },
);
const REQUEST_TIMEOUT_MS = 10_000;
const CLI_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/gatehouse_bench';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RUN_ID = randomBytes(4).toString('hex');
const REVOCATION_CHANNEL = `gatehouse:bench:${RUN_ID}`;
const ORG_NAME = `bench-${RUN_ID}`;
const GATEWAY = `http://127.0.0.1:${PORTS['api-gateway']}`;
const FINDINGS_BODY = JSON.stringify({
  findings: [{ rule_id: 'R1', title: 't', severity: 'high', location: { path: 'src/a.ts', start_line: 1 } }],
});

// Human-readable output: stdout normally, stderr when stdout is reserved for --json.
const report = (line = '') => (jsonOutput ? process.stderr : process.stdout).write(`${line}\n`);
const progress = (line) => process.stderr.write(`[bench] ${line}\n`);

function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

/** name -> { child, port, startedAt, readyMs, tail (last lines of output), lines (count), exit, ... } */
const apps = new Map();
const FORWARD_LINES = 20;
const TAIL_LINES = 60;
let stopping = false;

function startApp(name, env) {
  const child = spawn(process.execPath, [join(root, 'dist/apps', name, 'main.js')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = {
    name,
    child,
    port: Number(env.PORT),
    startedAt: Date.now(),
    readyMs: undefined,
    tail: [],
    lines: 0,
    exitCode: undefined,
    exitSignal: undefined,
    unexpectedExit: false,
  };
  entry.exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      entry.exitCode = code;
      entry.exitSignal = signal;
      if (!stopping) {
        entry.unexpectedExit = true;
        progress(`${name} exited unexpectedly (${signal ?? code})`);
      }
      resolve();
    }),
  );
  child.once('error', (error) => progress(`${name}: cannot spawn: ${error.message}`));
  const prefix = `  ${name.padEnd(16)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (!line) continue;
        entry.lines += 1;
        entry.tail.push(line);
        if (entry.tail.length > TAIL_LINES) entry.tail.shift();
        if (entry.lines <= FORWARD_LINES) process.stderr.write(prefix + line + '\n');
        else if (entry.lines === FORWARD_LINES + 1) {
          process.stderr.write(`${prefix}(further output suppressed; its count is reported at the end)\n`);
        }
      }
    });
  }
  apps.set(name, entry);
  return entry;
}

async function stopApps() {
  if (stopping) return;
  stopping = true;
  const running = [...apps.values()].filter((app) => app.exitCode === undefined);
  if (running.length === 0) return;
  progress(`stopping ${running.map((app) => app.name).join(', ')} (SIGTERM)`);
  for (const app of running) app.stoppedAt = Date.now();
  for (const app of running) app.child.kill('SIGTERM');
  const timer = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
  await Promise.race([Promise.all(running.map((app) => app.exit)), timer]);
  for (const app of running) {
    if (app.exitCode === undefined) {
      progress(`${app.name} did not exit within ${STOP_GRACE_MS} ms of SIGTERM; sending SIGKILL`);
      app.killed = true;
      app.child.kill('SIGKILL');
    } else {
      app.stopMs = Date.now() - app.stoppedAt;
    }
  }
  await Promise.race([
    Promise.all(running.map((app) => app.exit)),
    new Promise((resolve) => setTimeout(resolve, 2000).unref()),
  ]);
}

function printTail(app) {
  process.stderr.write(`--- last output of ${app.name} ---\n${app.tail.join('\n') || '(none)'}\n`);
}

/**
 * CPU seconds (user + system, all threads) used so far by every process, by pid, from /proc. Empty off Linux.
 * Clock ticks are taken as 100 per second (USER_HZ on Linux).
 */
function processCpuTable() {
  const table = new Map();
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return table;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(pid), { comm, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // The process exited meanwhile.
    }
  }
  return table;
}

/**
 * Busy and total CPU time of the machine in seconds. /proc/stat is read directly where it exists because
 * os.cpus() leaves out softirq and steal time, and loopback networking spends a lot of the former.
 */
function machineCpuTimes() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return {
      busy: busy / 100,
      total: (busy + idle + iowait) / 100,
      softirq: softirq / 100,
      steal: steal / 100,
    };
  } catch {
    let busy = 0;
    let total = 0;
    for (const cpu of os.cpus()) {
      const { user, nice, sys, idle, irq } = cpu.times;
      busy += user + nice + sys + irq;
      total += user + nice + sys + idle + irq;
    }
    return { busy: busy / 1000, total: total / 1000, softirq: null, steal: null };
  }
}

function cpuSnapshot() {
  return { at: process.hrtime.bigint(), machine: machineCpuTimes(), processes: processCpuTable() };
}

/** Machine-wide CPU use over a short interval, in % of one core (the machine has cpus × 100%). */
async function machineBusyPercent(ms) {
  const before = machineCpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineCpuTimes();
  const total = after.total - before.total;
  return total > 0 ? Math.round(((after.busy - before.busy) / total) * os.cpus().length * 1000) / 10 : null;
}

/**
 * Where the CPU went between two snapshots, in % of one core (200% = both of 2 cores): this process (the
 * load generator), each app, PostgreSQL and Redis (all their processes, which may include other users'
 * work), the kernel's softirq time (loopback networking) plus hypervisor steal, and everything else on the
 * machine (its busy time minus all of the above).
 */
function cpuBetween(before, after) {
  const wall = Number(after.at - before.at) / 1e9;
  const percent = (seconds) => Math.round((seconds / wall) * 1000) / 10;
  const groupOf = new Map([[process.pid, 'bench (autocannon)']]);
  for (const app of apps.values()) groupOf.set(app.child.pid, app.name);
  const seconds = {
    'bench (autocannon)': 0,
    ...Object.fromEntries([...apps.keys()].map((name) => [name, 0])),
  };
  seconds.postgres = 0;
  seconds.redis = 0;
  if (after.processes.size === 0) return null;
  for (const [pid, { comm, seconds: used }] of after.processes) {
    const group =
      groupOf.get(pid) ?? (comm === 'postgres' ? 'postgres' : comm.startsWith('redis') ? 'redis' : undefined);
    if (!group) continue;
    const previous = before.processes.get(pid);
    seconds[group] += used - (previous && previous.comm === comm ? previous.seconds : 0);
  }
  const result = Object.fromEntries(Object.entries(seconds).map(([group, used]) => [group, percent(used)]));
  const machineTotal = after.machine.total - before.machine.total;
  const cores = (seconds) => (machineTotal > 0 ? (seconds / machineTotal) * os.cpus().length * 100 : null);
  const round = (value) => (value === null ? null : Math.round(value * 10) / 10);
  const busy = cores(after.machine.busy - before.machine.busy);
  const kernel =
    after.machine.softirq === null
      ? 0
      : cores(after.machine.softirq - before.machine.softirq + after.machine.steal - before.machine.steal);
  if (after.machine.softirq !== null) result['softirq+steal'] = round(kernel);
  const named = Object.values(seconds).reduce((sum, used) => sum + percent(used), 0);
  result['everything else'] = busy === null ? null : Math.max(0, round(busy - named - kernel));
  result['machine busy'] = round(busy);
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function ensureDatabase() {
  const url = new URL(DATABASE_URL);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  const tryConnect = async (connectionString) => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
    await withDeadline(client.connect(), 10_000, 'connecting to PostgreSQL');
    return client;
  };
  try {
    const client = await tryConnect(DATABASE_URL);
    await client.end();
    return;
  } catch (error) {
    if (error.code !== '3D000') {
      throw new Error(`cannot connect to ${redactUrl(DATABASE_URL)}: ${error.message}`);
    }
  }
  const adminUrl = new URL(DATABASE_URL);
  adminUrl.pathname = '/postgres';
  progress(`database "${name}" does not exist; creating it`);
  const admin = await tryConnect(adminUrl.toString());
  try {
    await withDeadline(
      admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`),
      30_000,
      'CREATE DATABASE',
    );
  } catch (error) {
    if (error.code !== '42P04') throw error; // created concurrently: fine
  } finally {
    await admin.end();
  }
}

function runCli(cliArgs, env) {
  const result = spawnSync(process.execPath, [cli, ...cliArgs], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: CLI_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) {
    throw new Error(`gatehouse-cli ${cliArgs[0]}: ${result.error.message}\n${result.stderr ?? ''}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `gatehouse-cli ${cliArgs[0]} exited with ${result.signal ?? result.status}:\n${result.stderr.trim()}`,
    );
  }
  return result;
}

async function waitReady(app, deadline) {
  const url = `http://127.0.0.1:${app.port}/health/ready`;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (app.exitCode !== undefined) {
      printTail(app);
      throw new Error(`${app.name} exited (${app.exitSignal ?? app.exitCode}) before it was ready`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const text = await response.text();
      if (response.status === 200) {
        app.readyMs = Date.now() - app.startedAt;
        return;
      }
      last = `HTTP ${response.status} ${text.slice(0, 300)}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  printTail(app);
  throw new Error(`${app.name} was not ready within ${READY_TIMEOUT_S} s (last: ${last})`);
}

async function gateway(method, path, { headers = {}, body } = {}) {
  const response = await fetch(GATEWAY + path, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

function expectStatus(result, status, what) {
  if (result.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${result.status}: ${result.text.slice(0, 500)}`);
  }
  return result.json;
}

async function authenticate(apiKey, clientId) {
  const result = await gateway('POST', '/api/v1/auth/m2m/authenticate', {
    headers: { 'x-api-key': apiKey },
    body: { client_id: clientId },
  });
  const json = expectStatus(result, 200, `authenticate ${clientId}`);
  if (typeof json?.access_token !== 'string' || json.token_type?.toLowerCase() !== 'bearer') {
    throw new Error(`authenticate ${clientId}: unexpected response ${result.text.slice(0, 500)}`);
  }
  return json;
}

let currentCannon;

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

async function runScenario(scenario) {
  const base = {
    url: GATEWAY + scenario.path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...scenario.headers },
    body: scenario.body,
    connections: CONNECTIONS,
  };
  const bound = (seconds) => (seconds + 30) * 1000;
  let warmup;
  if (WARMUP_S > 0) {
    progress(`${scenario.name}: warm-up ${WARMUP_S} s`);
    const { result } = await withDeadline(
      cannon({ ...base, duration: WARMUP_S }),
      bound(WARMUP_S),
      `${scenario.name} warm-up`,
    );
    warmup = { requests: result.requests.total, non2xx: result.non2xx, errors: result.errors };
    if (result.non2xx || result.errors) {
      progress(`${scenario.name}: warm-up had ${result.non2xx} non-2xx and ${result.errors} errors`);
    }
  }
  progress(`${scenario.name}: measuring ${DURATION_S} s with ${CONNECTIONS} connections`);
  const before = cpuSnapshot();
  const { result, errorKinds } = await withDeadline(
    cannon({ ...base, duration: DURATION_S }),
    bound(DURATION_S),
    scenario.name,
  );
  const cpu = cpuBetween(before, cpuSnapshot());
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats.count]),
  );
  return {
    scenario: scenario.name,
    path: scenario.path,
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
    warmup,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Output

function table(headers, rows, alignRight) {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => String(row[i]).length)),
  );
  const cell = (value, i) =>
    alignRight[i] ? String(value).padStart(widths[i]) : String(value).padEnd(widths[i]);
  const line = (row) => `| ${row.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (alignRight[i] ? '-'.repeat(width + 1) + ':' : '-'.repeat(width + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

const fixed = (value, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : 'n/a');

/** The commit the apps were built from, and whether the work tree had uncommitted changes. */
function gitRevision() {
  const git = (...gitArgs) =>
    spawnSync('git', gitArgs, { cwd: root, encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD');
  if (!commit) return null;
  return { commit, dirty: git('status', '--porcelain', '--untracked-files=no').length > 0 };
}

/** A fingerprint of the four bundles that were run, to tell builds apart when the work tree moves. */
function bundleHash() {
  const hash = createHash('sha256');
  for (const name of Object.keys(PORTS).sort())
    hash.update(readFileSync(join(root, 'dist/apps', name, 'main.js')));
  return hash.digest('hex').slice(0, 12);
}

function machineFacts() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    totalMemoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

function printReport(output) {
  const { machine, settings, results } = output;
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
      `${settings.warmupSeconds} s warm-up per scenario, apps LOG_LEVEL=${settings.logLevel}, NODE_ENV=production, ` +
      `autocannon ${settings.autocannon}` +
      (settings.revision
        ? `, built from ${settings.revision.commit}${settings.revision.dirty ? ' + uncommitted changes' : ''}`
        : '') +
      ` (bundles ${settings.bundles})`,
  );
  report(
    `Start-up (spawn to /health/ready): ${Object.entries(output.startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')}`,
  );
  report('');
  report(
    table(
      ['scenario', 'req/s (avg)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'requests'],
      results.map((r) => [
        r.scenario,
        fixed(r.requestsPerSecond),
        fixed(r.latencyMs.p50, 0),
        fixed(r.latencyMs.p99, 0),
        r.non2xx,
        r.errors,
        r.totalRequests,
      ]),
      [false, true, true, true, true, true, true],
    ),
  );
  report('');
  const cpuNames = Object.keys(results.find((r) => r.cpuPercentOfOneCore)?.cpuPercentOfOneCore ?? {});
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
        (kinds ? `; errors: ${kinds}` : ''),
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
  for (const file of [cli, ...Object.keys(PORTS).map((name) => join(root, 'dist/apps', name, 'main.js'))]) {
    if (!existsSync(file)) throw new Error(`${file} is missing; run \`npx nx run-many -t build\` first`);
  }
  const bundleHashAtStart = bundleHash();
  progress(
    `run ${RUN_ID}: bundles ${bundleHashAtStart}, database ${redactUrl(DATABASE_URL)}, redis ${redactUrl(REDIS_URL)}`,
  );

  await ensureDatabase();
  const cliEnv = {
    ...process.env,
    DATABASE_URL,
    REDIS_URL,
    REVOCATION_CHANNEL,
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
  const origin = (name) => `http://127.0.0.1:${PORTS[name]}`;
  const jwksUrl = `${origin('auth-service')}/api/v1/auth/jwks`;
  const common = {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL,
    DATABASE_URL,
    REDIS_URL,
    REVOCATION_CHANNEL,
  };
  const envOf = {
    'auth-service': { JWT_SIGNING_KEY: privateKey },
    'findings-service': { JWKS_URL: jwksUrl },
    'admin-api': { JWKS_URL: jwksUrl },
    'api-gateway': {
      AUTH_SERVICE_URL: origin('auth-service'),
      FINDINGS_SERVICE_URL: origin('findings-service'),
      ADMIN_API_URL: origin('admin-api'),
    },
  };
  progress(
    `starting ${Object.entries(PORTS)
      .map(([name, port]) => `${name}:${port}`)
      .join(', ')}`,
  );
  for (const name of ['auth-service', 'findings-service', 'admin-api', 'api-gateway']) {
    startApp(name, { ...common, ...envOf[name], PORT: String(PORTS[name]) });
  }
  const readyDeadline = Date.now() + READY_TIMEOUT_S * 1000;
  await Promise.all([...apps.values()].map((app) => waitReady(app, readyDeadline)));
  const startupMs = Object.fromEntries([...apps.values()].map((app) => [app.name, app.readyMs]));
  progress(
    `all ready (${Object.entries(startupMs)
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', ')})`,
  );

  const bootstrap = runCli(['bootstrap', '--org', ORG_NAME], cliEnv);
  let owner;
  try {
    owner = JSON.parse(bootstrap.stdout);
  } catch {
    throw new Error(`bootstrap printed no JSON on stdout: ${bootstrap.stdout.slice(0, 300)}`);
  }
  if (typeof owner.api_key !== 'string' || typeof owner.client_id !== 'string') {
    throw new Error(`bootstrap output lacks api_key/client_id (keys: ${Object.keys(owner).join(', ')})`);
  }
  progress(`bootstrapped organization ${ORG_NAME} (owner client_id ${owner.client_id})`);

  const ownerToken = await authenticate(owner.api_key, owner.client_id);
  const created = expectStatus(
    await gateway('POST', '/api/v1/api-keys', {
      headers: { authorization: `Bearer ${ownerToken.access_token}` },
      body: { name: 'bench', client_id: 'bench-runner', permissions: ['write:findings'] },
    }),
    201,
    'create pipeline key',
  );
  if (typeof created?.api_key !== 'string') throw new Error('create pipeline key: response has no api_key');
  progress(`created pipeline key ${created.id ?? ''} (client_id bench-runner, write:findings)`);

  // Sanity checks: each scenario's request must succeed once before it is hammered.
  const probeToken = await authenticate(created.api_key, 'bench-runner');
  expectStatus(
    await gateway('POST', '/api/v1/findings', {
      headers: { authorization: `Bearer ${probeToken.access_token}` },
      body: JSON.parse(FINDINGS_BODY),
    }),
    201,
    'findings probe',
  );

  const results = [];
  results.push(
    await runScenario({
      name: 'authenticate',
      path: '/api/v1/auth/m2m/authenticate',
      headers: { 'x-api-key': created.api_key },
      body: JSON.stringify({ client_id: 'bench-runner' }),
    }),
  );
  // A fresh token so that its lifetime comfortably covers the run.
  const token = await authenticate(created.api_key, 'bench-runner');
  if (token.expires_in < WARMUP_S + DURATION_S + 60) {
    progress(`warning: the token expires in ${token.expires_in} s, sooner than the findings run ends`);
  }
  results.push(
    await runScenario({
      name: 'findings POST (1 finding)',
      path: '/api/v1/findings',
      headers: { authorization: `Bearer ${token.access_token}` },
      body: FINDINGS_BODY,
    }),
  );

  const crashed = [...apps.values()].filter((app) => app.unexpectedExit);
  const output = {
    date: started.toISOString(),
    machine,
    settings: {
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
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
    results,
  };
  return { output, crashed };
}

const watchdog = setTimeout(() => {
  progress(`the whole run exceeded BENCH_TIMEOUT=${TOTAL_TIMEOUT_S} s; aborting`);
  currentCannon?.stop();
  void stopApps().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_S * 1000);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    progress(`received ${signal}; stopping`);
    currentCannon?.stop();
    void stopApps().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 1)));
  });
}

let exitCode = 0;
try {
  const { output, crashed } = await main();
  await stopApps();
  output.logLines = Object.fromEntries([...apps.values()].map((app) => [app.name, app.lines]));
  output.shutdown = Object.fromEntries(
    [...apps.values()].map((app) => [
      app.name,
      { exit: app.exitSignal ?? app.exitCode ?? null, ms: app.stopMs ?? null, killed: Boolean(app.killed) },
    ]),
  );
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
  const failed = output.results.filter((r) => r.non2xx > 0 || r.errors > 0);
  for (const r of failed)
    report(`FAIL: ${r.scenario} had ${r.non2xx} non-2xx responses and ${r.errors} errors`);
  for (const app of crashed) {
    report(`FAIL: ${app.name} exited during the run (${app.exitSignal ?? app.exitCode})`);
    printTail(app);
  }
  output.ok = failed.length === 0 && crashed.length === 0;
  if (jsonOutput) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  if (!output.ok) exitCode = 1;
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  for (const app of apps.values()) {
    if (app.unexpectedExit)
      progress(`(${app.name} had exited on its own: ${app.exitSignal ?? app.exitCode})`);
  }
  currentCannon?.stop();
  await stopApps();
  exitCode = 1;
}
clearTimeout(watchdog);
process.exit(exitCode);
