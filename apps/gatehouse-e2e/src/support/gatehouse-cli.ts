import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, WORKSPACE_ROOT, type BootstrapOutput } from '@gatehouse/testing';

/** The built pipeline CLI (`npm run build` → dist/apps/cli), run as a pipeline runs it. */
export const CLI_BUNDLE = join(WORKSPACE_ROOT, 'dist/apps/cli/main.js');
export const CLI_VERSION = (
  JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'apps/cli/package.json'), 'utf8')) as { version: string }
).version;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  stdin?: string;
  cwd?: string;
}

let privateHome: string | undefined;

/**
 * Runs `command args` with only the environment given (plus PATH and a private HOME), as a CI job's step: nothing
 * of the test process leaks in, not even its CI variables.
 */
export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<CliRun> {
  privateHome ??= mkdtempSync(join(tmpdir(), 'gatehouse-cli-home-'));
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    TZ: 'UTC',
    HOME: options.env?.['HOME'] ?? privateHome,
  };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? WORKSPACE_ROOT, env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** The built CLI with `args`. */
export function gatehouse(args: string[], options: RunOptions = {}): Promise<CliRun> {
  return runProcess(process.execPath, [CLI_BUNDLE, ...args], options);
}

/** The three variables of a credential, as a pipeline sets them. */
export function credentialEnv(gatewayUrl: string, key: { api_key: string; client_id: string }) {
  return {
    GATEHOUSE_API_URL: gatewayUrl,
    GATEHOUSE_API_KEY: key.api_key,
    GATEHOUSE_CLIENT_ID: key.client_id,
  };
}

export async function accessToken(
  gatewayUrl: string,
  key: BootstrapOutput | { api_key: string; client_id: string },
) {
  const response = await request<{ access_token: string }>(`${gatewayUrl}/api/v1/auth/m2m/authenticate`, {
    method: 'POST',
    headers: { 'x-api-key': key.api_key },
    body: { client_id: key.client_id },
  });
  if (response.status !== 200) throw new Error(`authenticate answered ${response.status}`);
  return response.body.access_token;
}

export interface StoredScan {
  id: string;
  status: string;
  repository: string | null;
  ref: string | null;
  commit: string | null;
  results: number;
  tools: { name: string }[];
}

/** Every scan of `repository`, newest first, read through the API with `token`. */
export async function scansOf(gatewayUrl: string, token: string, repository: string): Promise<StoredScan[]> {
  const response = await request<{ data: StoredScan[] }>(
    `${gatewayUrl}/api/v1/scans?repository=${encodeURIComponent(repository)}&limit=100`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  if (response.status !== 200) throw new Error(`GET /api/v1/scans answered ${response.status}`);
  return response.body.data;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Injected = { status: number; headers?: Record<string, string>; body?: unknown };

/**
 * An HTTP proxy in front of the gateway that answers some requests itself (`inject` returns the answer) and
 * forwards the others unchanged: the network faults a pipeline meets, on demand.
 */
export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  inject: (request: ProxiedRequest, index: number) => Injected | undefined;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const proxy: FaultProxy = {
    url: '',
    requests: [],
    inject: () => undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const seen: ProxiedRequest = {
        method: incoming.method ?? 'GET',
        path: incoming.url ?? '/',
        headers: incoming.headers,
        body: Buffer.concat(chunks),
      };
      const index = proxy.requests.push(seen) - 1;
      const injected = proxy.inject(seen, index);
      if (injected) {
        outgoing.writeHead(injected.status, { 'content-type': 'application/json', ...injected.headers });
        outgoing.end(injected.body === undefined ? '' : JSON.stringify(injected.body));
        return;
      }
      const headers = { ...incoming.headers, host: target.host };
      // The body was read whole: sent with its length, whatever framing the client used.
      delete headers['transfer-encoding'];
      headers['content-length'] = String(seen.body.length);
      const forwarded = httpRequest(
        { host: target.hostname, port: target.port, method: seen.method, path: seen.path, headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on('error', () => outgoing.destroy());
      forwarded.end(seen.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** The error body the suite answers with, as the proxy imitates it. */
export function errorBody(error: string, message: string, requestId: string) {
  return { error, message, request_id: requestId };
}
