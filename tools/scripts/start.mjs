#!/usr/bin/env node
// Runs the whole suite from one command: applies pending migrations, then starts the four built apps as
// separate processes (as they run in production) with their output prefixed, and stops them all together.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const apps = ['auth-service', 'findings-service', 'admin-api', 'api-gateway'];

const migrate = spawnSync(process.execPath, [join(root, 'dist/tools/gatehouse-cli/main.js'), 'migrate'], {
  stdio: 'inherit',
});
if (migrate.status !== 0) {
  process.stderr.write('migrations failed; not starting the suite\n');
  process.exit(migrate.status ?? 1);
}

const children = apps.map((app) => {
  const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], {
    env: process.env,
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
