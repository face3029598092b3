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
