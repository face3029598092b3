import { generateApiKey } from '@gatehouse/crypto';
import {
  createLeakedKeyReporter,
  request,
  startService,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type RunningSuite,
} from '@gatehouse/testing';

type Body = Record<string, unknown>;

const REPORT_PATH = '/api/v1/leaked-keys';
const URL_OF_LEAK = 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/deploy/.env';

/**
 * Leaked-key reports in the format of GitHub's secret scanning partner program, through the gateway: a signed
 * report of a working key revokes it on every node at once; without a valid signature nothing is looked at and
 * nothing is revealed.
 */
describe('leaked-key reports through the gateway', () => {
  const github = createLeakedKeyReporter('4fe6b016179b74078ade7581abf4e84fb398c6fae4fb973972235b84fcd70ca3');
  const unconfigured = createLeakedKeyReporter('unconfigured-reporter');
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let ownerToken: string;

  const authenticate = (apiKey: string, clientId: string) =>
    request<Body>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });

  const asOwner = (path: string, init: { method?: string; body?: unknown } = {}) =>
    request<Body>(`${gateway}${path}`, { ...init, headers: { authorization: `Bearer ${ownerToken}` } });

  const createKey = async (clientId: string) => {
    const response = await asOwner('/api/v1/api-keys', {
      method: 'POST',
      body: { name: clientId, client_id: clientId, permissions: ['read:findings', 'write:findings'] },
    });
    expect(response.status).toBe(201);
    return response.body as { id: string; api_key: string; client_id: string };
  };

  const tokenOf = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await authenticate(apiKey, clientId);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const listFindings = (token: string) =>
    request<Body>(`${gateway}/api/v1/findings`, { headers: { authorization: `Bearer ${token}` } });

  /** Posts the body exactly as given, with the headers given: signatures cover these very bytes. */
  const post = <T = Body>(body: string, headers: Record<string, string>): Promise<JsonResponse<T>> =>
    request<T>(`${gateway}${REPORT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      rawBody: body,
    });

  const reportOf = (...tokens: string[]) =>
    JSON.stringify(
      tokens.map((token) => ({ token, type: 'gatehouse_api_key', url: URL_OF_LEAK, source: 'content' })),
    );

  const eventually = async (check: () => Promise<boolean>, deadlineMs = 5000): Promise<boolean> => {
    const until = Date.now() + deadlineMs;
    do {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < until);
    return check();
  };

  /** The refusal of an unauthenticated report, without what differs between any two requests. */
  const refusalOf = (response: JsonResponse) => {
    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      error: 'invalid_signature',
      message: expect.any(String),
      request_id: response.headers.get('x-request-id'),
    });
    return { status: response.status, error: response.body['error'], message: response.body['message'] };
  };

  beforeAll(async () => {
    suite = await startSuite({
      adminEnv: { LEAKED_KEY_REPORTER_PUBLIC_KEYS: github.publicKeys() },
    });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('leaky-org', 'pro');
    ownerToken = await tokenOf(owner.api_key, owner.client_id);
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('revokes a reported live key at once: its tokens are refused and it can no longer authenticate', async () => {
    const pipeline = await createKey('leaky-pipeline');
    const token = await tokenOf(pipeline.api_key, pipeline.client_id);
    expect((await listFindings(token)).status).toBe(200);
    const github_pat = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
    const body = JSON.stringify([
      { token: pipeline.api_key, type: 'gatehouse_api_key', url: URL_OF_LEAK, source: 'content' },
      { token: github_pat, type: 'github_personal_access_token', url: URL_OF_LEAK, source: 'commit' },
    ]);

    const response = await post<Body[]>(body, github.headers(body));

    expect(response.status).toBe(200);
    expect(response.body).toEqual([
      { token_raw: pipeline.api_key, token_type: 'gatehouse_api_key', label: 'true_positive' },
      { token_raw: github_pat, token_type: 'github_personal_access_token', label: 'false_positive' },
    ]);
    // findings-service heard the broadcast: the token issued before the report is refused.
    expect(await eventually(async () => (await listFindings(token)).status === 401)).toBe(true);
    expect((await listFindings(token)).body['error']).toBe('token_revoked');
    const again = await authenticate(pipeline.api_key, pipeline.client_id);
    expect(again.status).toBe(401);
    expect(again.body['error']).toBe('api_key_revoked');

    // The organization sees who revoked it, why, and where the key leaked.
    const key = await asOwner(`/api/v1/api-keys/${pipeline.id}`);
    expect(key.body).toMatchObject({ status: 'revoked' });
    const events = await asOwner(`/api/v1/audit-events?target_id=${pipeline.id}`);
    const byReport = (events.body['data'] as Body[]).filter(
      (event) => event['actor'] === 'system:leaked-key-report',
    );
    expect(byReport.map((event) => event['action']).sort()).toEqual(['api_key.leaked', 'api_key.revoked']);
    expect(byReport.find((event) => event['action'] === 'api_key.leaked')).toMatchObject({
      actor_type: 'system',
      details: { url: URL_OF_LEAK, source: 'content', type: 'gatehouse_api_key', secret: 'current' },
    });
    expect(JSON.stringify(events.body)).not.toContain(pipeline.api_key);

    // Reported again (a retry, another place): nothing is left to revoke.
    const repeated = await post<Body[]>(
      reportOf(pipeline.api_key),
      github.headers(reportOf(pipeline.api_key)),
    );
    expect(repeated.status).toBe(200);
    expect(repeated.body).toEqual([expect.objectContaining({ label: 'false_positive' })]);
  });

  it('refuses every report without a valid signature with the same 401, and revokes nothing', async () => {
    const live = await createKey('still-live');
    const token = await tokenOf(live.api_key, live.client_id);
    const unknown = generateApiKey('live').secret;
    const refusals = new Map<string, ReturnType<typeof refusalOf>[]>();

    for (const candidate of [live.api_key, unknown]) {
      const body = reportOf(candidate);
      const signed = github.headers(body);
      const attempts: [string, Record<string, string>, string][] = [
        ['unsigned', {}, body],
        ['no identifier', { 'github-public-key-signature': signed['github-public-key-signature'] }, body],
        ['wrong key identifier', { ...signed, 'github-public-key-identifier': 'not-a-configured-key' }, body],
        [
          'an unconfigured key under the right identifier',
          {
            ...unconfigured.headers(body),
            'github-public-key-identifier': github.identifier,
          },
          body,
        ],
        [
          'a tampered body under the old signature',
          signed,
          body.replace(URL_OF_LEAK, 'https://evil.example/'),
        ],
        ['a signature that is no base64', { ...signed, 'github-public-key-signature': '%%%' }, body],
      ];
      for (const [name, headers, sent] of attempts) {
        const refusal = refusalOf(await post(sent, headers));
        refusals.set(name, [...(refusals.get(name) ?? []), refusal]);
      }
    }
    // Whether the token is a live key or unknown, each kind of refusal reads the same.
    for (const [name, [forLive, forUnknown]] of refusals) {
      expect({ name, refusal: forLive }).toEqual({ name, refusal: forUnknown });
    }
    expect((await listFindings(token)).status).toBe(200);
    expect((await asOwner(`/api/v1/api-keys/${live.id}`)).body).toMatchObject({ status: 'active' });
  });

  it('checks the signature before the body: an unsigned malformed report is refused for its signature', async () => {
    for (const body of [
      '{"token":"x"}',
      '[{"token":""}]',
      JSON.stringify(Array(1001).fill({ token: 'x' })),
    ]) {
      refusalOf(await post(body, {}));
    }
  });

  it('answers a signed report of the wrong shape with the error shape: 400, 413', async () => {
    const cases: [string, number, string][] = [
      ['{"token":"x"}', 400, 'validation_failed'],
      ['[{"type":"no token"}]', 400, 'validation_failed'],
      ['[{"token":7}]', 400, 'validation_failed'],
      [JSON.stringify([{ token: 'x', url: 'u'.repeat(2049) }]), 400, 'validation_failed'],
      [JSON.stringify(Array(1001).fill({ token: 'x' })), 413, 'payload_too_large'],
    ];
    for (const [body, status, error] of cases) {
      const response = await post(body, github.headers(body));
      expect({ body: body.slice(0, 40), status: response.status }).toEqual({
        body: body.slice(0, 40),
        status,
      });
      expect(response.body).toMatchObject({ error, request_id: response.headers.get('x-request-id') });
    }
    const malformed = '[{"token":';
    const response = await post(malformed, github.headers(malformed));
    expect(response.status).toBe(400);
    expect(response.body['error']).toBe('malformed_json');
  });

  it('answers one verdict per distinct token and ignores fields it does not know', async () => {
    const key = await createKey('reported-twice');
    const body = JSON.stringify([
      { token: key.api_key, type: 'gatehouse_api_key', url: URL_OF_LEAK, source: 'content', extra: 1 },
      { token: 'short', type: 'gatehouse_api_key' },
      { token: key.api_key, type: 'gatehouse_api_key', url: 'https://github.com/o/r/issues/1' },
    ]);
    const response = await post<Body[]>(body, github.headers(body));
    expect(response.status).toBe(200);
    expect(response.body.map((entry) => [entry['token_raw'], entry['label']])).toEqual([
      [key.api_key, 'true_positive'],
      ['short', 'false_positive'],
    ]);
  });

  it('is documented in /api/docs: the signature headers, the verdicts and the errors', async () => {
    const docs = await request<{
      paths: Record<string, Record<string, Body>>;
      components: { schemas: Record<string, Body> };
    }>(`${gateway}/api/docs`);
    expect(docs.status).toBe(200);
    const operation = docs.body.paths[REPORT_PATH]?.['post'] as {
      operationId: string;
      security?: unknown;
      parameters: { name: string; in: string; required: boolean }[];
      requestBody: Body;
      responses: Record<string, Body>;
    };
    expect(operation.operationId).toBe('reportLeakedKeys');
    expect(operation.security).toEqual([]);
    expect(operation.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'GITHUB-PUBLIC-KEY-IDENTIFIER', in: 'header', required: true }),
        expect.objectContaining({ name: 'GITHUB-PUBLIC-KEY-SIGNATURE', in: 'header', required: true }),
      ]),
    );
    expect(operation.requestBody).toMatchObject({
      required: true,
      content: {
        'application/json': {
          schema: { type: 'array', maxItems: 1000, items: { $ref: '#/components/schemas/LeakedKeyReport' } },
        },
      },
    });
    expect(docs.body.components.schemas['LeakedKeyReport']).toMatchObject({ required: ['token'] });
    expect(operation.responses['200']).toMatchObject({
      content: {
        'application/json': {
          schema: { type: 'array', items: { $ref: '#/components/schemas/LeakedKeyFeedback' } },
        },
      },
    });
    expect(docs.body.components.schemas['LeakedKeyFeedback']).toMatchObject({
      properties: { label: { enum: ['true_positive', 'false_positive'] } },
    });
    for (const status of ['400', '401', '413']) {
      expect(operation.responses[status]).toMatchObject({
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
      });
    }
    expect(String(operation.responses['401']['description'])).toContain('invalid_signature');
  });

  it('counts a refused signature against the IP, as any refused credential', async () => {
    const strict = await suite.startGateway({
      AUTH_FAILURES_PER_IP: '3',
      AUTH_FAILURE_WINDOW_SECONDS: '60',
      AUTH_FAILURE_BLOCK_SECONDS: '120',
      RATE_LIMIT_KEY_PREFIX: `${suite.env['RATE_LIMIT_KEY_PREFIX']}:leaked-keys`,
    });
    const body = reportOf(generateApiKey('live').secret);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await request(`${strict.url}${REPORT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        rawBody: body,
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
  });

  it('stops admin-api at start when the reporter keys are not a P-256 key document, naming the variable', async () => {
    for (const value of ['{"public_keys":', '{"public_keys":[{"key_identifier":"k","key":"x"}]}']) {
      let message = '';
      try {
        const started = await startService('admin-api', { LEAKED_KEY_REPORTER_PUBLIC_KEYS: value });
        await started.stop();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('exited with 1 before listening');
      expect(message).toContain('LEAKED_KEY_REPORTER_PUBLIC_KEYS');
    }
  });
});
