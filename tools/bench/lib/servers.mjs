// What the benchmarks share: settings from the environment, a dedicated database migrated with the built CLI, the
// four built apps started from dist/ on private ports (and always stopped), HTTP calls to them, an organization
// bootstrapped and keys created through the gateway, CPU accounting from /proc, and the facts a report starts with.
// Every step is bounded in time. Used by tools/bench/bench.mjs and tools/bench/ingest.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const cliPath = join(root, 'dist/tools/gatehouse-cli/main.js');
export const APP_NAMES = ['api-gateway', 'auth-service', 'findings-service', 'admin-api'];
export const AUTHENTICATE_PATH = '/api/v1/auth/m2m/authenticate';
/** The highest per-key override admin-api accepts (libs/contracts rate-limits.ts). */
export const KEY_OVERRIDE = { requests_per_minute: 100_000, burst: 10_000 };

export const appBundle = (name) => join(root, 'dist/apps', name, 'main.js');

/** The leading comment block of a script, without its shebang and comment markers, for --help. */
export function usageOf(scriptUrl) {
  const header = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\nimport ')[0];
  return `${header
    .split('\n')
    .filter((line) => line.startsWith('//'))
    .map((line) => line.replace(/^\/\/ ?/, ''))
    .join('\n')}\n`;
}

/** Exit status of a usage error (an unknown argument, a malformed setting), as for most command-line tools. */
export const USAGE_EXIT_CODE = 2;

/** A number from the environment, or the fallback when unset; exits 2 (usage) when it is not one. */
export function numberFromEnv(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    process.stderr.write(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${raw}"\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  return value;
}

export function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails with the build command to run when a bundle of the apps or the CLI is missing. */
export function requireBuild(names = APP_NAMES) {
  for (const file of [cliPath, ...names.map(appBundle)]) {
    if (!existsSync(file)) throw new Error(`${file} is missing; run \`npx nx run-many -t build\` first`);
  }
}

/** Creates the database DATABASE_URL names when it does not exist yet. */
export async function ensureDatabase(databaseUrl, progress) {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  const tryConnect = async (connectionString) => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
    await withDeadline(client.connect(), 10_000, 'connecting to PostgreSQL');
    return client;
  };
  try {
    const client = await tryConnect(databaseUrl);
    await client.end();
    return;
  } catch (error) {
    if (error.code !== '3D000') {
      throw new Error(`cannot connect to ${redactUrl(databaseUrl)}: ${error.message}`);
    }
  }
  const adminUrl = new URL(databaseUrl);
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

/** Runs the built gatehouse-cli synchronously; throws with its stderr when it fails or outlives timeoutMs. */
export function runCli(cliArgs, env, timeoutMs = 60_000) {
  const result = spawnSync(process.execPath, [cliPath, ...cliArgs], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
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

/**
 * The environments of the four apps for one run: production mode, the given ports, database and Redis, a
 * revocation channel of the run's own, a fresh gateway secret, and auth-service signing with `privateKey`.
 * `gateway` and `services` are extra variables for the gateway and for each service by name. Each app's management
 * port (its `/metrics`) is its port plus {@link MANAGEMENT_PORT_OFFSET}.
 */
/** An app's management port is its port plus this, in a bench run (see `managementOrigin`). */
export const MANAGEMENT_PORT_OFFSET = 1000;

/** Where an app of a bench run on `port` serves `GET /metrics`. */
export function managementOrigin(port) {
  return `http://127.0.0.1:${port + MANAGEMENT_PORT_OFFSET}`;
}

export function appEnvironments({
  ports,
  databaseUrl,
  redisUrl,
  revocationChannel,
  logLevel,
  privateKey,
  gateway = {},
  services = {},
}) {
  const origin = (name) => `http://127.0.0.1:${ports[name]}`;
  const jwksUrl = `${origin('auth-service')}/api/v1/auth/jwks`;
  const common = {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: logLevel,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    KEY_EVENTS_CHANNEL: revocationChannel,
    // Required with NODE_ENV=production: the services believe the gateway (and answer its exchanges) with it.
    GATEWAY_SECRET: randomBytes(32).toString('base64url'),
  };
  return {
    'api-gateway': {
      ...common,
      PORT: String(ports['api-gateway']),
      MANAGEMENT_PORT: String(ports['api-gateway'] + MANAGEMENT_PORT_OFFSET),
      AUTH_SERVICE_URL: origin('auth-service'),
      FINDINGS_SERVICE_URL: origin('findings-service'),
      ADMIN_API_URL: origin('admin-api'),
      JWKS_URL: jwksUrl,
      ...gateway,
    },
    'auth-service': {
      ...common,
      PORT: String(ports['auth-service']),
      MANAGEMENT_PORT: String(ports['auth-service'] + MANAGEMENT_PORT_OFFSET),
      JWT_SIGNING_KEY: privateKey,
      ...services['auth-service'],
    },
    'findings-service': {
      ...common,
      PORT: String(ports['findings-service']),
      MANAGEMENT_PORT: String(ports['findings-service'] + MANAGEMENT_PORT_OFFSET),
      JWKS_URL: jwksUrl,
      ...services['findings-service'],
    },
    'admin-api': {
      ...common,
      PORT: String(ports['admin-api']),
      MANAGEMENT_PORT: String(ports['admin-api'] + MANAGEMENT_PORT_OFFSET),
      JWKS_URL: jwksUrl,
      ...services['admin-api'],
    },
  };
}

/**
 * Starts and stops the built apps as child processes. Each app's first `forwardLines` lines of output are copied
 * to stderr with its name; its last `tailLines` are kept for the report when it fails.
 */
export function createSupervisor({ progress, forwardLines = 20, tailLines = 60, stopGraceMs = 10_000 }) {
  /** name -> { child, port, startedAt, readyMs, tail, lines, exitCode, exitSignal, unexpectedExit, ... } */
  const apps = new Map();
  /** Apps stopped on purpose during the run, oldest first. */
  const retiredApps = [];
  let stopping = false;

  function startApp(name, env) {
    const child = spawn(process.execPath, [appBundle(name)], {
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
        if (!stopping && !entry.stopRequested) {
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
          if (entry.tail.length > tailLines) entry.tail.shift();
          if (entry.lines <= forwardLines) process.stderr.write(prefix + line + '\n');
          else if (entry.lines === forwardLines + 1) {
            process.stderr.write(`${prefix}(further output suppressed; its count is reported at the end)\n`);
          }
        }
      });
    }
    apps.set(name, entry);
    return entry;
  }

  /** SIGTERM, then SIGKILL after the grace period; records how long the exit took. */
  async function terminate(running) {
    for (const app of running) app.stoppedAt = Date.now();
    for (const app of running) app.child.kill('SIGTERM');
    await Promise.race([Promise.all(running.map((app) => app.exit)), sleepUnref(stopGraceMs)]);
    for (const app of running) {
      if (app.exitCode === undefined && app.exitSignal === undefined) {
        progress(`${app.name} did not exit within ${stopGraceMs} ms of SIGTERM; sending SIGKILL`);
        app.killed = true;
        app.child.kill('SIGKILL');
      } else {
        app.stopMs = Date.now() - app.stoppedAt;
      }
    }
    await Promise.race([Promise.all(running.map((app) => app.exit)), sleepUnref(2000)]);
  }

  /** Stops one app on purpose, keeping its record for the report. */
  async function stopApp(name) {
    const app = apps.get(name);
    if (!app) return;
    app.stopRequested = true;
    if (app.exitCode === undefined && app.exitSignal === undefined) await terminate([app]);
    apps.delete(name);
    retiredApps.push(app);
  }

  async function stopApps() {
    if (stopping) return;
    stopping = true;
    const running = [...apps.values()].filter(
      (app) => app.exitCode === undefined && app.exitSignal === undefined,
    );
    if (running.length === 0) return;
    progress(`stopping ${running.map((app) => app.name).join(', ')} (SIGTERM)`);
    await terminate(running);
  }

  function printTail(app) {
    process.stderr.write(`--- last output of ${app.name} ---\n${app.tail.join('\n') || '(none)'}\n`);
  }

  /** `within` words the bound in the error when the app is not ready by `deadline`, e.g. "within 60 s". */
  async function waitReady(app, deadline, within = 'in time') {
    const url = `http://127.0.0.1:${app.port}/health/ready`;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (app.exitCode !== undefined || app.exitSignal !== undefined) {
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
      await sleep(200);
    }
    printTail(app);
    throw new Error(`${app.name} was not ready ${within} (last: ${last})`);
  }

  /** Starts the four apps (services first) and waits for every /health/ready; returns ms to ready by name. */
  async function startAll(environments, readyTimeoutS, within) {
    for (const name of ['auth-service', 'findings-service', 'admin-api', 'api-gateway']) {
      startApp(name, environments[name]);
    }
    const deadline = Date.now() + readyTimeoutS * 1000;
    await Promise.all([...apps.values()].map((app) => waitReady(app, deadline, within)));
    return Object.fromEntries([...apps.values()].map((app) => [app.name, app.readyMs]));
  }

  /** How each app ended: exit code or signal, ms from SIGTERM to exit, whether it had to be killed. */
  function shutdownReport() {
    return Object.fromEntries(
      [...apps.values(), ...retiredApps].map((app) => [
        app.name,
        { exit: app.exitSignal ?? app.exitCode ?? null, ms: app.stopMs ?? null, killed: Boolean(app.killed) },
      ]),
    );
  }

  return {
    apps,
    retiredApps,
    startApp,
    stopApp,
    stopApps,
    waitReady,
    startAll,
    printTail,
    shutdownReport,
  };
}

const sleepUnref = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** One HTTP call with a JSON body to `base` + `path`; the answer parsed as JSON when it is JSON. */
export async function call(base, method, path, { headers = {}, body, timeoutMs = 10_000 } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

export function expectStatus(result, status, what) {
  if (result.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${result.status}: ${result.text.slice(0, 500)}`);
  }
  return result.json;
}

/** An access token for an API key (POST /api/v1/auth/m2m/authenticate at `base`). */
export async function authenticate(base, apiKey, clientId) {
  const result = await call(base, 'POST', AUTHENTICATE_PATH, {
    headers: { 'x-api-key': apiKey },
    body: { client_id: clientId },
  });
  const json = expectStatus(result, 200, `authenticate ${clientId}`);
  if (typeof json?.access_token !== 'string' || json.token_type?.toLowerCase() !== 'bearer') {
    throw new Error(`authenticate ${clientId}: unexpected response ${result.text.slice(0, 500)}`);
  }
  return { ...json, rateLimitHeader: result.headers.get('x-ratelimit-limit') };
}

/** A throwaway organization from `gatehouse-cli bootstrap`: its owner's { api_key, client_id, ... }. */
export function bootstrapOrganization(cliEnv, orgName, plan = 'enterprise') {
  const bootstrap = runCli(['bootstrap', '--org', orgName, '--plan', plan], cliEnv);
  let owner;
  try {
    owner = JSON.parse(bootstrap.stdout);
  } catch {
    throw new Error(`bootstrap printed no JSON on stdout: ${bootstrap.stdout.slice(0, 300)}`);
  }
  if (typeof owner.api_key !== 'string' || typeof owner.client_id !== 'string') {
    throw new Error(`bootstrap output lacks api_key/client_id (keys: ${Object.keys(owner).join(', ')})`);
  }
  return owner;
}

/**
 * A key created through the gateway with the owner's token, with `permissions` and, unless `override` is null,
 * the per-key rate-limit override (by default the highest admin-api accepts).
 */
export async function createKey(gateway, ownerAuth, clientId, permissions, override = KEY_OVERRIDE) {
  const created = expectStatus(
    await call(gateway, 'POST', '/api/v1/api-keys', {
      headers: ownerAuth,
      body: { name: clientId, client_id: clientId, permissions },
    }),
    201,
    `create key ${clientId}`,
  );
  if (typeof created?.api_key !== 'string' || typeof created.id !== 'string') {
    throw new Error(`create key ${clientId}: response has no api_key or id`);
  }
  if (override) {
    const limited = expectStatus(
      await call(gateway, 'PUT', `/api/v1/api-keys/${created.id}/rate-limit`, {
        headers: ownerAuth,
        body: override,
      }),
      200,
      `rate-limit override of ${clientId}`,
    );
    if (limited?.rate_limit?.requests_per_minute !== override.requests_per_minute) {
      throw new Error(`rate-limit override of ${clientId}: unexpected response ${JSON.stringify(limited)}`);
    }
  }
  return { clientId, id: created.id, apiKey: created.api_key };
}

// ---------------------------------------------------------------------------------------------------------
// CPU and machine

/**
 * CPU seconds (user + system, all threads) used so far by every process, by pid, from /proc. Empty off Linux.
 * Clock ticks are taken as 100 per second (USER_HZ on Linux).
 */
export function processCpuTable() {
  const cpuByPid = new Map();
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return cpuByPid;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      cpuByPid.set(Number(pid), { comm, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // The process exited meanwhile.
    }
  }
  return cpuByPid;
}

/**
 * Busy and total CPU time of the machine in seconds. /proc/stat is read directly where it exists because
 * os.cpus() leaves out softirq and steal time, and loopback networking spends a lot of the former.
 */
export function machineCpuTimes() {
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

export function cpuSnapshot() {
  return { at: process.hrtime.bigint(), machine: machineCpuTimes(), processes: processCpuTable() };
}

/** Machine-wide CPU use over a short interval, in % of one core (the machine has cpus × 100%). */
export async function machineBusyPercent(ms) {
  const before = machineCpuTimes();
  await sleep(ms);
  const after = machineCpuTimes();
  const total = after.total - before.total;
  return total > 0 ? Math.round(((after.busy - before.busy) / total) * os.cpus().length * 1000) / 10 : null;
}

/**
 * Where the CPU went between two snapshots, in % of one core (200% = both of 2 cores): `groups` (pid -> name,
 * e.g. this process and each app), PostgreSQL and Redis (all their processes, which may include other users'
 * work), the kernel's softirq time (loopback networking) plus hypervisor steal, and everything else on the
 * machine (its busy time minus all of the above). Null off Linux.
 */
export function cpuBetween(before, after, groups) {
  const wall = Number(after.at - before.at) / 1e9;
  const percent = (seconds) => Math.round((seconds / wall) * 1000) / 10;
  const seconds = Object.fromEntries([...new Set(groups.values())].map((name) => [name, 0]));
  seconds.postgres = 0;
  seconds.redis = 0;
  if (after.processes.size === 0) return null;
  for (const [pid, { comm, seconds: used }] of after.processes) {
    const group =
      groups.get(pid) ?? (comm === 'postgres' ? 'postgres' : comm.startsWith('redis') ? 'redis' : undefined);
    if (!group) continue;
    const previous = before.processes.get(pid);
    seconds[group] += used - (previous && previous.comm === comm ? previous.seconds : 0);
  }
  const result = Object.fromEntries(Object.entries(seconds).map(([group, used]) => [group, percent(used)]));
  const machineTotal = after.machine.total - before.machine.total;
  const cores = (value) => (machineTotal > 0 ? (value / machineTotal) * os.cpus().length * 100 : null);
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

export function machineFacts() {
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

/** The commit the apps were built from, and whether the work tree had uncommitted changes. */
export function gitRevision() {
  const git = (...gitArgs) =>
    spawnSync('git', gitArgs, { cwd: root, encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD');
  if (!commit) return null;
  return { commit, dirty: git('status', '--porcelain', '--untracked-files=no').length > 0 };
}

/** A fingerprint of the bundles that were run, to tell builds apart when the work tree moves. */
export function bundleHash(names = APP_NAMES) {
  const hash = createHash('sha256');
  for (const name of [...names].sort()) hash.update(readFileSync(appBundle(name)));
  return hash.digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------------------
// Output

export function table(headers, rows, alignRight) {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => String(row[i]).length)),
  );
  const cell = (value, i) =>
    alignRight[i] ? String(value).padStart(widths[i]) : String(value).padEnd(widths[i]);
  const line = (row) => `| ${row.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (alignRight[i] ? '-'.repeat(width + 1) + ':' : '-'.repeat(width + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export const fixed = (value, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : 'n/a');
