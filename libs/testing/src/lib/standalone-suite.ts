import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli';
import { request } from './http';
import { WORKSPACE_ROOT } from './service-process';
import type { BootstrapOutput } from './suite';

/** First start initializes PostgreSQL in the data directory (about 6 s on two cores); later starts take 2–3 s. */
const READY_TIMEOUT_MS = 45_000;

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StandaloneSuite {
  /** The gateway's base URL. */
  gateway: string;
  services: Record<string, string>;
  /** Each app's `GET /metrics` URL, on its management port. */
  metrics: Record<string, string>;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM (or another signal), then the way the process ended. */
  stop(signal?: NodeJS.Signals): Promise<ProcessEnd>;
  /** `gatehouse-cli bootstrap` in standalone mode: through the suite's control channel. */
  bootstrap(org: string, plan?: string): Promise<BootstrapOutput>;
}

/** A data directory of its own (short: the control socket's path must fit in 107 bytes). */
export function createDataDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'gh-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The environment of standalone mode: no DATABASE_URL, no REDIS_URL, free ports. */
export function standaloneEnv(dataDir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    TZ: 'UTC',
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    GATEHOUSE_DATA_DIR: dataDir,
    API_GATEWAY_PORT: '0',
    AUTH_SERVICE_PORT: '0',
    FINDINGS_SERVICE_PORT: '0',
    ADMIN_API_PORT: '0',
    API_GATEWAY_MANAGEMENT_PORT: '0',
    AUTH_SERVICE_MANAGEMENT_PORT: '0',
    FINDINGS_SERVICE_MANAGEMENT_PORT: '0',
    ADMIN_API_MANAGEMENT_PORT: '0',
    DEV_IDENTITY_PORT: '0',
    ...env,
  };
}

/** Runs the built standalone suite (`dist/apps/gatehouse-standalone/main.js`) and resolves once it is ready. */
export function startStandalone(dataDir: string, env: Record<string, string> = {}): Promise<StandaloneSuite> {
  const child = spawn(process.execPath, [join(WORKSPACE_ROOT, 'dist/apps/gatehouse-standalone/main.js')], {
    cwd: WORKSPACE_ROOT,
    env: standaloneEnv(dataDir, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ended = new Promise<ProcessEnd>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise<StandaloneSuite>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the standalone suite was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`));
    }, READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((candidate) => candidate.includes('"standalone suite ready"'));
      if (!line) return;
      child.stdout?.off('data', onData);
      child.stdout?.on('data', (more: Buffer) => (output += more.toString()));
      clearTimeout(timer);
      const ready = JSON.parse(line) as {
        gateway: string;
        services: Record<string, string>;
        metrics: Record<string, string>;
      };
      resolve({
        gateway: ready.gateway,
        services: ready.services,
        metrics: ready.metrics,
        dataDir,
        child,
        output: () => output,
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return ended;
        },
        bootstrap: async (org, plan) => {
          const result = await runCli(['bootstrap', '--org', org, ...(plan ? ['--plan', plan] : [])], {
            GATEHOUSE_DATA_DIR: dataDir,
          });
          if (result.code !== 0) throw new Error(`bootstrap failed (${result.code}): ${result.stderr}`);
          return JSON.parse(result.stdout) as BootstrapOutput;
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void ended.then((end) => {
      clearTimeout(timer);
      reject(
        new Error(`the standalone suite ended (${end.signal ?? end.code}) before it was ready:\n${output}`),
      );
    });
  });
}

/** An access token for a key, through the gateway. */
export async function tokenFor(gateway: string, apiKey: string, clientId: string): Promise<string> {
  const response = await request(`${gateway}/api/v1/auth/m2m/authenticate`, {
    method: 'POST',
    headers: { 'x-api-key': apiKey },
    body: { client_id: clientId },
  });
  if (response.status !== 200) {
    throw new Error(`authenticate answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body['access_token'] as string;
}
