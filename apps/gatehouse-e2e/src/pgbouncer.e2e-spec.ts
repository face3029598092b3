import {
  request,
  startPgBouncer,
  startSuite,
  TEST_POSTGRES_URL,
  type BootstrapOutput,
  type RunningPgBouncer,
  type RunningSuite,
} from '@gatehouse/testing';

/**
 * The suite behind PgBouncer in transaction mode (Debian's pgbouncer 1.18), as docs/OPERATIONS.md describes it:
 * the apps and the CLI's bootstrap connect through the pooler, four server connections shared by every app; the
 * migration connects directly (DATABASE_MIGRATION_URL); findings-service sends its group commit unnamed
 * (DATABASE_PREPARED_STATEMENTS=false), which PgBouncer before 1.21 cannot carry across transactions.
 */
describe('the suite through PgBouncer in transaction mode', () => {
  let pooler: RunningPgBouncer;
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;
  let ownerToken: string;

  const authenticate = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await request<Record<string, unknown>>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const upload = (token: string, ruleId: string, extra: Record<string, string> = {}) =>
    request<Record<string, unknown>>(`${gateway}/api/v1/findings?repository=acme/api&ref=main`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...extra },
      body: {
        findings: [
          { rule_id: ruleId, title: 'Finding', severity: 'high', location: { path: `src/${ruleId}.ts` } },
        ],
      },
    });

  beforeAll(async () => {
    pooler = await startPgBouncer({ serverUrl: TEST_POSTGRES_URL, poolMode: 'transaction', poolSize: 4 });
    suite = await startSuite({
      databaseUrl: (direct) => pooler.viaPooler(direct),
      findingsEnv: { DATABASE_PREPARED_STATEMENTS: 'false' },
    });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('pooled');
    ownerToken = await authenticate(owner.api_key, owner.client_id);
  });

  afterAll(async () => {
    await suite?.stop();
    await pooler?.stop();
  });

  it('carries every app through the pooler: the apps hold no connection of their own to PostgreSQL', async () => {
    expect(suite.env['DATABASE_URL']).toContain(`:${pooler.port}/`);
    const stats = await pooler.stats(suite.database.name);
    expect(stats.transactions).toBeGreaterThan(0);
  });

  it('applies 24 concurrent uploads (group commits over 4 shared server connections), each stored once', async () => {
    const key = await request<Record<string, unknown>>(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: {
        name: 'Pooled runner',
        client_id: 'pooled-runner',
        permissions: ['write:findings', 'read:findings'],
      },
    });
    expect(key.status).toBe(201);
    const token = await authenticate(String(key.body['api_key']), 'pooled-runner');
    const answers = await Promise.all(Array.from({ length: 24 }, (_, index) => upload(token, `R${index}`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(24).fill(201));

    const listed = await request<{ data: unknown[] }>(
      `${gateway}/api/v1/findings?repository=acme/api&limit=100`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(24);
  });

  it('replays an Idempotency-Key upload and applies a stored (202) one with the worker', async () => {
    const once = await upload(ownerToken, 'IDEM', { 'idempotency-key': 'pooled-1' });
    const again = await upload(ownerToken, 'IDEM', { 'idempotency-key': 'pooled-1' });
    expect([once.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    const accepted = await upload(ownerToken, 'ASYNC', { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const until = Date.now() + 10_000;
    let status = '';
    while (Date.now() < until && status !== 'completed') {
      const scan = await request<Record<string, unknown>>(`${gateway}${accepted.headers.get('location')}`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      status = String(scan.body['status']);
      if (status !== 'completed') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('completed');
  });

  it("revokes a key: its token is refused on the key's next use", async () => {
    const key = await request<Record<string, unknown>>(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'Doomed', client_id: 'pooled-doomed', permissions: ['write:findings'] },
    });
    const token = await authenticate(String(key.body['api_key']), 'pooled-doomed');
    expect((await upload(token, 'BEFORE')).status).toBe(201);
    const revoked = await request(`${gateway}/api/v1/api-keys/${String(key.body['id'])}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(revoked.status).toBe(200);
    const until = Date.now() + 2000;
    let status = 201;
    while (Date.now() < until && status !== 401) {
      status = (await upload(token, 'AFTER')).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
  });
});
