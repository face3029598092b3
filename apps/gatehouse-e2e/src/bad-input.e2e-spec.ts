import { generateApiKey } from '@gatehouse/crypto';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/** Every bad request gets a 4xx in the one error shape, through the gateway, and never a 500. */
describe('bad input through the gateway', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;
  let ownerToken: string;

  const authenticate = (headers: Record<string, string>, init: { body?: unknown; rawBody?: string }) =>
    request(`${gateway}/api/v1/auth/m2m/authenticate`, { method: 'POST', headers, ...init });

  const expectError = (response: { status: number; body: unknown }, status: number, code: string) => {
    expect(response.status).toBe(status);
    expect(response.body).toEqual(
      expect.objectContaining({ error: code, message: expect.any(String), request_id: expect.any(String) }),
    );
  };

  beforeAll(async () => {
    suite = await startSuite();
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('bad-input');
    const response = await authenticate(
      { 'x-api-key': owner.api_key },
      { body: { client_id: owner.client_id } },
    );
    ownerToken = response.body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  describe('authenticate', () => {
    it('401 missing_api_key without X-API-Key', async () => {
      expectError(await authenticate({}, { body: { client_id: owner.client_id } }), 401, 'missing_api_key');
    });

    it('401 invalid_api_key for a key with a wrong checksum, before any lookup', async () => {
      const typo = `${owner.api_key.slice(0, -1)}${owner.api_key.endsWith('a') ? 'b' : 'a'}`;
      expectError(
        await authenticate({ 'x-api-key': typo }, { body: { client_id: owner.client_id } }),
        401,
        'invalid_api_key',
      );
    });

    it('404 api_key_not_found for a well-formed key that does not exist', async () => {
      const unknown = generateApiKey('live').secret;
      expectError(
        await authenticate({ 'x-api-key': unknown }, { body: { client_id: owner.client_id } }),
        404,
        'api_key_not_found',
      );
    });

    it('401 client_id_mismatch when the client_id is not the key’s', async () => {
      expectError(
        await authenticate({ 'x-api-key': owner.api_key }, { body: { client_id: 'someone-else' } }),
        401,
        'client_id_mismatch',
      );
    });

    it.each([
      ['too short', { client_id: 'ab' }],
      ['too long', { client_id: 'a'.repeat(51) }],
      ['bad characters', { client_id: 'runner one' }],
      ['missing', {}],
      ['not a string', { client_id: 42 }],
      ['an unknown field', { client_id: 'runner', admin: true }],
    ])('400 validation_failed for a client_id %s', async (_case, body) => {
      expectError(await authenticate({ 'x-api-key': owner.api_key }, { body }), 400, 'validation_failed');
    });

    it('400 malformed_json for a body that is not JSON', async () => {
      expectError(
        await authenticate(
          { 'x-api-key': owner.api_key, 'content-type': 'application/json' },
          { rawBody: '{"client_id":' },
        ),
        400,
        'malformed_json',
      );
    });

    it('415 unsupported_media_type for a non-JSON content type', async () => {
      expectError(
        await authenticate(
          { 'x-api-key': owner.api_key, 'content-type': 'text/plain' },
          { rawBody: 'client_id=x' },
        ),
        415,
        'unsupported_media_type',
      );
    });

    it('413 payload_too_large above the body limit, refused at the gateway', async () => {
      const huge = JSON.stringify({ client_id: owner.client_id, pad: 'x'.repeat(1024 * 1024 + 10) });
      expectError(
        await authenticate(
          { 'x-api-key': owner.api_key, 'content-type': 'application/json' },
          { rawBody: huge },
        ),
        413,
        'payload_too_large',
      );
    });
  });

  describe('findings', () => {
    const upload = (body: unknown) =>
      request(`${gateway}/api/v1/findings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownerToken}` },
        body,
      });
    const finding = { rule_id: 'R1', title: 'x', severity: 'low', location: { path: 'a.ts' } };

    it.each([
      ['an empty list', { findings: [] }],
      ['no list', {}],
      ['an unknown severity', { findings: [{ ...finding, severity: 'urgent' }] }],
      ['a missing location', { findings: [{ ...finding, location: undefined }] }],
      ['a zero line number', { findings: [{ ...finding, location: { path: 'a.ts', start_line: 0 } }] }],
      ['an unknown field', { findings: [{ ...finding, owner: 'me' }] }],
    ])('400 validation_failed for %s', async (_case, body) => {
      expectError(await upload(body), 400, 'validation_failed');
    });

    it('names the failing field of a nested finding', async () => {
      const response = await upload({ findings: [finding, { ...finding, title: '' }] });
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body['details'])).toContain('findings[1].title');
    });

    it('stores nothing from an upload that fails validation', async () => {
      await upload({ findings: [finding, { ...finding, severity: 'nope' }] });
      const listed = await request<{ data: unknown[] }>(`${gateway}/api/v1/findings`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      expect(listed.body.data).toHaveLength(0);
    });
  });

  describe('api-keys', () => {
    const create = (body: unknown) =>
      request(`${gateway}/api/v1/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownerToken}` },
        body,
      });

    it.each([
      ['an empty name', { name: '', client_id: 'abc', permissions: ['write:findings'] }],
      [
        'a name over 100 characters',
        { name: 'n'.repeat(101), client_id: 'abc', permissions: ['write:findings'] },
      ],
      ['an unknown permission', { name: 'n', client_id: 'abc', permissions: ['admin:all'] }],
      ['no permission', { name: 'n', client_id: 'abc', permissions: [] }],
      ['duplicate permissions', { name: 'n', client_id: 'abc', permissions: ['read:keys', 'read:keys'] }],
      [
        'an expiry in the past',
        { name: 'n', client_id: 'abc', permissions: ['read:keys'], expires_at: '2001-01-01T00:00:00Z' },
      ],
      [
        'an expiry that is not a date',
        { name: 'n', client_id: 'abc', permissions: ['read:keys'], expires_at: 'soon' },
      ],
      [
        'an unknown environment',
        { name: 'n', client_id: 'abc', permissions: ['read:keys'], environment: 'prod' },
      ],
    ])('400 validation_failed for %s', async (_case, body) => {
      expectError(await create(body), 400, 'validation_failed');
    });

    it('404 for an id that is not a uuid, and for a page size above the limit 400', async () => {
      const headers = { authorization: `Bearer ${ownerToken}` };
      expectError(await request(`${gateway}/api/v1/api-keys/not-a-uuid`, { headers }), 404, 'not_found');
      expectError(
        await request(`${gateway}/api/v1/api-keys?limit=101`, { headers }),
        400,
        'validation_failed',
      );
      expectError(
        await request(`${gateway}/api/v1/api-keys?cursor=garbage`, { headers }),
        400,
        'validation_failed',
      );
    });
  });

  it('404 not_found in the error shape for an unknown route', async () => {
    expectError(await request(`${gateway}/api/v1/nope`), 404, 'not_found');
  });

  it('returns the request id it was given, and makes one otherwise', async () => {
    const given = await request(`${gateway}/api/v1/auth/jwks`, {
      headers: { 'x-request-id': 'trace-12345678' },
    });
    expect(given.headers.get('x-request-id')).toBe('trace-12345678');
    const made = await request(`${gateway}/api/v1/auth/jwks`);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
