#!/usr/bin/env node
// Runs the whole suite from one command (after `nx run-many -t build`), in one of two modes:
// - standalone (neither DATABASE_URL nor REDIS_URL set): the four apps in one process on an embedded PostgreSQL
//   (PGlite) under GATEHOUSE_DATA_DIR (default .data/) and an in-process key-event bus; nothing else to install;
// - servers (either variable set): applies pending migrations, then starts the four built apps as separate
//   processes (as they run in production) on that PostgreSQL and Redis, the one not set at its default, with their
//   output prefixed, and stops them all together.
// The logs are readable lines when this script's output is a terminal (LOG_FORMAT=pretty, outside production),
// JSON lines otherwise; LOG_FORMAT set by the caller wins. Each app validates the value it is given.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const USAGE = `Usage: npm start            (builds, then runs this script)
       node tools/scripts/start.mjs [--help]

Runs the whole Gatehouse suite until Ctrl-C (or SIGTERM), then stops every app cleanly.

  standalone mode (neither DATABASE_URL nor REDIS_URL set): the four apps in one process on an embedded
    PostgreSQL in GATEHOUSE_DATA_DIR (default .data/ at the repository root); nothing else to install.
  servers mode (either set; the other takes its default): applies pending migrations, then runs the four apps
    as separate processes on that PostgreSQL and Redis.

Variables (all optional):
  API_GATEWAY_PORT (or PORT)   the gateway's port, default 8080 (0 picks a free port)
  AUTH_SERVICE_PORT, FINDINGS_SERVICE_PORT, ADMIN_API_PORT
                               the services' ports, default 3001, 3002, 3003
  API_GATEWAY_MANAGEMENT_PORT (or MANAGEMENT_PORT), AUTH_SERVICE_MANAGEMENT_PORT,
  FINDINGS_SERVICE_MANAGEMENT_PORT, ADMIN_API_MANAGEMENT_PORT
                               the apps' management ports (GET /metrics), default 9080, 9001, 9002, 9003
  LOG_FORMAT                   pretty (readable lines) or json; default pretty when the output is a terminal
                               and NODE_ENV is not production, json otherwise
  GATEHOUSE_DATA_DIR           standalone mode's data directory
  DEV_IDENTITY_PORT            standalone mode's development identity provider (the dashboard's sign-in),
                               default 8090; DEV_IDENTITY=off, or OIDC_ISSUER set, turns it off
  DATABASE_URL, REDIS_URL      servers mode
  every other variable of docs/CONFIGURATION.md reaches the apps as usual.

Once everything is up it prints the gateway's URL, the API reference, the JWKS, where the data lives and the
next command (a JSON line "... ready" with LOG_FORMAT=json). A port in use stops it at once, naming the variable
that moves it. Exit status: 0 after a clean stop, 1 when an app failed, 2 for a usage error.
`;

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const apps = ['auth-service', 'findings-service', 'admin-api', 'api-gateway'];
const isSet = (name) => (process.env[name] ?? '') !== '';
const READY_TIMEOUT_MS = 120_000;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.length > 0) {
  process.stderr.write(`start: unknown argument(s) ${args.join(' ')}; see --help\n`);
  process.exit(2);
}

const logFormat = isSet('LOG_FORMAT')
  ? process.env.LOG_FORMAT
  : process.stdout.isTTY && process.env.NODE_ENV !== 'production'
    ? 'pretty'
    : 'json';

if (!isSet('DATABASE_URL') && !isSet('REDIS_URL')) {
  startStandalone();
} else {
  await startServers();
}

function startStandalone() {
  const suite = spawn(process.execPath, [join(root, 'dist/apps/gatehouse-standalone/main.js')], {
    env: { ...process.env, LOG_FORMAT: logFormat },
    stdio: 'inherit',
  });
  // The suite stops on these signals by itself (a terminal's Ctrl-C reaches it directly too).
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => suite.kill(signal));
  suite.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/** One line for this script's own messages, in the apps' format. */
function say(level, message, fields = {}) {
  if (logFormat === 'pretty') {
    process.stdout.write(`${message}\n`);
  } else {
    const entry = { level, time: Date.now(), service: 'gatehouse-start', message, ...fields };
    process.stdout.write(`${JSON.stringify(entry)}\n`);
  }
}

function fail(message, code = 1) {
  say('fatal', message);
  process.exit(code);
}

/** An integer port from a variable, or the fallback when unset. */
function portFrom(names, fallback) {
  for (const name of names) {
    if (!isSet(name)) continue;
    const value = Number(process.env[name]);
    if (!Number.isInteger(value) || value < 0 || value > 65535)
      fail(`${name} must be a port number (0–65535)`);
    return value;
  }
  return fallback;
}

/** Listens once on host:port: undefined when it could, else why not (port 0 gets a free port's number). */
function probePort(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) =>
      resolve({ problem: error.code === 'EACCES' ? 'not permitted' : 'in use' }),
    );
    server.listen({ host, port, exclusive: true }, () => {
      const { port: bound } = server.address();
      server.close(() => resolve({ port: bound }));
    });
  });
}

/** Single-quoted for a POSIX shell, unless it needs no quoting. */
function shellQuote(value) {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** host:port/database of a URL, without its credentials. */
function describeUrl(url, defaultPort) {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || defaultPort}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

async function waitUntilReady(url, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

function serversBanner(urls, databaseUrl, redisUrl) {
  const gateway = urls['api-gateway'];
  const hasPassword = (() => {
    try {
      return new URL(databaseUrl).password !== '';
    } catch {
      return true;
    }
  })();
  const bootstrap = hasPassword
    ? 'DATABASE_URL=… npm run bootstrap -- --org acme --out owner.json   (this suite’s DATABASE_URL)'
    : `DATABASE_URL=${shellQuote(databaseUrl)} npm run bootstrap -- --org acme --out owner.json`;
  return [
    '',
    '  Gatehouse is ready (servers: four processes)',
    '',
    `    gateway         ${gateway}`,
    `    API reference   ${gateway}/api/docs`,
    `    JWKS            ${gateway}/api/v1/auth/jwks`,
    `    data            PostgreSQL ${describeUrl(databaseUrl, 5432)}, Redis ${describeUrl(redisUrl, 6379)}`,
    '',
    "  Next, in a second terminal: the first organization's owner key, into owner.json (owner-only)",
    `    ${bootstrap}`,
    '',
    '  Ctrl-C stops the suite.',
    '',
    '',
  ].join('\n');
}

async function startServers() {
  const host = process.env.HOST || '127.0.0.1';
  const reachable =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const wanted = {
    'auth-service': { port: portFrom(['AUTH_SERVICE_PORT'], 3001), variable: 'AUTH_SERVICE_PORT' },
    'findings-service': {
      port: portFrom(['FINDINGS_SERVICE_PORT'], 3002),
      variable: 'FINDINGS_SERVICE_PORT',
    },
    'admin-api': { port: portFrom(['ADMIN_API_PORT'], 3003), variable: 'ADMIN_API_PORT' },
    'api-gateway': {
      port: portFrom(['API_GATEWAY_PORT', 'PORT'], 8080),
      variable: 'API_GATEWAY_PORT (or PORT)',
    },
  };
  // Each app's MANAGEMENT_PORT, moved by a variable of its own as PORT is, since all four share the environment.
  const wantedManagement = {
    'auth-service': {
      port: portFrom(['AUTH_SERVICE_MANAGEMENT_PORT'], 9001),
      variable: 'AUTH_SERVICE_MANAGEMENT_PORT',
    },
    'findings-service': {
      port: portFrom(['FINDINGS_SERVICE_MANAGEMENT_PORT'], 9002),
      variable: 'FINDINGS_SERVICE_MANAGEMENT_PORT',
    },
    'admin-api': {
      port: portFrom(['ADMIN_API_MANAGEMENT_PORT'], 9003),
      variable: 'ADMIN_API_MANAGEMENT_PORT',
    },
    'api-gateway': {
      port: portFrom(['API_GATEWAY_MANAGEMENT_PORT', 'MANAGEMENT_PORT'], 9080),
      variable: 'API_GATEWAY_MANAGEMENT_PORT (or MANAGEMENT_PORT)',
    },
  };
  // Before migrating and before any app starts: a port in use is the commonest failure, and each app would report
  // it naming PORT, which all four share here.
  const probed = async ({ port, variable }, on) => {
    const probe = await probePort(on, port);
    if (probe.problem === 'in use')
      fail(`port ${port} is in use: set ${variable} to a free port (0 picks one)`);
    if (probe.problem)
      fail(`port ${port} needs privileges this process lacks: set ${variable} to a port above 1023`);
    return probe.port;
  };
  const managementHost = process.env.MANAGEMENT_HOST || host;
  const managementReachable =
    managementHost === '0.0.0.0' || managementHost === '::'
      ? '127.0.0.1'
      : managementHost.includes(':')
        ? `[${managementHost}]`
        : managementHost;
  const ports = {};
  const managementPorts = {};
  for (const app of apps) {
    ports[app] = await probed(wanted[app], host);
    managementPorts[app] = await probed(wantedManagement[app], managementHost);
  }
  const urls = Object.fromEntries(apps.map((app) => [app, `http://${reachable}:${ports[app]}`]));

  const migrate = spawnSync(process.execPath, [join(root, 'dist/tools/gatehouse-cli/main.js'), 'migrate'], {
    stdio: 'inherit',
  });
  if (migrate.status !== 0) fail('migrations failed; not starting the suite', migrate.status ?? 1);

  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/gatehouse';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  // The four processes of this run share one GATEWAY_SECRET, so that the services believe the gateway's
  // X-Forwarded-For and answer its token exchange; an operator's own value, when set, is kept. The apps find each
  // other on the ports chosen above, whatever the URL variables said. Their output passes through this script's,
  // so a terminal here keeps their colours.
  const env = {
    ...process.env,
    GATEWAY_SECRET: isSet('GATEWAY_SECRET')
      ? process.env.GATEWAY_SECRET
      : randomBytes(32).toString('base64url'),
    LOG_FORMAT: logFormat,
    JWKS_URL: `${urls['auth-service']}/api/v1/auth/jwks`,
    AUTH_SERVICE_URL: urls['auth-service'],
    FINDINGS_SERVICE_URL: urls['findings-service'],
    ADMIN_API_URL: urls['admin-api'],
    ...(logFormat === 'pretty' && process.stdout.isTTY && !isSet('NO_COLOR') && !isSet('FORCE_COLOR')
      ? { FORCE_COLOR: '1' }
      : {}),
  };
  const children = apps.map((app) => {
    const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], {
      env: { ...env, PORT: String(ports[app]), MANAGEMENT_PORT: String(managementPorts[app]) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = `${app.padEnd(16)} | `;
    const forward = (stream) => {
      let buffered = '';
      return (chunk) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop();
        for (const line of lines) stream.write(prefix + line + '\n');
      };
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    return child;
  });

  let stopping = false;
  function stopAll(signal) {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child.exitCode === null) child.kill(signal);
  }

  let exitCode = 0;
  let remaining = children.length;
  children.forEach((child, index) =>
    child.on('exit', (code, signal) => {
      if (!stopping) {
        process.stderr.write(`${apps[index]} exited (${signal ?? code}); stopping the suite\n`);
        exitCode = code || 1;
        stopAll('SIGTERM');
      }
      remaining -= 1;
      if (remaining === 0) process.exit(exitCode);
    }),
  );
  process.on('SIGINT', () => stopAll('SIGTERM'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));

  const ready = await Promise.all(apps.map((app, index) => waitUntilReady(urls[app], children[index])));
  if (stopping) return;
  if (!ready.every(Boolean)) {
    process.stderr.write(`the suite was not ready within ${READY_TIMEOUT_MS / 1000} s; stopping it\n`);
    exitCode = 1;
    stopAll('SIGTERM');
    return;
  }
  if (logFormat === 'pretty') {
    process.stdout.write(serversBanner(urls, databaseUrl, redisUrl));
  } else {
    say('info', 'suite ready', {
      gateway: urls['api-gateway'],
      services: urls,
      metrics: Object.fromEntries(
        apps.map((app) => [app, `http://${managementReachable}:${managementPorts[app]}/metrics`]),
      ),
      api_reference: `${urls['api-gateway']}/api/docs`,
      jwks: `${urls['api-gateway']}/api/v1/auth/jwks`,
      database: describeUrl(databaseUrl, 5432),
      redis: describeUrl(redisUrl, 6379),
    });
  }
}
