import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './free-port';

/** A redis-server process of a test's own topology. */
interface Node {
  port: number;
  child: ChildProcess;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One command on a fresh connection to 127.0.0.1:port. */
async function ask(port: number, ...command: string[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command[0], ...command.slice(1));
  } finally {
    client.disconnect();
  }
}

function startNode(port: number, args: string[]): Node {
  const child = spawn('redis-server', [...args], { stdio: 'ignore' });
  return { port, child };
}

async function kill(node: Node): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    node.child.once('exit', () => resolve());
    node.child.kill('SIGKILL');
  });
}

const BASE_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

export interface RedisClusterUnderTest {
  /** `host:port` of every primary, as REDIS_CLUSTER_NODES takes them. */
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of three primaries (no replicas) from Debian's redis-server on private ports, slots assigned by
 * `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(): Promise<RedisClusterUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-cluster-'));
  const started: Node[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const busPort = await freePort();
      started.push(
        startNode(port, [
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
          '--dir',
          dir,
          ...BASE_ARGS,
        ]),
      );
    }
    for (const node of started) await until(async () => (await ask(node.port, 'PING')) === 'PONG', 'a node');
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...started.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const node of started) {
      await until(
        async () => String(await ask(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
        `cluster_state:ok on ${node.port}`,
      );
    }
  } catch (error) {
    await Promise.all(started.map(kill));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes: started.map((node) => ({ host: '127.0.0.1', port: node.port })),
    async stop() {
      await Promise.all(started.map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisSentinelUnderTest {
  /** The Sentinel, as REDIS_SENTINELS takes it. */
  sentinels: { host: string; port: number }[];
  /** The monitored name (REDIS_SENTINEL_NAME). */
  name: string;
  /** The port of the current primary, as the Sentinel reports it. */
  primaryPort(): Promise<number>;
  /** Kills the current primary (SIGKILL) and resolves once the Sentinel has promoted the replica. */
  failover(): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

/**
 * A primary, one replica and one Sentinel (quorum 1, down after 1 s) from Debian's redis-server on private ports.
 */
export async function startRedisSentinel(): Promise<RedisSentinelUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-sentinel-'));
  const name = 'gatehouse-test';
  const started: Node[] = [];
  const [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const reportedPrimary = async (): Promise<number> => {
    const reply = (await ask(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
    return Number(reply[1]);
  };
  try {
    // --dir: a replica's full sync writes an RDB file, which belongs in the topology's own directory.
    started.push(startNode(primaryPort, ['--port', String(primaryPort), '--dir', dir, ...BASE_ARGS]));
    started.push(
      startNode(replicaPort, [
        '--port',
        String(replicaPort),
        '--replicaof',
        '127.0.0.1',
        String(primaryPort),
        '--dir',
        dir,
        ...BASE_ARGS,
      ]),
    );
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    );
    started.push(startNode(sentinelPort, [config, '--sentinel']));
    await until(
      async () => String(await ask(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
      'the replica in sync',
    );
    await until(async () => (await reportedPrimary()) === primaryPort, 'the Sentinel monitoring the primary');
    await until(
      async () => ((await ask(sentinelPort, 'SENTINEL', 'replicas', name)) as unknown[]).length === 1,
      'the Sentinel knowing the replica',
    );
  } catch (error) {
    await Promise.all(started.map(kill));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    sentinels: [{ host: '127.0.0.1', port: sentinelPort }],
    name,
    primaryPort: reportedPrimary,
    async failover() {
      const from = await reportedPrimary();
      const primary = started.find((node) => node.port === from);
      if (primary) await kill(primary);
      await until(async () => (await reportedPrimary()) !== from, 'the failover', 30_000);
      return { from, to: await reportedPrimary() };
    },
    async stop() {
      await Promise.all(started.map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
