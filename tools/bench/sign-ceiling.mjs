#!/usr/bin/env node
// The RS256 signing ceiling of this machine: how many access tokens one Node process can sign per second when it
// does nothing else. `tools/bench/bench.mjs` runs it as a child process (one process, like auth-service) before it
// starts the apps, and divides authenticate's throughput by it.
//
// Four plain loops over the same RSA key, each for BENCH_SIGN_SECONDS after half a second of warm-up:
//   token-signer     what auth-service signs with (libs/crypto TokenSigner): the header's base64url computed once,
//                    the same claims, node:crypto sign('sha256', …) with a callback, which runs RSA on libuv's
//                    thread pool (UV_THREADPOOL_SIZE, 4 by default); SIGN_CONCURRENCY signatures in flight. The
//                    same tokens, byte for byte, as jose-concurrent (libs/crypto token-signer.spec.ts).
//   jose-concurrent  jose's SignJWT, which auth-service signed with before M8, SIGN_CONCURRENCY in flight. jose 6
//                    signs through WebCrypto (RSA on the same thread pool, plus cloning and promise hops on the
//                    main thread); `npm run bench` still divides authenticate's throughput by this loop.
//   jose-serial      the same, one signature at a time (latency-bound: one hand-off to the pool per token).
//   node-sign        node:crypto sign('sha256', …) with the same key on a JWS signing input of the same size,
//                    synchronously on the main thread: the single-core ceiling of RSA-2048 alone.
//
// Usage: node tools/bench/sign-ceiling.mjs [--json] [--help]
// Environment (all optional):
//   SIGN_KEY_PEM        PKCS#8 PEM of the RSA private key (default: a fresh 2048-bit key)
//   BENCH_SIGN_SECONDS  seconds measured per loop (default 3)
//   SIGN_CONCURRENCY    signatures in flight for token-signer and jose-concurrent (default 32)
// Prints one JSON object on stdout with --json, a short table otherwise.
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import { USAGE_EXIT_CODE, usageOf } from './lib/servers.mjs';

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

function positive(name, fallback, integer) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    process.stderr.write(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  return value;
}

const SECONDS = positive('BENCH_SIGN_SECONDS', 3, false);
const CONCURRENCY = positive('SIGN_CONCURRENCY', 32, true);
const WARMUP_MS = 500;

const pem =
  process.env.SIGN_KEY_PEM ||
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
const privateKey = createPrivateKey({ key: pem, format: 'pem' });
if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('the signing key must be RSA');
const modulusLength = privateKey.asymmetricKeyDetails?.modulusLength;
const exported = await exportJWK(createPublicKey(privateKey));
const kid = await calculateJwkThumbprint({ kty: 'RSA', n: exported.n, e: exported.e }, 'sha256');

// The claims auth-service puts in an access token (libs/contracts AccessTokenClaims), with realistic values.
const claims = {
  org: randomUUID(),
  api_key_id: randomUUID(),
  client_id: 'bench-runner',
  permissions: ['write:findings'],
  key_version: 1,
  rate_limit: { requests_per_minute: 100000, burst: 10000 },
};

function signToken() {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer('gatehouse')
    .setAudience('gatehouse-api')
    .setSubject('bench-runner')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 1800)
    .setJti(randomUUID())
    .sign(privateKey);
}

// libs/crypto TokenSigner, in plain JavaScript: the header encoded once, one JSON.stringify per token, RSA on the
// thread pool.
const encodedHeader = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url')}.`;
const signingKey = { key: privateKey, padding: constants.RSA_PKCS1_PADDING };

function signTokenWithNode() {
  const now = Math.floor(Date.now() / 1000);
  const payload = JSON.stringify(
    Object.assign({}, claims, {
      iss: 'gatehouse',
      aud: 'gatehouse-api',
      sub: 'bench-runner',
      iat: now,
      nbf: now,
      exp: now + 1800,
      jti: randomUUID(),
    }),
  );
  const input = encodedHeader + Buffer.from(payload).toString('base64url');
  return new Promise((resolve, reject) =>
    sign('sha256', Buffer.from(input, 'latin1'), signingKey, (error, signature) =>
      error ? reject(error) : resolve(`${input}.${signature.toString('base64url')}`),
    ),
  );
}

/** Runs `concurrency` chains of `signOnce` for warm-up plus `SECONDS`; counts only the measured part. */
async function measureAsync(signOnce, concurrency) {
  let counting = false;
  let count = 0;
  let stopAt = Date.now() + WARMUP_MS;
  const chain = async () => {
    while (Date.now() < stopAt) {
      await signOnce();
      if (counting) count += 1;
    }
  };
  // Warm-up, then the measured window with fresh chains, so that no warm-up signature is counted.
  await Promise.all(Array.from({ length: concurrency }, chain));
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  counting = true;
  stopAt = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: concurrency }, chain));
  return summarize(count, started, cpuBefore);
}

function measureSync(signOnce) {
  let stopAt = Date.now() + WARMUP_MS;
  while (Date.now() < stopAt) signOnce();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  let count = 0;
  stopAt = Date.now() + SECONDS * 1000;
  while (Date.now() < stopAt) {
    signOnce();
    count += 1;
  }
  return summarize(count, started, cpuBefore);
}

function summarize(count, started, cpuBefore) {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    signatures: count,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round((count / seconds) * 10) / 10,
    msEach: Math.round((seconds / count) * 1e6) / 1e3,
    // CPU time per signature, all threads: what one token's signature costs the machine.
    cpuMsEach: Math.round(((cpu.user + cpu.system) / 1e3 / count) * 1e3) / 1e3,
    // user + system time of every thread of this process (main thread and libuv's pool), in % of one core.
    cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 1000) / 10,
  };
}

// A JWS signing input of the same size as a real token's, for the raw signature loop.
const sample = await signToken();
const signingInput = Buffer.from(sample.slice(0, sample.lastIndexOf('.')));

const results = {
  key: { type: 'rsa', modulusLength, algorithm: 'RS256' },
  jose: JSON.parse(readFileSync(new URL('../../node_modules/jose/package.json', import.meta.url), 'utf8'))
    .version,
  threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4,
  concurrency: CONCURRENCY,
  secondsPerLoop: SECONDS,
  tokenBytes: sample.length,
  loops: {},
};
results.loops['token-signer'] = await measureAsync(signTokenWithNode, CONCURRENCY);
results.loops['jose-concurrent'] = await measureAsync(signToken, CONCURRENCY);
results.loops['jose-serial'] = await measureAsync(signToken, 1);
results.loops['node-sign'] = measureSync(() => sign('sha256', signingInput, privateKey));

const total = process.cpuUsage();
results.totalCpuSeconds = Math.round(((total.user + total.system) / 1e6) * 1000) / 1000;

if (jsonOutput) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  process.stdout.write(
    `RS256 with RSA-${modulusLength}, ${SECONDS} s per loop, jose ${results.jose}, ` +
      `libuv pool ${results.threadPoolSize} threads, token ${results.tokenBytes} bytes\n`,
  );
  for (const [name, loop] of Object.entries(results.loops)) {
    process.stdout.write(
      `${name.padEnd(16)} ${String(loop.perSecond).padStart(8)} /s  ${loop.msEach} ms each  ` +
        `CPU ${loop.cpuPercentOfOneCore}% of one core, ${loop.cpuMsEach} ms per signature\n`,
    );
  }
}
