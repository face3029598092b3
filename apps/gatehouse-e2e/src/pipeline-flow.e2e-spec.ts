import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * The seed's curl flow, step by step, through the gateway, with two findings-service instances so that
 * revocation is seen on a node that did not handle the revoke.
 */
describe('pipeline flow through the gateway', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;

  const authenticate = (apiKey: string, clientId: string) =>
    request<Record<string, unknown>>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });

  const tokenFor = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await authenticate(apiKey, clientId);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const createKey = async (token: string, body: Record<string, unknown>) =>
    request<Record<string, unknown>>(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body,
    });

  const uploadFindings = (baseUrl: string, token: string) =>
    request<Record<string, unknown>>(`${baseUrl}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: {
        findings: [
          {
            rule_id: 'R1',
            title: 'SQL injection',
            severity: 'high',
            location: { path: 'src/db.ts', start_line: 3 },
          },
        ],
      },
    });

  /** Polls until `check` holds or the deadline passes; revocation promises "within 1 s on every node". */
  const eventually = async (check: () => Promise<boolean>, deadlineMs = 1000): Promise<boolean> => {
    const until = Date.now() + deadlineMs;
    do {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    } while (Date.now() < until);
    return check();
  };

  beforeAll(async () => {
    suite = await startSuite({ findingsInstances: 2 });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('acme');
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('1. bootstrap prints the owner key once, with every permission of the catalog', async () => {
    expect(owner.organization).toMatchObject({ name: 'acme', plan: 'enterprise', created: true });
    expect(owner.api_key).toMatch(/^gth_live_[0-9A-Za-z]{49}$/);
    expect(owner.client_id).toBe('acme-owner');
    expect(owner.permissions.sort()).toEqual(['read:findings', 'read:keys', 'write:findings', 'write:keys']);
    await expect(suite.bootstrap('acme')).rejects.toThrow(/already has an owner key/);
  });

  it('2. authenticate returns exactly the documented fields', async () => {
    const response = await authenticate(owner.api_key, owner.client_id);
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual([
      'access_token',
      'api_key_id',
      'client_id',
      'expires_in',
      'token_type',
    ]);
    expect(response.body).toMatchObject({
      token_type: 'bearer',
      expires_in: 1800,
      client_id: owner.client_id,
      api_key_id: owner.api_key_id,
    });
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('3. the owner creates, lists, reads and revokes pipeline keys; the secret is shown once', async () => {
    const ownerToken = await tokenFor(owner.api_key, owner.client_id);
    const created = await createKey(ownerToken, {
      name: 'jenkins-prod',
      client_id: 'my-jenkins-runner',
      permissions: ['write:findings'],
    });
    expect(created.status).toBe(201);
    const secret = created.body['api_key'] as string;
    expect(secret).toMatch(/^gth_live_/);
    expect(created.body['preview']).toBe(`gth_live_…${secret.slice(-4)}`);

    const listed = await request<{ data: Record<string, unknown>[] }>(`${gateway}/api/v1/api-keys`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/hash/i);
    expect(listed.body.data.map((key) => key['client_id']).sort()).toEqual([
      'acme-owner',
      'my-jenkins-runner',
    ]);

    const fetched = await request(`${gateway}/api/v1/api-keys/${String(created.body['id'])}`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({ client_id: 'my-jenkins-runner', status: 'active' });
    expect(fetched.body).not.toHaveProperty('api_key');

    const clash = await createKey(ownerToken, {
      name: 'again',
      client_id: 'my-jenkins-runner',
      permissions: ['write:findings'],
    });
    expect(clash.status).toBe(409);
    expect(clash.body['error']).toBe('conflict');
  });

  it('4. the pipeline uploads findings; without write:findings 403, without a token 401', async () => {
    const ownerToken = await tokenFor(owner.api_key, owner.client_id);
    const pipelineKey = await createKey(ownerToken, {
      name: 'gha',
      client_id: 'gha-runner',
      permissions: ['write:findings'],
    });
    const pipelineToken = await tokenFor(pipelineKey.body['api_key'] as string, 'gha-runner');

    const uploaded = await uploadFindings(gateway, pipelineToken);
    expect(uploaded.status).toBe(201);
    expect(uploaded.body).toMatchObject({ status: 'completed', results: 1, new: 1 });

    const listed = await request<{ data: unknown[] }>(`${gateway}/api/v1/findings`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([
      expect.objectContaining({
        rule_id: 'R1',
        severity: 'high',
        location: { path: 'src/db.ts', start_line: 3 },
        client_id: 'gha-runner',
        state: 'open',
      }),
    ]);

    const readerKey = await createKey(ownerToken, {
      name: 'reader',
      client_id: 'reader',
      permissions: ['read:findings'],
    });
    const readerToken = await tokenFor(readerKey.body['api_key'] as string, 'reader');
    const forbidden = await uploadFindings(gateway, readerToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body['error']).toBe('forbidden');

    const noToken = await request(`${gateway}/api/v1/findings`, { method: 'POST', body: { findings: [] } });
    expect(noToken.status).toBe(401);
    const badToken = await uploadFindings(gateway, `${pipelineToken.slice(0, -4)}AAAA`);
    expect(badToken.status).toBe(401);
    expect(badToken.body['error']).toBe('invalid_token');
  });

  it('5. the JWKS verifies access tokens with any JOSE library (RS256, kid matches)', async () => {
    const token = await tokenFor(owner.api_key, owner.client_id);
    const jwks = await request<{ keys: Record<string, unknown>[] }>(`${gateway}/api/v1/auth/jwks`);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', e: 'AQAB' });
    expect(jwks.body.keys[0]).not.toHaveProperty('d');
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'RS256', kid: jwks.body.keys[0]['kid'] });

    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${gateway}/api/v1/auth/jwks`)), {
      algorithms: ['RS256'],
      issuer: 'gatehouse-test',
      audience: 'gatehouse-test-api',
    });
    expect(payload).toMatchObject({
      sub: owner.client_id,
      org: owner.organization.id,
      api_key_id: owner.api_key_id,
      client_id: owner.client_id,
    });
    expect(payload.exp! - payload.iat!).toBe(1800);
    expect(typeof payload.jti).toBe('string');
  });

  it.each(['revoke', 'delete'] as const)(
    '6. after %s, every token of the key fails on every findings-service instance within 1 s',
    async (action) => {
      const ownerToken = await tokenFor(owner.api_key, owner.client_id);
      const key = await createKey(ownerToken, {
        name: action,
        client_id: `runner-${action}`,
        permissions: ['write:findings'],
      });
      const pipelineToken = await tokenFor(key.body['api_key'] as string, `runner-${action}`);
      const [first, second] = suite.findings;
      expect((await uploadFindings(first.url, pipelineToken)).status).toBe(201);
      expect((await uploadFindings(second.url, pipelineToken)).status).toBe(201);

      const id = String(key.body['id']);
      const response =
        action === 'revoke'
          ? await request(`${gateway}/api/v1/api-keys/${id}/revoke`, {
              method: 'POST',
              headers: { authorization: `Bearer ${ownerToken}` },
            })
          : await request(`${gateway}/api/v1/api-keys/${id}`, {
              method: 'DELETE',
              headers: { authorization: `Bearer ${ownerToken}` },
            });
      expect(response.status).toBe(action === 'revoke' ? 200 : 204);

      for (const instance of [first, second]) {
        const refused = await eventually(
          async () => (await uploadFindings(instance.url, pipelineToken)).status === 401,
        );
        expect(refused).toBe(true);
      }
      const through = await uploadFindings(gateway, pipelineToken);
      expect(through.status).toBe(401);
      expect(through.body['error']).toBe('token_revoked');

      const again = await authenticate(key.body['api_key'] as string, `runner-${action}`);
      expect(again.status).toBe(action === 'revoke' ? 401 : 404);
      expect(again.body['error']).toBe(action === 'revoke' ? 'api_key_revoked' : 'api_key_not_found');
    },
  );

  it('answers a stopped upstream with 502 in the error shape, and keeps serving the others', async () => {
    const probe = await request(`${gateway}/api/v1/auth/jwks`);
    expect(probe.status).toBe(200);
    await suite.admin.stop();
    const down = await request(`${gateway}/api/v1/api-keys`, { headers: { authorization: 'Bearer x' } });
    expect(down.status).toBe(502);
    expect(down.body).toMatchObject({ error: 'bad_gateway', request_id: expect.any(String) });
    expect((await request(`${gateway}/api/v1/auth/jwks`)).status).toBe(200);
  });
});
