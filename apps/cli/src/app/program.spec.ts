import { generateApiKey } from '@gatehouse/crypto';
import { runCli } from './program';
import type { Runtime } from './runtime';
import { CLI_VERSION } from './version';

const API_KEY = generateApiKey('live').secret;
const KEY_ID = '6f1c7c2e-8d7b-4a57-9f7e-1d2c3b4a5f60';

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

const TOKEN = jwt({
  org: 'org-1',
  sub: 'ci-main',
  client_id: 'ci-main',
  api_key_id: KEY_ID,
  permissions: ['read:keys', 'write:keys'],
  key_version: 1,
  rate_limit: { requests_per_minute: 300, burst: 50 },
});

type Handler = (request: Request) => Response | Promise<Response>;

const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

const refusal = (status: number, error: string, message: string) =>
  answer(status, { error, message, request_id: `req-${status}` });

const authenticated = () =>
  answer(200, {
    access_token: TOKEN,
    token_type: 'bearer',
    expires_in: 1800,
    client_id: 'ci-main',
    api_key_id: KEY_ID,
  });

/** The CLI in a fake process: the server is `handle`, time moves only when the CLI sleeps. */
function fakeProcess(handle: Handler, env: Record<string, string> = {}) {
  const seen: { method: string; path: string; headers: Headers }[] = [];
  const sleeps: number[] = [];
  let now = Date.parse('2026-06-01T00:00:00Z');
  let stdout = '';
  let stderr = '';
  const runtime: Runtime = {
    env: {
      GATEHOUSE_API_URL: 'https://gatehouse.example.com',
      GATEHOUSE_API_KEY: API_KEY,
      GATEHOUSE_CLIENT_ID: 'ci-main',
      ...env,
    },
    stdout: { write: (text) => void (stdout += text), isTTY: false },
    stderr: { write: (text) => void (stderr += text), isTTY: false },
    readStdin: () => Promise.resolve(''),
    fetch: async (request) => {
      const url = new URL(request.url);
      seen.push({ method: request.method, path: url.pathname + url.search, headers: request.headers });
      return handle(request);
    },
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
    homeDirectory: '/nonexistent',
  };
  return {
    seen,
    sleeps,
    run: async (args: string[]) => {
      const code = await runCli(args, runtime);
      expect(stdout + stderr).not.toContain(API_KEY);
      return { code, stdout, stderr };
    },
  };
}

/** Authenticates, then answers every other request with `rest`. */
const server =
  (rest: Handler): Handler =>
  (request) =>
    new URL(request.url).pathname === '/api/v1/auth/m2m/authenticate' ? authenticated() : rest(request);

describe('the gatehouse CLI (fake server)', () => {
  it('--version prints the package version; --help exits 0; nothing is sent', async () => {
    const cli = fakeProcess(() => answer(500));
    expect(await cli.run(['--version'])).toMatchObject({ code: 0, stdout: `${CLI_VERSION}\n` });
    expect((await cli.run(['keys', 'list', '--help'])).code).toBe(0);
    expect(cli.seen).toEqual([]);
  });

  it('refuses a key on the command line (2) before anything is sent', async () => {
    const cli = fakeProcess(() => answer(500));
    const run = await cli.run(['whoami', '--api-key', API_KEY]);
    expect(run.code).toBe(2);
    expect(cli.seen).toEqual([]);
  });

  it('authenticates with X-API-Key and the client id, then sends the token as Bearer', async () => {
    const cli = fakeProcess(server(() => answer(200, { data: [], next_cursor: null })));
    const run = await cli.run(['keys', 'list', '--no-token-cache']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ data: [], next_cursor: null });
    const [authenticate, list] = cli.seen;
    expect(authenticate.headers.get('x-api-key')).toBe(API_KEY);
    expect(authenticate.headers.get('authorization')).toBeNull();
    expect(list).toMatchObject({ method: 'GET', path: '/api/v1/api-keys' });
    expect(list.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(list.headers.get('x-api-key')).toBeNull();
    expect(list.headers.get('user-agent')).toBe(`gatehouse-cli/${CLI_VERSION} node/${process.versions.node}`);
  });

  it('a revoked key: exit 3 with the message, the code, the request id and what to do', async () => {
    const cli = fakeProcess(() => refusal(401, 'api_key_revoked', 'API key has been revoked'));
    const run = await cli.run(['whoami', '--no-token-cache']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('API key has been revoked (HTTP 401 api_key_revoked, request_id req-401)');
    expect(run.stderr).toContain('put a working key in GATEHOUSE_API_KEY');
    expect(cli.seen).toHaveLength(1);
  });

  it('a missing permission: exit 3', async () => {
    const cli = fakeProcess(server(() => refusal(403, 'forbidden', 'Missing permission: write:keys')));
    expect((await cli.run(['keys', 'revoke', KEY_ID, '--no-token-cache'])).code).toBe(3);
  });

  it('a request refused as invalid: exit 5, not retried', async () => {
    const cli = fakeProcess(server(() => refusal(404, 'not_found', 'API key not found')));
    const run = await cli.run(['keys', 'get', KEY_ID, '--no-token-cache']);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`reading API key ${KEY_ID} failed: API key not found (HTTP 404 not_found`);
    expect(cli.seen).toHaveLength(2);
  });

  it('503 until the retries run out: exit 4, after exactly the attempts allowed, with backoff between', async () => {
    const cli = fakeProcess(server(() => refusal(503, 'service_unavailable', 'Database unavailable')));
    const run = await cli.run(['keys', 'list', '--no-token-cache', '--retries', '3']);
    expect(run.code).toBe(4);
    expect(cli.seen.filter((request) => request.path === '/api/v1/api-keys')).toHaveLength(4);
    // random() is 0.5: half of 1, 2 and 4 seconds.
    expect(cli.sleeps).toEqual([500, 1000, 2000]);
    expect(run.stderr).toContain(
      'failed after 4 attempts: Database unavailable (HTTP 503 service_unavailable',
    );
  });

  it('429: waits what Retry-After says, then succeeds', async () => {
    let calls = 0;
    const cli = fakeProcess(
      server(() =>
        (calls += 1) === 1
          ? answer(
              429,
              { error: 'rate_limit_exceeded', message: 'slow down', request_id: 'r' },
              { 'retry-after': '7' },
            )
          : answer(200, { data: [], next_cursor: null }),
      ),
    );
    const run = await cli.run(['keys', 'list', '--no-token-cache']);
    expect(run.code).toBe(0);
    expect(cli.sleeps).toEqual([7000]);
    expect(run.stderr).toContain('HTTP 429 rate_limit_exceeded; retrying in 7.0 s (attempt 2 of at most 6)');
  });

  it('creating a key is not retried after a connection broke mid-request, which may have created it', async () => {
    const reset = () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }));
    const cli = fakeProcess(server(reset));
    const run = await cli.run([
      'keys',
      'create',
      '--name',
      'CI',
      '--key-client-id',
      'ci-two',
      '--permissions',
      'write:findings',
      '--no-token-cache',
    ]);
    expect(run.code).toBe(4);
    expect(cli.seen.filter((request) => request.path === '/api/v1/api-keys')).toHaveLength(1);
    expect(run.stderr).toContain('ECONNRESET');
  });

  it('reads are retried after a broken connection', async () => {
    let calls = 0;
    const cli = fakeProcess(
      server(() =>
        (calls += 1) < 3
          ? Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }))
          : answer(200, { data: [], next_cursor: null }),
      ),
    );
    expect((await cli.run(['keys', 'list', '--no-token-cache'])).code).toBe(0);
    expect(calls).toBe(3);
  });

  it('an answer that is not what the API sends: exit 6, not retried', async () => {
    const cli = fakeProcess(server(() => new Response('<html>proxy login</html>', { status: 200 })));
    const run = await cli.run(['keys', 'list', '--no-token-cache']);
    expect(run.code).toBe(6);
    expect(cli.seen).toHaveLength(2);
  });

  it('whoami shows the claims, never the token', async () => {
    const cli = fakeProcess(
      server(() => answer(200, { name: 'CI (main)', status: 'active', expires_at: null })),
    );
    const run = await cli.run(['whoami', '--json', '--no-token-cache']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      organization_id: 'org-1',
      api_key_id: KEY_ID,
      client_id: 'ci-main',
      permissions: ['read:keys', 'write:keys'],
      key: { name: 'CI (main)', status: 'active', expires_at: null },
    });
    expect(run.stdout).not.toContain(TOKEN);
  });

  it('usage errors exit 2: a missing argument, an unknown option, delete without --yes', async () => {
    const cli = fakeProcess(server(() => answer(204)));
    expect((await cli.run(['keys', 'get'])).code).toBe(2);
    expect((await cli.run(['keys', 'list', '--frobnicate'])).code).toBe(2);
    expect((await cli.run(['keys', 'delete', KEY_ID, '--no-token-cache'])).code).toBe(2);
    expect(cli.seen.filter((request) => request.method === 'DELETE')).toEqual([]);
    expect((await cli.run(['upload', 'results.sarif', '--fail-on', 'high', '--no-wait'])).code).toBe(2);
    expect((await cli.run(['upload', 'results.sarif', '--fail-on', 'severe'])).code).toBe(2);
    expect(cli.seen).toEqual([]);
  });
});
