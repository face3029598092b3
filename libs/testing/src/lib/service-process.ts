import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const WORKSPACE_ROOT = join(__dirname, '../../../..');

export type ServiceName = 'api-gateway' | 'auth-service' | 'findings-service' | 'admin-api';

export interface ServiceProcess {
  name: ServiceName;
  url: string;
  /** The management listener (`GET /metrics`), on a free port of its own. */
  managementUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
  /** Sends `signal` (if the process still runs) and resolves once it has exited, with how it ended. */
  signal(signal: NodeJS.Signals): Promise<ProcessExit>;
  /** Resolves with the output so far once it matches `pattern`; rejects after `timeoutMs` or if the process exits. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface ProcessExit {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

const LISTENING_TIMEOUT_MS = 20_000;

/**
 * Starts a built app (`dist/apps/<name>/main.js`) on a free port and resolves once it listens. The app picks
 * its own ports (PORT=0, MANAGEMENT_PORT=0) and reports them in its "listening" log line, which avoids port races
 * between files.
 */
export function startService(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(WORKSPACE_ROOT, 'dist/apps', name, 'main.js')], {
    cwd: WORKSPACE_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      TZ: 'UTC',
      NODE_ENV: 'test',
      PORT: '0',
      MANAGEMENT_PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ended = new Promise<ProcessExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        cleanup();
        resolve(output);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${name} exited before its output matched ${pattern}:\n${output}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name} output did not match ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.stderr?.off('data', check);
        child.off('exit', onExit);
      };
      // Registered after the output collector below, so `output` already holds the chunk when check() runs.
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', onExit);
      check();
      if (child.exitCode !== null || child.signalCode !== null) onExit();
    });
  return new Promise<ServiceProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${LISTENING_TIMEOUT_MS} ms:\n${output}`));
    }, LISTENING_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"context":"listening".*?"url":"(http:\/\/[^"]+)"/.exec(output);
      const management = /"context":"listening".*?"management_url":"(http:\/\/[^"]+)"/.exec(output);
      if (match && management) {
        clearTimeout(timer);
        resolve({
          name,
          url: match[1].replace('[::1]', '127.0.0.1'),
          managementUrl: management[1].replace('[::1]', '127.0.0.1'),
          child,
          output: () => output,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
          signal: async (signal: NodeJS.Signals) => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return ended;
          },
          waitForOutput,
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${output}`));
    });
  });
}
