import { request } from 'node:http';

/** The standalone suite's control channel (see apps/gatehouse-standalone/src/app/control-channel.ts). */
export const SUITE_ROUTES = {
  bootstrap: '/v1/bootstrap',
  devUsers: '/v1/dev-users',
  migrate: '/v1/migrate',
  status: '/v1/status',
} as const;

const REQUEST_TIMEOUT_MS = 60_000;

export class SuiteNotRunningError extends Error {
  constructor(readonly socketPath: string) {
    super(
      `the standalone suite is not running (nothing listens on ${socketPath}); start it with \`npm start\`, ` +
        'or set DATABASE_URL to work on a PostgreSQL server instead',
    );
    this.name = 'SuiteNotRunningError';
  }
}

/** One request to the running suite: JSON in and out; an error status rejects with the suite's message. */
export function requestSuite<T>(
  socketPath: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const outgoing = request(
      {
        socketPath,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json' } : {},
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new Error(`the standalone suite answered ${response.statusCode} without JSON`));
            return;
          }
          const status = response.statusCode ?? 500;
          if (status >= 200 && status < 300) resolve(parsed as T);
          else reject(new Error((parsed as { message?: string }).message ?? `the suite answered ${status}`));
        });
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('the standalone suite did not answer in time')));
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      const notListening = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      reject(notListening ? new SuiteNotRunningError(socketPath) : error);
    });
    outgoing.end(payload);
  });
}
