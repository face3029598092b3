import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  createDataDir,
  request,
  runCli,
  standaloneEnv,
  startService,
  WORKSPACE_ROOT,
} from '@gatehouse/testing';

const execute = promisify(execFile);

interface Finished {
  code: number | null;
  output: string;
}

/** Runs a built or plain Node script to its end (bounded), with stdout and stderr together as a reader sees them. */
async function runScript(script: string, args: string[], env: Record<string, string>): Promise<Finished> {
  try {
    const { stdout, stderr } = await execute(process.execPath, [join(WORKSPACE_ROOT, script), ...args], {
      cwd: WORKSPACE_ROOT,
      env: { PATH: process.env['PATH'] ?? '', TZ: 'UTC', ...env },
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number | null; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

const linesOf = (output: string) => output.split('\n').filter((line) => line.trim() !== '');

/**
 * What a newcomer meets in the first hour besides the README's commands (readme.e2e-spec.ts): `npm start`'s
 * readable logs and its ready banner, a port in use reported as one line naming the variable to change, and
 * `--help` and usage errors on every command-line tool.
 */
describe('the first hour', () => {
  describe('a port in use', () => {
    let occupied: Server;
    let port: number;

    beforeAll(async () => {
      occupied = createServer();
      await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', () => resolve()));
      port = (occupied.address() as AddressInfo).port;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => occupied.close(() => resolve()));
    });

    const expectOneLine = (finished: Finished, message: string) => {
      expect(finished.code).toBe(1);
      expect(linesOf(finished.output)).toHaveLength(1);
      expect(finished.output).toContain(message);
      expect(finished.output).not.toMatch(/\n\s+at /);
    };

    it('stops the standalone suite with one line naming API_GATEWAY_PORT, before anything opens', async () => {
      const dataDir = createDataDir();
      try {
        const finished = await runScript(
          'dist/apps/gatehouse-standalone/main.js',
          [],
          standaloneEnv(dataDir.path, { API_GATEWAY_PORT: String(port), LOG_LEVEL: 'info' }),
        );
        expectOneLine(
          finished,
          `port ${port} is in use: set API_GATEWAY_PORT (or PORT) to a free port (0 picks one)`,
        );
        expect(JSON.parse(finished.output)).toMatchObject({
          level: 'fatal',
          service: 'gatehouse-standalone',
        });
      } finally {
        dataDir.remove();
      }
    });

    it('says the same as a readable line with LOG_FORMAT=pretty, PORT moving the gateway too', async () => {
      const dataDir = createDataDir();
      try {
        const finished = await runScript(
          'dist/apps/gatehouse-standalone/main.js',
          [],
          standaloneEnv(dataDir.path, { API_GATEWAY_PORT: '', PORT: String(port), LOG_FORMAT: 'pretty' }),
        );
        expectOneLine(finished, `port ${port} is in use: set API_GATEWAY_PORT (or PORT) to a free port`);
        expect(finished.output.startsWith('{')).toBe(false);
      } finally {
        dataDir.remove();
      }
    });

    it("stops npm start's servers mode with one line naming the service's variable, before migrating", async () => {
      const finished = await runScript('tools/scripts/start.mjs', [], {
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/gatehouse_never_created',
        AUTH_SERVICE_PORT: String(port),
        FINDINGS_SERVICE_PORT: '0',
        ADMIN_API_PORT: '0',
        API_GATEWAY_PORT: '0',
        API_GATEWAY_MANAGEMENT_PORT: '0',
        AUTH_SERVICE_MANAGEMENT_PORT: '0',
        FINDINGS_SERVICE_MANAGEMENT_PORT: '0',
        ADMIN_API_MANAGEMENT_PORT: '0',
      });
      expectOneLine(finished, `port ${port} is in use: set AUTH_SERVICE_PORT to a free port (0 picks one)`);
    });

    it('stops a service run on its own with one line naming PORT, without a stack trace', async () => {
      const failure = await startService('api-gateway', { PORT: String(port) }).then(
        async (running) => {
          await running.stop();
          throw new Error('the gateway started on a port in use');
        },
        (error: Error) => error.message,
      );
      expect(failure).toContain('exited with 1 before listening');
      expect(failure).toContain(`api-gateway failed to start: port ${port} is in use on 127.0.0.1: set PORT`);
      expect(failure).not.toContain('EADDRINUSE');
      expect(failure).not.toMatch(/\n\s+at /);
    });

    it('names MANAGEMENT_PORT when the management port is the one in use', async () => {
      const failure = await startService('api-gateway', { MANAGEMENT_PORT: String(port) }).then(
        async (running) => {
          await running.stop();
          throw new Error('the gateway started on a management port in use');
        },
        (error: Error) => error.message,
      );
      expect(failure).toContain(
        `api-gateway failed to start: port ${port} is in use on 127.0.0.1: set MANAGEMENT_PORT to a free port`,
      );
      expect(failure).not.toMatch(/\n\s+at /);
    });

    it("stops the standalone suite naming the app's management port variable", async () => {
      const dataDir = createDataDir();
      try {
        const finished = await runScript(
          'dist/apps/gatehouse-standalone/main.js',
          [],
          standaloneEnv(dataDir.path, { FINDINGS_SERVICE_MANAGEMENT_PORT: String(port) }),
        );
        expectOneLine(
          finished,
          `port ${port} is in use: set FINDINGS_SERVICE_MANAGEMENT_PORT to a free port (0 picks one)`,
        );
      } finally {
        dataDir.remove();
      }
    });
  });

  describe('npm start in a terminal (LOG_FORMAT=pretty)', () => {
    const dataDir = createDataDir();
    const env = standaloneEnv(dataDir.path, {
      LOG_FORMAT: 'pretty',
      LOG_LEVEL: 'info',
      NODE_ENV: 'development',
    });
    let child: ChildProcess;
    let ended: Promise<number | null>;
    let output = '';
    let banner = '';

    beforeAll(async () => {
      child = spawn(process.execPath, [join(WORKSPACE_ROOT, 'dist/apps/gatehouse-standalone/main.js')], {
        cwd: WORKSPACE_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      ended = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!output.includes('Gatehouse is ready') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (!output.includes('Gatehouse is ready')) throw new Error(`the suite was not ready:\n${output}`);
      // The banner is written at once; what follows it comes from later requests.
      banner = output.slice(output.indexOf('\n  Gatehouse is ready'));
    });

    afterAll(async () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await ended;
      dataDir.remove();
    });

    it('prints readable lines, without the framework start-up chatter, before one ready banner', () => {
      const beforeBanner = linesOf(output.slice(0, output.indexOf('\n  Gatehouse is ready')));
      expect(beforeBanner.filter((line) => line.startsWith('{'))).toEqual([]);
      expect(output).not.toContain('Mapped {');
      expect(output).not.toContain('dependencies initialized');
      // The host's few steps and one line per app (its URL), not the ~85 lines JSON used to take.
      expect(beforeBanner.length).toBeLessThanOrEqual(12);
      expect(
        beforeBanner.filter((line) =>
          /INFO.*: listening on http:\/\/127\.0\.0\.1:\d+ \(metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\)$/.test(
            line,
          ),
        ),
      ).toHaveLength(4);
      expect(output.match(/Gatehouse is ready/g)).toHaveLength(1);
    });

    it('gives working URLs, where the data lives and the next command to type', async () => {
      const gateway = /gateway +(http:\/\/127\.0\.0\.1:\d+)\n/.exec(banner)?.[1];
      expect(gateway).toBeDefined();
      expect(banner).toContain(`API reference   ${gateway}/api/docs\n`);
      expect(banner).toContain(`JWKS            ${gateway}/api/v1/auth/jwks\n`);
      expect(banner).toContain(`data            ${dataDir.path}  (embedded PostgreSQL`);
      expect(banner).toContain(
        `GATEHOUSE_DATA_DIR=${dataDir.path} npm run bootstrap -- --org acme --out owner.json\n`,
      );
      expect((await request(`${gateway}/api/v1/auth/jwks`)).status).toBe(200);
      expect((await request(`${gateway}/api/docs`)).status).toBe(200);
    });

    it('logs a request as one line: method, path, status, duration, request id', async () => {
      const gateway = /gateway +(http:\/\/127\.0\.0\.1:\d+)\n/.exec(banner)?.[1] ?? '';
      const response = await request(`${gateway}/api/v1/auth/jwks`, {
        headers: { 'x-request-id': 'readme-first-hour' },
      });
      expect(response.status).toBe(200);
      // The gateway logs its line once its answer is sent, after auth-service's.
      const line = /api-gateway: GET \/api\/v1\/auth\/jwks → 200 in \d+ ms \(readme-first-hour\)\n/;
      const deadline = Date.now() + 5_000;
      while (!line.test(output) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(output).toMatch(line);
      expect(output).toMatch(
        /auth-service: GET \/api\/v1\/auth\/jwks → 200 in \d+ ms \(readme-first-hour\)\n/,
      );
    });

    it('refuses a second start on the same data directory in one line that says where the first one is', async () => {
      const again = await runScript('dist/apps/gatehouse-standalone/main.js', [], env);
      expect(again.code).toBe(1);
      expect(linesOf(again.output)).toHaveLength(1);
      expect(again.output).toContain(
        `Gatehouse already runs on ${dataDir.path}, its database open in process ${child.pid} (gateway http://`,
      );
    });

    it('stops cleanly on Ctrl-C', async () => {
      child.kill('SIGINT');
      expect(await ended).toBe(0);
      expect(output).toContain('standalone suite stopped');
    });
  });

  describe('--help and usage errors', () => {
    it('gatehouse-cli prints its usage, and each command its own', async () => {
      const help = await runCli(['--help'], {});
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: gatehouse-cli <command> \[options\]/);
      for (const command of ['migrate', 'revert', 'bootstrap']) {
        const own = await runCli([command, '--help'], {});
        expect(own.code).toBe(0);
        expect(own.stdout).toMatch(new RegExp(`^Usage: gatehouse-cli ${command}`));
        expect(own.stderr).toBe('');
      }
    });

    it.each([
      [['bootstrap', '--org', 'acme', '--outfile', 'owner.json'], 'unknown option --outfile', 'bootstrap'],
      [['bootstrap', '--org', 'Acme Inc'], '--org must be 1–40 lowercase letters', 'bootstrap'],
      [['migrate', 'now'], 'unexpected argument "now"', 'migrate'],
      [['migrat'], 'unknown command "migrat"', '<command>'],
      [[], 'no command given', '<command>'],
    ])('gatehouse-cli %j is a usage error (exit 2): %s, then the usage', async (args, message, usage) => {
      const result = await runCli(args, {});
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`gatehouse-cli: ${message}`);
      expect(result.stderr).toContain(`Usage: gatehouse-cli ${usage}`);
    });

    it.each([
      'tools/scripts/start.mjs',
      'tools/scripts/test.mjs',
      'tools/bench/bench.mjs',
      'tools/bench/ingest.mjs',
      'tools/bench/revocation.mjs',
      'tools/bench/sign-ceiling.mjs',
      'tools/k8s/validate.mjs',
    ])('%s --help prints its usage and does nothing else', async (script) => {
      const help = await runScript(script, ['--help'], {});
      expect(help.code).toBe(0);
      expect(help.output).toMatch(/^Usage: /m);
    });

    it('npm test passes its arguments to Jest, and says so', async () => {
      const help = await runScript('tools/scripts/test.mjs', ['--help'], {});
      expect(help.output).toContain('Every argument is passed to Jest');
      expect(help.output).toContain('npx jest --help');
    });

    it.each([
      'tools/scripts/start.mjs',
      'tools/bench/bench.mjs',
      'tools/bench/ingest.mjs',
      'tools/bench/revocation.mjs',
      'tools/bench/sign-ceiling.mjs',
      'tools/k8s/validate.mjs',
    ])('%s refuses an unknown flag with exit 2, naming it', async (script) => {
      const refused = await runScript(script, ['--no-such-flag'], {});
      expect(refused.code).toBe(2);
      expect(refused.output).toContain('--no-such-flag');
    });
  });
});
