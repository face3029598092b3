import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BootstrapOutput,
  createDataDir,
  request,
  runCli,
  type StandaloneSuite,
  startStandalone,
  tokenFor,
} from '@gatehouse/testing';

/**
 * Standalone mode, the default `npm start`: the whole suite in one process on an embedded PostgreSQL, with no
 * DATABASE_URL and no REDIS_URL. The seed's flow over HTTP through the gateway, bootstrap through the running
 * suite, and the data directory surviving a clean stop and a kill -9.
 */
describe('standalone mode', () => {
  const dataDir = createDataDir();
  let suite: StandaloneSuite;
  let owner: BootstrapOutput;

  const findings = async (gateway: string, token: string) =>
    request<{ data: Record<string, unknown>[] }>(`${gateway}/api/v1/findings?limit=100`, {
      headers: { authorization: `Bearer ${token}` },
    });

  beforeAll(async () => {
    suite = await startStandalone(dataDir.path);
  });

  afterAll(async () => {
    await suite?.stop('SIGKILL');
    dataDir.remove();
  });

  it("serves each app's /metrics on a management port of its own, and none on the public ports", async () => {
    const apps = ['api-gateway', 'auth-service', 'findings-service', 'admin-api'];
    expect(Object.keys(suite.metrics).sort()).toEqual([...apps].sort());
    expect(new Set(Object.values(suite.metrics)).size).toBe(4);
    for (const app of apps) {
      const response = await fetch(suite.metrics[app]);
      expect({ app, status: response.status }).toEqual({ app, status: 200 });
      expect(await response.text()).toMatch(
        new RegExp(`gatehouse_build_info\\{[^}]*gatehouse_service="${app}"`),
      );
      const publicPort = await request(`${suite.services[app]}/metrics`);
      expect({ app, status: publicPort.status }).toEqual({ app, status: 404 });
    }
  });

  it('keeps its files owner-only: the database directory 0700, the control socket 0600', () => {
    expect(statSync(join(dataDir.path, 'pgdata')).mode & 0o777).toBe(0o700);
    const socket = statSync(join(dataDir.path, 'control.sock'));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
  });

  it('bootstraps through the running suite and prints exactly one JSON object', async () => {
    const result = await runCli(['bootstrap', '--org', 'acme'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(result.code).toBe(0);
    expect(result.stdout.trim().startsWith('{')).toBe(true);
    owner = JSON.parse(result.stdout) as BootstrapOutput;
    expect(owner.organization).toMatchObject({ name: 'acme', plan: 'enterprise', created: true });
    expect(owner.api_key).toMatch(/^gth_live_[0-9A-Za-z]{49}$/);

    const again = await runCli(['bootstrap', '--org', 'acme'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('already has an owner key');
  });

  it('writes the owner key to --out, owner-only, and never overwrites a file (nothing is created then)', async () => {
    const env = { GATEHOUSE_DATA_DIR: dataDir.path };
    const out = join(dataDir.path, 'delta-owner.json');
    const first = await runCli(['bootstrap', '--org', 'delta', '--out', out], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain(`written to ${out}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const written = readFileSync(out, 'utf8');
    expect((JSON.parse(written) as BootstrapOutput).api_key).toMatch(/^gth_live_[0-9A-Za-z]{49}$/);

    // As `npm run bootstrap -- --org … > owner.json` run twice would have lost it: refused, the file as it was.
    const again = await runCli(['bootstrap', '--org', 'gamma', '--out', out], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('never overwrites');
    expect(readFileSync(out, 'utf8')).toBe(written);
    const gamma = await runCli(['bootstrap', '--org', 'gamma'], env);
    expect(gamma.code).toBe(0);
    expect((JSON.parse(gamma.stdout) as BootstrapOutput).organization).toMatchObject({ created: true });
  });

  it('walks the seed flow through the gateway: key, upload, revoke, token refused', async () => {
    const gateway = suite.gateway;
    const ownerToken = await tokenFor(gateway, owner.api_key, owner.client_id);
    const created = await request(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'jenkins-prod', client_id: 'my-runner', permissions: ['write:findings'] },
    });
    expect(created.status).toBe(201);
    const pipelineToken = await tokenFor(gateway, created.body['api_key'] as string, 'my-runner');

    const uploaded = await request(`${gateway}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pipelineToken}` },
      body: {
        findings: [
          {
            rule_id: 'CKV_AWS_20',
            title: 'S3 bucket is public',
            severity: 'high',
            location: { path: 'infra/s3.tf', start_line: 12 },
          },
        ],
      },
    });
    expect(uploaded.status).toBe(201);
    expect(uploaded.body).toMatchObject({ status: 'completed', results: 1, new: 1 });
    const listed = await findings(gateway, ownerToken);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((finding) => finding['rule_id'])).toEqual(['CKV_AWS_20']);

    const revoked = await request(`${gateway}/api/v1/api-keys/${String(created.body['id'])}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(revoked.status).toBe(200);
    // admin-api revoked it; findings-service, another app of the process, hears it on the in-process bus at once.
    const refused = await request(`${gateway}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pipelineToken}` },
      body: { findings: [{ rule_id: 'R', title: 'T', severity: 'low', location: { path: 'p' } }] },
    });
    expect(refused.status).toBe(401);
    expect(refused.body['error']).toBe('token_revoked');
    const reauthenticate = await request(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': created.body['api_key'] as string },
      body: { client_id: 'my-runner' },
    });
    expect(reauthenticate.status).toBe(401);
  });

  it("limits a key's API calls in memory, and applies an override at once over the in-process bus", async () => {
    const gateway = suite.gateway;
    const ownerToken = await tokenFor(gateway, owner.api_key, owner.client_id);
    const created = await request(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'limited', client_id: 'limited', permissions: ['read:findings'] },
    });
    const token = await tokenFor(gateway, created.body['api_key'] as string, 'limited');
    const first = await findings(gateway, token);
    expect(first.headers.get('x-ratelimit-limit')).toBe('1000');

    const override = await request(`${gateway}/api/v1/api-keys/${String(created.body['id'])}/rate-limit`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { requests_per_minute: 3, burst: 1 },
    });
    expect(override.status).toBe(200);
    // In-process: the change reached the gateway before the PUT returned.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await findings(gateway, token);
      expect(response.headers.get('x-ratelimit-limit')).toBe('3');
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('keeps its data across a clean stop and a kill -9, on the same data directory', async () => {
    const tokenBefore = await tokenFor(suite.gateway, owner.api_key, owner.client_id);
    expect(await suite.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir.path, 'control.sock'))).toBe(false);
    expect(existsSync(join(dataDir.path, 'pgdata.lock'))).toBe(false);
    const notRunning = await runCli(['bootstrap', '--org', 'beta'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(notRunning.code).toBe(1);
    expect(notRunning.stderr).toContain('the standalone suite is not running');

    for (const restart of ['after SIGTERM', 'after SIGKILL']) {
      suite = await startStandalone(dataDir.path);
      // Without JWT_SIGNING_KEY the suite keeps its own key in the data directory, owner-only: tokens issued
      // before the restart still verify.
      expect(statSync(join(dataDir.path, 'jwt-signing-key.pem')).mode & 0o777).toBe(0o600);
      expect((await findings(suite.gateway, tokenBefore)).status).toBe(200);
      const ownerToken = await tokenFor(suite.gateway, owner.api_key, owner.client_id);
      const listed = await findings(suite.gateway, ownerToken);
      expect({ restart, rules: listed.body.data.map((finding) => finding['rule_id']) }).toEqual({
        restart,
        rules: ['CKV_AWS_20'],
      });
      const keys = await request<{ data: Record<string, unknown>[] }>(`${suite.gateway}/api/v1/api-keys`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      expect(keys.body.data.find((key) => key['client_id'] === 'my-runner')).toMatchObject({
        status: 'revoked',
      });
      if (restart === 'after SIGTERM')
        expect(await suite.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    }
    // The lock and the socket a killed suite left behind were taken over; the owner key still exists.
    await expect(suite.bootstrap('acme')).rejects.toThrow(/already has an owner key/);
  });

  it('refuses a second suite on a data directory in use', async () => {
    await expect(startStandalone(dataDir.path)).rejects.toThrow(
      new RegExp(`open in process ${String(suite.child.pid)}`),
    );
  });
});
