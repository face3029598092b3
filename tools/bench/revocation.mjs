#!/usr/bin/env node
// Revocation propagation: how long from the moment a revoke is sent until every findings-service node refuses
// the revoked key's token. Starts admin-api, auth-service and N findings-service nodes (own ports, own database,
// own Redis channel), then for each sample: create a key, get a token, check every node accepts it, send the
// revoke, and poll all nodes until each answers 401. Prints p50/p95/p99/max in milliseconds.
//
// Usage: npm run bench:revocation                 (builds first)
//        node tools/bench/revocation.mjs [--help]  (expects `nx run-many -t build` to have run)
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/gatehouse_bench_revocation, created if
// missing), REDIS_URL (default redis://127.0.0.1:6379), BENCH_SAMPLES (default 100), BENCH_NODES (default 3).
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE_EXIT_CODE, usageOf } from './lib/servers.mjs';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usageOf(import.meta.url));
  process.exit(0);
}
if (args.length > 0) {
  process.stderr.write(`unknown argument(s): ${args.join(' ')} (accepted: --help)\n`);
  process.exit(USAGE_EXIT_CODE);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const samples = Number(process.env.BENCH_SAMPLES ?? 100);
const nodes = Number(process.env.BENCH_NODES ?? 3);
const databaseUrl =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/gatehouse_bench_revocation';
const env = {
  PATH: process.env.PATH ?? '',
  TZ: 'UTC',
  LOG_LEVEL: 'warn',
  PORT: '0',
  // Several findings-service nodes: each its own free management port, instead of all on the default.
  MANAGEMENT_PORT: '0',
  DATABASE_URL: databaseUrl,
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  KEY_EVENTS_CHANNEL: `gatehouse-bench:${randomBytes(4).toString('hex')}`,
  GATEWAY_SECRET: randomBytes(32).toString('base64url'),
};
const children = [];
const deadline = setTimeout(() => fail(new Error('benchmark exceeded 5 minutes')), 5 * 60_000);

function fail(error) {
  process.stderr.write(`revocation benchmark failed: ${error.message}\n`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}

function cli(args) {
  const result = spawnSync(process.execPath, [join(root, 'dist/tools/gatehouse-cli/main.js'), ...args], {
    env,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`gatehouse-cli ${args[0]} failed: ${result.stderr}`);
  return result.stdout;
}

function start(app, extra = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], {
      env: { ...env, LOG_LEVEL: 'info', ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /"context":"listening".*?"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}:\n${output}`)));
  });
}

async function call(url, { method = 'GET', headers = {}, body } = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  cli(['migrate']);
  const owner = JSON.parse(cli(['bootstrap', '--org', `revocation-${randomBytes(3).toString('hex')}`]));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const auth = await start('auth-service', {
    JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  const verifier = { JWKS_URL: `${auth}/api/v1/auth/jwks` };
  const [admin, ...findings] = await Promise.all([
    start('admin-api', verifier),
    ...Array.from({ length: nodes }, () => start('findings-service', verifier)),
  ]);
  const tokenFor = async (apiKey, clientId) =>
    (
      await call(`${auth}/api/v1/auth/m2m/authenticate`, {
        method: 'POST',
        headers: { 'x-api-key': apiKey },
        body: { client_id: clientId },
      })
    ).body.access_token;
  const ownerToken = await tokenFor(owner.api_key, owner.client_id);
  const upload = (node, token) =>
    call(`${node}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { findings: [{ rule_id: 'R', title: 't', severity: 'low', location: { path: 'a' } }] },
    });

  const latencies = [];
  for (let sample = 0; sample < samples; sample += 1) {
    const key = await call(`${admin}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'bench', client_id: `revoke-${sample}`, permissions: ['write:findings'] },
    });
    const token = await tokenFor(key.body.api_key, `revoke-${sample}`);
    for (const node of findings) {
      if ((await upload(node, token)).status !== 201) throw new Error('a fresh token was refused');
    }
    const sent = process.hrtime.bigint();
    const revoke = call(`${admin}/api/v1/api-keys/${key.body.id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    const refusedAt = await Promise.all(
      findings.map(async (node) => {
        for (;;) {
          if ((await upload(node, token)).status === 401) return process.hrtime.bigint();
          if (process.hrtime.bigint() - sent > 10_000_000_000n) throw new Error('not refused within 10 s');
        }
      }),
    );
    if ((await revoke).status !== 200) throw new Error('revoke failed');
    const slowest = refusedAt.reduce((a, b) => (a > b ? a : b));
    latencies.push(Number(slowest - sent) / 1e6);
  }
  latencies.sort((a, b) => a - b);
  const cpu = os.cpus();
  const result = {
    date: new Date().toISOString(),
    machine: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    samples,
    findings_nodes: nodes,
    revoke_to_refused_on_all_nodes_ms: {
      p50: +percentile(latencies, 50).toFixed(1),
      p95: +percentile(latencies, 95).toFixed(1),
      p99: +percentile(latencies, 99).toFixed(1),
      max: +latencies[latencies.length - 1].toFixed(1),
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main()
  .then(() => {
    clearTimeout(deadline);
    for (const child of children) child.kill('SIGTERM');
  })
  .catch(fail);
