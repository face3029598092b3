import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

/**
 * A start-up failure the user fixes by changing a variable: reported as one line, its message as it is, before
 * anything has started (so there is nothing to stop either).
 */
export class StartupRefusal extends Error {
  override name = 'StartupRefusal';
}

export type PortProblem = 'in use' | 'not permitted';

/** A port this process listens on until the app meant for it is about to start. */
export interface HeldPort {
  port: number;
  release(): Promise<void>;
}

/**
 * Listens on `host:port` (port 0: a free port) and keeps it until released, so that the port is known to be free
 * before the suite starts anything, and stays free while the embedded database opens (seconds, on a first start).
 */
export async function holdPort(host: string, port: number, variable: string): Promise<HeldPort> {
  // Anyone connecting meanwhile is turned away: an open connection would hold up release().
  const server = createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw portRefusal(port, 'in use', variable);
    if (code === 'EACCES') throw portRefusal(port, 'not permitted', variable);
    throw error;
  }
  return {
    port: (server.address() as AddressInfo).port,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a running suite says about itself on its control channel (`GET /v1/status`). */
export interface RunningSuiteStatus {
  gateway: string;
  pid: number;
}

/**
 * The suite already running on this data directory, if one answers on its control socket: a second `npm start`
 * would otherwise report its ports as taken, sending the user to change them, and then the data directory as busy.
 */
export function runningSuite(controlSocket: string): Promise<RunningSuiteStatus | undefined> {
  return new Promise((resolve) => {
    const asking = request({ socketPath: controlSocket, path: '/v1/status', timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          const status = JSON.parse(body) as Partial<RunningSuiteStatus>;
          const valid = response.statusCode === 200 && typeof status.gateway === 'string';
          resolve(valid ? { gateway: String(status.gateway), pid: Number(status.pid) } : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    // No socket, or a stale one left by a killed suite: nothing runs there.
    asking.on('error', () => resolve(undefined));
    asking.on('timeout', () => asking.destroy());
    asking.end();
  });
}

/** The one line a taken port gets: which port, and the variable that moves it. */
export function portRefusal(port: number, problem: PortProblem, variable: string): StartupRefusal {
  return new StartupRefusal(
    problem === 'in use'
      ? `port ${port} is in use: set ${variable} to a free port (0 picks one)`
      : `port ${port} needs privileges this process lacks: set ${variable} to a port above 1023`,
  );
}

export interface ReadyBannerInput {
  gateway: string;
  /** The gateway's `GET /metrics`, on its management port. */
  metrics: string;
  /** The data directory, absolute. */
  dataDir: string;
  /** Where `npm run bootstrap` looks for the suite unless GATEHOUSE_DATA_DIR says otherwise. */
  defaultDataDir: string;
  startupMs: number;
  /** The development identity provider's issuer, when it runs. */
  devIdentity?: string;
}

/** Single-quoted for a POSIX shell, unless it needs no quoting. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * What a person at the terminal needs once the suite is up (LOG_FORMAT=pretty): where to point a client, where the
 * data is, and the next command. A data directory other than the default is repeated in that command, since the
 * CLI finds the running suite through it.
 */
export function readyBanner(input: ReadyBannerInput): string {
  const { gateway, dataDir, defaultDataDir } = input;
  const custom = dataDir !== defaultDataDir;
  const bootstrap = `${custom ? `GATEHOUSE_DATA_DIR=${shellQuote(dataDir)} ` : ''}npm run bootstrap -- --org acme --out owner.json`;
  return [
    '',
    `  Gatehouse is ready (standalone, started in ${(input.startupMs / 1000).toFixed(1)} s)`,
    '',
    `    gateway         ${gateway}`,
    `    API reference   ${gateway}/api/docs`,
    `    JWKS            ${gateway}/api/v1/auth/jwks`,
    `    metrics         ${input.metrics}  (the gateway's; each service has its own management port)`,
    `    data            ${dataDir}  (embedded PostgreSQL; delete the directory to start over)`,
    ...(input.devIdentity
      ? [`    sign-in         ${input.devIdentity}  (development identity provider — not for production)`]
      : []),
    '',
    input.devIdentity
      ? "  Next, in a second terminal: the first organization's owner key and dashboard sign-in, into owner.json"
      : "  Next, in a second terminal: the first organization's owner key, into owner.json (owner-only)",
    `    ${bootstrap}`,
    '',
    '  Ctrl-C stops the suite; the data stays.',
    '',
    '',
  ].join('\n');
}
