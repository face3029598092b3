import { createPublicKey } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, exportJWK, importPKCS8, SignJWT } from 'jose';
import { generateApiKey } from '@gatehouse/crypto';
import {
  request,
  startOidcIssuer,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type OidcIssuer,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

/**
 * What the gateway decides on, and what the services believe of it: the normalized path (every spelling of a
 * prefix gets its limits, failure counting and IP block), the IP block sparing valid callers, the gateway's secret
 * (X-Forwarded-For and the token exchange), and the `allowed_ips` of a token.
 */

const AUTHENTICATE = '/api/v1/auth/m2m/authenticate';
const AUDIENCE = 'gatehouse-dashboard';

function authenticate(
  gateway: string,
  key: BootstrapOutput,
  path = AUTHENTICATE,
  clientId = key.client_id,
): Promise<JsonResponse> {
  return request(`${gateway}${path}`, {
    method: 'POST',
    headers: { 'x-api-key': key.api_key },
    body: { client_id: clientId },
  });
}

async function tokenFor(gateway: string, key: BootstrapOutput): Promise<string> {
  const response = await authenticate(gateway, key);
  expect(response.status).toBe(200);
  return response.body['access_token'] as string;
}

function expectError(response: JsonResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.body).toEqual(
    expect.objectContaining({ error: code, message: expect.any(String), request_id: expect.any(String) }),
  );
}

/** A GET of the path exactly as written: fetch would resolve dot segments, even encoded ones, before sending. */
function rawGet(
  origin: string,
  path: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ hostname, port, path, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text }),
      );
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** An unknown key whose checksum is right: only auth-service can tell it is nobody's. */
function unknownKey(): string {
  return generateApiKey('live').secret;
}

/** Refused credentials from this address until the gateway blocks it (a limit of 3: the 4th blocks). */
async function getBlocked(gateway: string): Promise<void> {
  for (let i = 0; i < 4; i += 1) {
    const refused = await request(`${gateway}${AUTHENTICATE}`, {
      method: 'POST',
      headers: { 'x-api-key': unknownKey() },
      body: { client_id: 'nobody' },
    });
    expect([401, 404]).toContain(refused.status);
  }
  const blocked = await request(`${gateway}/api/v1/findings`, {});
  expect(blocked.status).toBe(429);
}

describe('gateway trust: normalized paths, the IP block, GATEWAY_SECRET, allowed_ips', () => {
  let suite: RunningSuite;
  let idp: OidcIssuer;
  let prefixCount = 0;

  /** A gateway replica with its own limiter buckets and a failure limit of 3. */
  function strictGateway(extra: Record<string, string> = {}): Promise<ServiceProcess> {
    prefixCount += 1;
    return suite.startGateway({
      AUTH_FAILURES_PER_IP: '3',
      AUTH_FAILURE_WINDOW_SECONDS: '60',
      AUTH_FAILURE_BLOCK_SECONDS: '120',
      RATE_LIMIT_KEY_PREFIX: `${suite.env['RATE_LIMIT_KEY_PREFIX']}:strict-${prefixCount}`,
      ...extra,
    });
  }

  beforeAll(async () => {
    idp = await startOidcIssuer({ audience: AUDIENCE });
    suite = await startSuite({
      adminEnv: { OIDC_ISSUER: idp.issuer, OIDC_JWKS_URL: idp.jwksUrl, OIDC_AUDIENCE: AUDIENCE },
    });
  });

  afterAll(async () => {
    await suite?.stop();
    await idp?.close();
  });

  describe('percent-encoded paths get the policy of the path they decode to', () => {
    it('limits authenticate per key whatever the spelling of its path', async () => {
      const gateway = await strictGateway({ AUTH_RATE_LIMIT_PER_SECOND: '2', AUTH_RATE_LIMIT_BURST: '0' });
      const owner = await suite.bootstrap('encoded-authenticate');
      const spellings = [
        '/api/v1/auth/m2m/%61uthenticate',
        '/api/v1/auth/m2m/%61%75%74%68%65%6E%74%69%63%61%74%65',
        '/api/v1/auth/%6d2m/authenticate',
      ];
      const responses = await Promise.all(spellings.map((path) => authenticate(gateway.url, owner, path)));
      // 2 per second for the key: one of three is refused, unless the volley straddles two windows.
      for (const response of responses) expect(response.headers.get('x-ratelimit-limit')).toBe('2');
      expect(responses.filter((response) => response.status === 200).length).toBeGreaterThanOrEqual(1);
      expect(responses.every((response) => [200, 429].includes(response.status))).toBe(true);
    });

    it.each([['/api/v1/%66indings?limit=1'], ['/api/v1/api-key%73'], ['/api/v1/%61udit-events?limit=1']])(
      'charges %s to the key of its token',
      async (path) => {
        const owner = await suite.bootstrap(`encoded-api-${path.length}-${prefixCount}`, 'starter');
        const token = await tokenFor(suite.gateway.url, owner);
        const response = await request(`${suite.gateway.url}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(200);
        expect(response.headers.get('x-ratelimit-limit')).toBe('60');
        expect(response.headers.get('x-ratelimit-remaining')).toBe('59');
      },
    );

    it('counts refusals on encoded spellings against the IP, and blocks them too', async () => {
      const gateway = await strictGateway();
      const refusals = [
        request(`${gateway.url}/api/v1/auth/m2m/%61uthenticate`, {
          method: 'POST',
          headers: { 'x-api-key': unknownKey() },
          body: { client_id: 'nobody' },
        }),
        request(`${gateway.url}/api/v1/%66indings`, { headers: { authorization: 'Bearer not.a.token' } }),
        request(`${gateway.url}/api/v1/audit-event%73`, {}),
        request(`${gateway.url}/api/v1/api-key%73`, {}),
      ];
      // An unknown key is 404 at authenticate, the rest 401: all refused credentials.
      for (const refusal of refusals) expect([401, 404]).toContain((await refusal).status);
      for (const path of [
        '/api/v1/%66indings',
        '/api/v1/api-key%73',
        '/api/v1/audit-event%73',
        '/api/v1/findings',
      ]) {
        expect((await request(`${gateway.url}${path}`, {})).status).toBe(429);
      }
    });

    it.each([
      ['an encoded slash', '/api/v1/findings%2F..%2Fapi-keys'],
      ['an encoded dot-dot segment', '/api/v1/findings/%2e%2e/api-keys'],
      ['a literal dot-dot segment', '/api/v1/findings/../api-keys'],
      ['a double-encoded letter', '/api/v1/%2566indings'],
      ['NUL', '/api/v1/findings%00'],
      ['a duplicate slash', '/api/v1//findings'],
    ])('refuses %s with 400 bad_request in the error shape', async (_case, path) => {
      const response = await rawGet(suite.gateway.url, path);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.text)).toEqual({
        error: 'bad_request',
        message: expect.any(String),
        request_id: response.headers['x-request-id'],
      });
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  describe('the IP block keeps out what is refused, not valid callers', () => {
    let gateway: ServiceProcess;

    beforeAll(async () => {
      gateway = await strictGateway();
      await getBlocked(gateway.url);
    });

    it("lets a dashboard user's valid token through, and answers a forged one with the block", async () => {
      const acme = await suite.bootstrap('block-dashboard');
      const userToken = await idp.sign({ sub: 'alice', org: acme.organization.name, role: 'viewer' });
      const valid = await request(`${gateway.url}/api/v1/api-keys`, {
        headers: { authorization: `Bearer ${userToken}` },
      });
      expect(valid.status).toBe(200);

      const [header, payload] = userToken.split('.');
      const forged = await request(`${gateway.url}/api/v1/api-keys`, {
        headers: { authorization: `Bearer ${header}.${payload}.c2lnbmF0dXJl` },
      });
      expectError(forged, 429, 'rate_limit_exceeded');
    });

    it('lets a valid key that never authenticated through this gateway authenticate and call the API', async () => {
      const fresh = await suite.bootstrap('block-fresh-key');
      expect((await authenticate(gateway.url, fresh)).status).toBe(200);
      const other = await suite.bootstrap('block-fresh-direct');
      const direct = await request(`${gateway.url}/api/v1/findings?limit=1`, {
        headers: { 'x-api-key': other.api_key },
      });
      expect(direct.status).toBe(200);
    });

    it('answers an unknown key with the block, whether authenticating or sent directly, learning nothing', async () => {
      const authenticating = await request(`${gateway.url}${AUTHENTICATE}`, {
        method: 'POST',
        headers: { 'x-api-key': unknownKey() },
        body: { client_id: 'nobody' },
      });
      expectError(authenticating, 429, 'rate_limit_exceeded');
      expect(authenticating.headers.get('retry-after')).toMatch(/^\d+$/);
      const direct = await request(`${gateway.url}/api/v1/findings`, {
        headers: { 'x-api-key': unknownKey() },
      });
      expectError(direct, 429, 'rate_limit_exceeded');
    });

    it('keeps a valid key working after a client_id mismatch', async () => {
      const pipeline = await suite.bootstrap('block-mismatch');
      expect((await authenticate(gateway.url, pipeline)).status).toBe(200);
      const mismatch = await authenticate(gateway.url, pipeline, AUTHENTICATE, 'someone-else');
      expect([401, 429]).toContain(mismatch.status);
      expect((await authenticate(gateway.url, pipeline)).status).toBe(200);
    });
  });

  describe('GATEWAY_SECRET', () => {
    const exchange = (headers: Record<string, string>) =>
      request(`${suite.auth.url}/internal/v1/token-exchange`, { method: 'POST', headers });

    it('refuses the token exchange without the secret (401) or with a wrong one (403), saying nothing of the key', async () => {
      const owner = await suite.bootstrap('exchange-secret');
      for (const key of [owner.api_key, unknownKey()]) {
        const missing = await exchange({ 'x-api-key': key });
        expectError(missing, 401, 'unauthorized');
        const wrong = await exchange({ 'x-api-key': key, 'x-gatehouse-gateway-secret': 'w'.repeat(40) });
        expectError(wrong, 403, 'forbidden');
        expect(wrong.body['message']).toBe(missing.body['message']);
      }
      const right = await exchange({
        'x-api-key': owner.api_key,
        'x-gatehouse-gateway-secret': suite.env['GATEWAY_SECRET'],
      });
      expect(right.status).toBe(200);
      expect(typeof right.body['access_token']).toBe('string');
    });

    it('limits exchanges per key: 60 a minute, then 429 with Retry-After', async () => {
      const owner = await suite.bootstrap('exchange-limit');
      const headers = {
        'x-api-key': owner.api_key,
        'x-gatehouse-gateway-secret': suite.env['GATEWAY_SECRET'],
      };
      const responses: JsonResponse[] = [];
      for (let i = 0; i < 61; i += 1) responses.push(await exchange(headers));
      expect(responses.slice(0, 60).every((response) => response.status === 200)).toBe(true);
      expectError(responses[60], 429, 'rate_limit_exceeded');
      expect(Number(responses[60].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });

    it('records the client address the gateway reports, and never one a caller wrote itself', async () => {
      const owner = await suite.bootstrap('xff-trust');
      // A gateway behind a proxy it trusts (this test): the client is whoever that proxy says.
      const behindProxy = await strictGateway({ TRUSTED_PROXIES: '127.0.0.1' });
      const viaGateway = await request(`${behindProxy.url}${AUTHENTICATE}`, {
        method: 'POST',
        headers: {
          'x-api-key': owner.api_key,
          'x-forwarded-for': '203.0.113.7',
          'user-agent': 'via-gateway',
        },
        body: { client_id: owner.client_id },
      });
      expect(viaGateway.status).toBe(200);
      for (const secret of [undefined, 'w'.repeat(40)]) {
        const direct = await request(`${suite.auth.url}${AUTHENTICATE}`, {
          method: 'POST',
          headers: {
            'x-api-key': owner.api_key,
            'x-forwarded-for': '198.51.100.66',
            'user-agent': `direct-${secret ? 'wrong' : 'none'}`,
            ...(secret ? { 'x-gatehouse-gateway-secret': secret } : {}),
          },
          body: { client_id: owner.client_id },
        });
        expect(direct.status).toBe(200);
      }
      const token = await tokenFor(suite.gateway.url, owner);
      let rows: { ip: string; user_agent: string }[] = [];
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const usage = await request<{ data: { ip: string; user_agent: string }[] }>(
          `${suite.gateway.url}/api/v1/api-keys/${owner.api_key_id}/usage?limit=50`,
          { headers: { authorization: `Bearer ${token}` } },
        );
        rows = usage.body.data ?? [];
        if (rows.filter((row) => row.user_agent !== null && row.user_agent.startsWith('di')).length >= 2)
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const ipOf = (agent: string) => rows.find((row) => row.user_agent === agent)?.ip;
      expect(ipOf('via-gateway')).toBe('203.0.113.7');
      expect(ipOf('direct-none')).toBe('127.0.0.1');
      expect(ipOf('direct-wrong')).toBe('127.0.0.1');
    });
  });

  describe('allowed_ips of a token', () => {
    /** The suite's real token for the key, re-signed with `allowed_ips` added (auth-service's own key and kid). */
    async function restricted(key: BootstrapOutput, allowedIps: string[]): Promise<string> {
      const claims = decodeJwt(await tokenFor(suite.gateway.url, key));
      const privateKey = await importPKCS8(suite.signingKeyPem, 'RS256');
      const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(suite.signingKeyPem)));
      return new SignJWT({ ...claims, allowed_ips: allowedIps })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .sign(privateKey);
    }

    it('refuses a token restricted to other addresses with 403 ip_not_allowed', async () => {
      const key = await suite.bootstrap('allowed-ips-elsewhere');
      const token = await restricted(key, ['10.9.9.0/24']);
      const response = await request(`${suite.gateway.url}/api/v1/findings?limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expectError(response, 403, 'ip_not_allowed');
      expect(response.headers.get('x-ratelimit-limit')).toBeNull();
    });

    it('accepts a token restricted to addresses that include the client', async () => {
      const key = await suite.bootstrap('allowed-ips-here');
      const token = await restricted(key, ['10.9.9.0/24', '127.0.0.0/8', '::1/128']);
      const response = await request(`${suite.gateway.url}/api/v1/findings?limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
    });
  });
});
