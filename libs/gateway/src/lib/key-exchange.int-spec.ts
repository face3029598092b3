import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from '@gatehouse/contracts';
import { generateApiKey } from '@gatehouse/crypto';
import type { AccessTokenInspector, TokenIdentity } from './access-token-inspector';
import { ExchangeRefused, KeyExchange, TOKEN_EXCHANGE_PATH } from './key-exchange';

const NOW = 1_800_000_000;
const CONTEXT = { requestId: 'req-123456789', ip: '203.0.113.9', userAgent: 'ci/1.0' };

/** Stands in for auth-service's exchange route: the real one is exercised by the end-to-end tests. */
function startAuthService(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }),
    ),
  );
}

function identityOf(token: string, expiresAt: number): TokenIdentity {
  return { apiKeyId: token, organizationId: 'org-1', expiresAt };
}

describe('KeyExchange against an HTTP auth-service', () => {
  let server: Server | undefined;
  let clock: number;
  let expiresIn: number;
  const seen: IncomingMessage[] = [];
  const inspector = {
    inspect: (token: string) => Promise.resolve(identityOf(token, NOW + expiresIn)),
  } as unknown as AccessTokenInspector;

  beforeEach(() => {
    clock = NOW;
    expiresIn = 1800;
    seen.length = 0;
  });

  async function stopServer(): Promise<void> {
    const running = server;
    server = undefined;
    if (!running) return;
    running.closeAllConnections();
    await new Promise((resolve) => running.close(resolve));
  }

  afterEach(stopServer);

  async function exchangeWith(
    handler: (request: IncomingMessage, response: ServerResponse) => void,
    timeoutMs = 2000,
  ): Promise<KeyExchange> {
    const started = await startAuthService((request, response) => {
      seen.push(request);
      handler(request, response);
    });
    server = started.server;
    return new KeyExchange({ authServiceUrl: started.url, timeoutMs, inspector, now: () => clock });
  }

  const issue = (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ access_token: `token-${seen.length}` }));
  };

  it('sends the key, request id, client IP and user agent, and returns the token', async () => {
    const exchange = await exchangeWith(issue);
    const key = generateApiKey('live').secret;
    await expect(exchange.exchange(key, CONTEXT)).resolves.toEqual({
      accessToken: 'token-1',
      identity: identityOf('token-1', NOW + 1800),
    });
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(TOKEN_EXCHANGE_PATH);
    expect(seen[0].headers).toMatchObject({
      'x-api-key': key,
      'x-request-id': CONTEXT.requestId,
      'x-forwarded-for': CONTEXT.ip,
      'user-agent': CONTEXT.userAgent,
    });
  });

  it('reuses the token until shortly before it expires, and shares one exchange among concurrent requests', async () => {
    const exchange = await exchangeWith(issue);
    const key = generateApiKey('live').secret;
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => exchange.exchange(key, CONTEXT)));
    expect(new Set(concurrent.map((result) => result.accessToken))).toEqual(new Set(['token-1']));
    clock = NOW + 1800 - 61;
    expect(exchange.peek(key)).toMatchObject({ accessToken: 'token-1' });
    await expect(exchange.exchange(key, CONTEXT)).resolves.toMatchObject({ accessToken: 'token-1' });
    clock = NOW + 1800 - 59;
    expect(exchange.peek(key)).toBeUndefined();
    await expect(exchange.exchange(key, CONTEXT)).resolves.toMatchObject({ accessToken: 'token-2' });
    expect(seen).toHaveLength(2);
  });

  it('asks again after evict', async () => {
    const exchange = await exchangeWith(issue);
    const key = generateApiKey('live').secret;
    await exchange.exchange(key, CONTEXT);
    exchange.evict(key);
    await expect(exchange.exchange(key, CONTEXT)).resolves.toMatchObject({ accessToken: 'token-2' });
  });

  it("relays auth-service's refusal as it is, and caches nothing", async () => {
    const body = {
      error: 'api_key_revoked',
      message: 'API key has been revoked',
      request_id: 'req-123456789',
    };
    const exchange = await exchangeWith((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    });
    const key = generateApiKey('live').secret;
    const refusal = exchange.exchange(key, CONTEXT);
    await expect(refusal).rejects.toBeInstanceOf(ExchangeRefused);
    await expect(refusal).rejects.toMatchObject({ status: 401, body });
    await expect(exchange.exchange(key, CONTEXT)).rejects.toBeInstanceOf(ExchangeRefused);
    expect(seen).toHaveLength(2);
  });

  it('answers 502 when auth-service fails, 504 when it is too slow', async () => {
    const failing = await exchangeWith((_request, response) => {
      response.writeHead(500);
      response.end();
    });
    await expect(failing.exchange(generateApiKey('live').secret, CONTEXT)).rejects.toEqual(
      new GatehouseError('bad_gateway', 'The authentication service failed to issue a token'),
    );
    await stopServer();

    const slow = await exchangeWith(() => undefined, 200);
    await expect(slow.exchange(generateApiKey('live').secret, CONTEXT)).rejects.toMatchObject({
      code: 'gateway_timeout',
    });
  });

  it('answers 502 when auth-service is unreachable', async () => {
    const exchange = new KeyExchange({ authServiceUrl: 'http://127.0.0.1:9', timeoutMs: 2000, inspector });
    await expect(exchange.exchange(generateApiKey('live').secret, CONTEXT)).rejects.toMatchObject({
      code: 'bad_gateway',
    });
  });
});

describe('KeyExchange.evictApiKey', () => {
  let server: Server | undefined;
  const seen: string[] = [];
  /** Which key (id) each secret belongs to: auth-service's answer names it, as a real token would. */
  const keyIds = new Map<string, string>();
  let hold: Promise<void> = Promise.resolve();
  const inspector = {
    inspect: (token: string) =>
      Promise.resolve({ apiKeyId: token.split('|')[0], organizationId: 'org-1', expiresAt: NOW + 1800 }),
  } as unknown as AccessTokenInspector;

  beforeEach(() => {
    seen.length = 0;
    keyIds.clear();
    hold = Promise.resolve();
  });

  afterEach(async () => {
    const running = server;
    server = undefined;
    if (!running) return;
    running.closeAllConnections();
    await new Promise((resolve) => running.close(resolve));
  });

  async function exchange(cacheSize?: number): Promise<KeyExchange> {
    const started = await startAuthService((request, response) => {
      const apiKey = String(request.headers['x-api-key']);
      seen.push(apiKey);
      const token = `${keyIds.get(apiKey)}|${seen.length}`;
      void hold.then(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ access_token: token }));
      });
    });
    server = started.server;
    return new KeyExchange({
      authServiceUrl: started.url,
      timeoutMs: 2000,
      inspector,
      now: () => NOW,
      cacheSize,
    });
  }

  function secretOf(apiKeyId: string): string {
    const secret = generateApiKey('live').secret;
    keyIds.set(secret, apiKeyId);
    return secret;
  }

  it("forgets every cached token of the key, each of its secrets, and no other key's", async () => {
    const keys = await exchange();
    const current = secretOf('key-a');
    const previous = secretOf('key-a');
    const other = secretOf('key-b');
    for (const secret of [current, previous, other]) await keys.exchange(secret, CONTEXT);

    keys.evictApiKey('key-a');

    expect(keys.peek(current)).toBeUndefined();
    expect(keys.peek(previous)).toBeUndefined();
    expect(keys.peek(other)).toMatchObject({ accessToken: 'key-b|3' });
    await expect(keys.exchange(current, CONTEXT)).resolves.toMatchObject({ accessToken: 'key-a|4' });
    await expect(keys.exchange(other, CONTEXT)).resolves.toMatchObject({ accessToken: 'key-b|3' });
    expect(seen).toEqual([current, previous, other, current]);
    // Evicting a key with nothing cached, or twice, is harmless.
    keys.evictApiKey('key-a');
    keys.evictApiKey('key-c');
    expect(keys.peek(other)).toBeDefined();
  });

  it('keeps no token from an exchange in flight when the key changed, and lets later requests ask anew', async () => {
    const keys = await exchange();
    const secret = secretOf('key-a');
    let release: () => void = () => undefined;
    hold = new Promise((resolve) => (release = resolve));
    const inFlight = keys.exchange(secret, CONTEXT);
    while (seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));

    keys.evictApiKey('key-a');
    // Asked after the change: not handed the answer of the exchange asked before it.
    const after = keys.exchange(secret, CONTEXT);
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    release();

    await expect(inFlight).resolves.toMatchObject({ accessToken: 'key-a|1' });
    await expect(after).resolves.toMatchObject({ accessToken: 'key-a|2' });
    expect(keys.peek(secret)).toMatchObject({ accessToken: 'key-a|2' });
  });

  it('stays in step with the cache when the cache drops an entry by itself', async () => {
    const keys = await exchange(1);
    const first = secretOf('key-a');
    const second = secretOf('key-b');
    await keys.exchange(first, CONTEXT);
    await keys.exchange(second, CONTEXT);
    expect(keys.peek(first)).toBeUndefined();

    keys.evictApiKey('key-a');
    expect(keys.peek(second)).toMatchObject({ accessToken: 'key-b|2' });
    keys.evictApiKey('key-b');
    expect(keys.peek(second)).toBeUndefined();
  });
});
