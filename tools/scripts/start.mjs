#!/usr/bin/env node
// Runs the whole suite from one command (after `nx run-many -t build`), in one of two modes:
// - standalone (neither DATABASE_URL nor REDIS_URL set): the four apps in one process on an embedded PostgreSQL
//   (PGlite) under GATEHOUSE_DATA_DIR (default .data/) and an in-process revocation bus; nothing else to install;
// - servers (either variable set): applies pending migrations, then starts the four built apps as separate
//   processes (as they run in production) on that PostgreSQL and Redis, the one not set at its default, with their
//   output prefixed, and stops them all together.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const apps = ['auth-service', 'findings-service', 'admin-api', 'api-gateway'];
const isSet = (name) => (process.env[name] ?? '') !== '';

if (!isSet('DATABASE_URL') && !isSet('REDIS_URL')) {
  const suite = spawn(process.execPath, [join(root, 'dist/apps/gatehouse-standalone/main.js')], {
    env: process.env,
    stdio: 'inherit',
  });
  // The suite stops on these signals by itself (a terminal's Ctrl-C reaches it directly too).
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => suite.kill(signal));
  suite.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  startServers();
}

function startServers() {
  const migrate = spawnSync(process.execPath, [join(root, 'dist/tools/gatehouse-cli/main.js'), 'migrate'], {
    stdio: 'inherit',
  });
  if (migrate.status !== 0) {
    process.stderr.write('migrations failed; not starting the suite\n');
    process.exit(migrate.status ?? 1);
  }

  // The four processes of this run share one GATEWAY_SECRET, so that the services believe the gateway's
  // X-Forwarded-For and answer its token exchange; an operator's own value, when set, is kept.
  const env = isSet('GATEWAY_SECRET')
    ? process.env
    : { ...process.env, GATEWAY_SECRET: randomBytes(32).toString('base64url') };
  const children = apps.map((app) => {
    const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], {
      env,
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
}
