import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';

/** Debian's pgbouncer package; .ci/run installs it when it is missing. */
export const PGBOUNCER_BINARY = process.env['PGBOUNCER_BINARY'] ?? '/usr/sbin/pgbouncer';

export interface PgBouncerOptions {
  /** The PostgreSQL server behind it (host and port of this URL; every database name is passed through). */
  serverUrl: string;
  poolMode?: 'transaction' | 'session';
  /** Server connections per database and user: small, so that clients share them. */
  poolSize?: number;
}

export interface RunningPgBouncer {
  port: number;
  /** `url` with its host and port replaced by PgBouncer's: the same database, through the pooler. */
  viaPooler(url: string): string;
  /** SHOW STATS of its admin console, for one database: transactions and queries it carried. */
  stats(database: string): Promise<{ transactions: number; queries: number }>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer on a private port in front of `serverUrl`, with trust authentication, as an operator would run
 * it in transaction mode in front of the services. PgBouncer refuses to run as root: as root, it runs as the
 * `postgres` user (setpriv execs it, so the process stopped is PgBouncer itself).
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<RunningPgBouncer> {
  const server = new URL(options.serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgbouncer-'));
  chmodSync(dir, 0o777);
  const logfile = join(dir, 'pgbouncer.log');
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 500',
      `logfile = ${logfile}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? 'setpriv' : PGBOUNCER_BINARY;
  const args = asRoot
    ? ['--reuid=postgres', '--regid=postgres', '--init-groups', PGBOUNCER_BINARY, join(dir, 'pgbouncer.ini')]
    : [join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const log = () => {
    let file = '';
    try {
      file = readFileSync(logfile, 'utf8');
    } catch {
      // No log file yet: PgBouncer has not started writing it.
    }
    return `${output}${file}`;
  };

  const admin = async <T>(use: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ host: '127.0.0.1', port, user, database: 'pgbouncer' });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await admin((client) => client.query('SHOW VERSION'));
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PgBouncer did not start (${(error as Error).message}): ${log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return {
    port,
    viaPooler(url) {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = String(port);
      return pooled.toString();
    },
    async stats(database) {
      const { rows } = await admin((client) =>
        client.query<{ database: string; total_xact_count: string; total_query_count: string }>('SHOW STATS'),
      );
      const row = rows.find((candidate) => candidate.database === database);
      return {
        transactions: Number(row?.total_xact_count ?? 0),
        queries: Number(row?.total_query_count ?? 0),
      };
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const stopped = await Promise.race([
          exited,
          new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000)),
        ]);
        if (stopped === 'timeout') child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
