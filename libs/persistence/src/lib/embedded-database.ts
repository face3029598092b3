import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
// The type of what `await import()` below loads (the package's ESM build, whose types are distinct from its CJS ones).
import type { PGlite } from '@electric-sql/pglite' with { 'resolution-mode': 'import' };
import { Logger } from '@nestjs/common';
import { Pool, type PoolClient, type PoolConfig } from 'pg';

/** Where standalone mode keeps its data: this variable, else `.data/` at the repository root. */
export const DATA_DIR_VARIABLE = 'GATEHOUSE_DATA_DIR';
export const DEFAULT_DATA_DIR_NAME = '.data';

/**
 * How long a statement waits for its turn on the single connection before it fails. Only a deadlock (code holding
 * the connection in a transaction while waiting for a second one) could come near it: under load, statements
 * queue for milliseconds to a few seconds.
 */
export const EMBEDDED_CONNECTION_WAIT_MS = 30_000;

/** Longest `close()` waits for the connection to be handed back before closing PGlite anyway. */
const CLOSE_WAIT_MS = 10_000;

/** What standalone mode keeps in its data directory. */
export interface EmbeddedLayout {
  dataDir: string;
  /** PGlite's PostgreSQL data directory (mode 0700). */
  pgdata: string;
  /** Holds the pid of the one process that has the database open. */
  lockFile: string;
  /** The standalone suite's control channel (a Unix socket, mode 0600), which `gatehouse-cli` talks to. */
  controlSocket: string;
}

export function embeddedLayout(dataDir: string): EmbeddedLayout {
  const root = resolve(dataDir);
  return {
    dataDir: root,
    pgdata: join(root, 'pgdata'),
    lockFile: join(root, 'pgdata.lock'),
    controlSocket: join(root, 'control.sock'),
  };
}

/** GATEHOUSE_DATA_DIR (relative paths from the working directory), else `.data/` under `root`. */
export function resolveDataDir(
  root: string,
  environment: Record<string, string | undefined> = process.env,
): string {
  const configured = environment[DATA_DIR_VARIABLE];
  return configured ? resolve(configured) : join(root, DEFAULT_DATA_DIR_NAME);
}

export class EmbeddedDatabaseInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is open in process ${ownerPid} (a running standalone suite?); ` +
        'PGlite has one owner: reach it through that process',
    );
    this.name = 'EmbeddedDatabaseInUseError';
  }
}

type PoolCallback = (
  error: Error | undefined,
  client: PoolClient | undefined,
  release: (release?: unknown) => void,
) => void;
type Listener = (...args: unknown[]) => void;

/** What TypeORM's postgres driver uses of a `pg` pool. */
export interface EmbeddedPool {
  on(event: string, listener: Listener): this;
  connect(callback: PoolCallback): void;
  connect(): Promise<PoolClient>;
  end(callback?: (error?: Error) => void): Promise<void>;
}

/** A stand-in for the `pg` module, for TypeORM's `driver` option. */
export interface EmbeddedPgDriver {
  Pool: new (options?: unknown) => EmbeddedPool;
}

/**
 * PostgreSQL embedded in this process (PGlite, WebAssembly), on files under a data directory.
 *
 * PGlite is a single session: its node-postgres adapter serializes the protocol messages of one client, but two
 * clients (two pools) on the same instance interleave their messages, so statements fail, hang or land in the
 * other's transaction. Hence one `pg` pool of exactly one client for the whole process: every DataSource, in every
 * app of the process, borrows that client through `driver` and waits its turn, and a transaction keeps it from
 * BEGIN to COMMIT. The data directory has one owner process, enforced with a lock file.
 */
export interface EmbeddedDatabase {
  readonly dataDir: string;
  readonly layout: EmbeddedLayout;
  readonly driver: EmbeddedPgDriver;
  /** Pools made from `driver` and not ended yet (one per initialized DataSource). */
  readonly openPools: number;
  readonly closed: boolean;
  /** Ends the connection, closes PGlite (flushing it to disk) and releases the data directory. */
  close(): Promise<void>;
}

// Each app's bundle carries its own copy of this library; the registry lives on globalThis so that all the copies
// in one process find the same database.
const HOSTED = Symbol.for('gatehouse.persistence.embedded-database');
interface HostedSlot {
  dataDir: string;
  opening: Promise<EmbeddedDatabase>;
}
const processSlots = globalThis as { [HOSTED]?: HostedSlot };

/**
 * Opens the embedded database in `dataDir` (created if missing, PostgreSQL initialized on first use), or returns
 * the one this process has open there already. A process hosts at most one at a time.
 */
export function openEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const layout = embeddedLayout(dataDir);
  const hosted = processSlots[HOSTED];
  if (hosted) {
    if (hosted.dataDir === layout.dataDir) return hosted.opening;
    return Promise.reject(
      new Error(`this process has the embedded database in ${hosted.dataDir} open already`),
    );
  }
  const opening = PgliteDatabase.open(layout);
  const slot: HostedSlot = { dataDir: layout.dataDir, opening };
  processSlots[HOSTED] = slot;
  opening.catch(() => {
    if (processSlots[HOSTED] === slot) delete processSlots[HOSTED];
  });
  return opening;
}

/**
 * The embedded database this process hosts, if any: what DATABASE_DRIVER=embedded resolves to (the standalone suite
 * opens it, then loads the apps with that setting). Nothing decides a mode by looking here.
 */
export function hostedEmbeddedDatabase(): Promise<EmbeddedDatabase> | undefined {
  return processSlots[HOSTED]?.opening;
}

class PgliteDatabase implements EmbeddedDatabase {
  private readonly logger = new Logger('EmbeddedDatabase');
  private pools = 0;
  private closing: Promise<void> | undefined;
  readonly driver: EmbeddedPgDriver;

  private constructor(
    readonly layout: EmbeddedLayout,
    private readonly pglite: PGlite,
    private readonly pool: Pool,
  ) {
    this.driver = { Pool: this.leaseClass() };
    // An idle client's error (none is expected in-process) must not go unhandled between leases.
    pool.on('error', (error: Error) => this.logger.warn(`embedded connection: ${error.message}`));
  }

  static async open(layout: EmbeddedLayout): Promise<PgliteDatabase> {
    mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
    acquireLock(layout);
    try {
      // PGlite creates its files world-readable: the directory keeps everyone else out.
      mkdirSync(layout.pgdata, { recursive: true, mode: 0o700 });
      chmodSync(layout.pgdata, 0o700);
      // Loaded on demand: only standalone mode opens it, and the services' images do not ship it.
      const [{ PGlite }, { createPgConfig }] = await Promise.all([
        import('@electric-sql/pglite'),
        import('@electric-sql/pglite/node-postgres'),
      ]);
      const pglite = new PGlite(layout.pgdata);
      await pglite.waitReady;
      const config: PoolConfig & { connection: unknown } = {
        ...createPgConfig(pglite),
        max: 1,
        idleTimeoutMillis: 0,
        connectionTimeoutMillis: EMBEDDED_CONNECTION_WAIT_MS,
      };
      return new PgliteDatabase(layout, pglite, new Pool(config));
    } catch (error) {
      releaseLock(layout);
      throw error;
    }
  }

  get dataDir(): string {
    return this.layout.dataDir;
  }

  get openPools(): number {
    return this.pools;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((done) => {
        timer = setTimeout(() => {
          this.logger.warn('the embedded connection was not handed back in time; closing anyway');
          done();
        }, CLOSE_WAIT_MS);
      });
      await Promise.race([this.pool.end(), gaveUp]);
      clearTimeout(timer);
      await this.pglite.close();
    } finally {
      releaseLock(this.layout);
      const slot = processSlots[HOSTED];
      if (slot?.dataDir === this.layout.dataDir) delete processSlots[HOSTED];
    }
  }

  /** Each `new driver.Pool()` (one per DataSource) is a lease of the one shared pool; ending it ends the lease. */
  private leaseClass(): EmbeddedPgDriver['Pool'] {
    const shared = this.pool;
    const lease = () => {
      if (this.closed) throw new Error('the embedded database is closed');
      this.pools += 1;
    };
    const release = () => {
      this.pools -= 1;
    };
    return class SharedPoolLease implements EmbeddedPool {
      private readonly listeners: [string, Listener][] = [];
      private ended = false;

      constructor(_options?: unknown) {
        lease();
      }

      on(event: string, listener: Listener): this {
        shared.on(event as 'error', listener);
        this.listeners.push([event, listener]);
        return this;
      }

      connect(callback: PoolCallback): void;
      connect(): Promise<PoolClient>;
      connect(callback?: PoolCallback): Promise<PoolClient> | void {
        if (this.ended) {
          const error = new Error('this pool has ended');
          if (callback) return callback(error, undefined, () => undefined);
          return Promise.reject(error);
        }
        if (callback) return shared.connect(callback);
        return shared.connect();
      }

      end(callback?: (error?: Error) => void): Promise<void> {
        if (!this.ended) {
          this.ended = true;
          for (const [event, listener] of this.listeners) shared.removeListener(event, listener);
          release();
        }
        callback?.();
        return Promise.resolve();
      }
    };
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One owner process per data directory; a lock left by a process that is gone (kill -9) is taken over. */
function acquireLock(layout: EmbeddedLayout): void {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(layout.lockFile, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(readFileSync(layout.lockFile, 'utf8'), 10);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      continue;
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
      throw new EmbeddedDatabaseInUseError(layout.dataDir, owner);
    }
    try {
      unlinkSync(layout.lockFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`could not lock ${layout.lockFile}`);
}

function releaseLock(layout: EmbeddedLayout): void {
  try {
    if (Number.parseInt(readFileSync(layout.lockFile, 'utf8'), 10) === process.pid)
      unlinkSync(layout.lockFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
