import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  createDataDir,
  freePort,
  request,
  runCli,
  signInLikeABrowser,
  standaloneEnv,
  type StandaloneSuite,
  startStandalone,
  WORKSPACE_ROOT,
} from '@gatehouse/testing';

interface Dashboard {
  url: string;
  username: string;
  password?: string;
}

/**
 * `npm start` and a browser: the standalone suite runs the development identity provider, `npm run bootstrap`
 * prints the owner's sign-in once, and a browser (here fetch and a cookie jar) signs in with it and reaches the
 * API through the gateway as that owner.
 */
describe('standalone mode: the development identity provider', () => {
  const dataDir = createDataDir();
  let suite: StandaloneSuite;
  let issuer: string;
  let dashboard: Dashboard;
  // Fixed for the test, as 8090 is for a person: the issuer is its URL, and a restart must keep it.
  let identityPort: string;

  const signIn = (username: string, password: string) =>
    signInLikeABrowser({
      issuer,
      clientId: 'gatehouse-dashboard',
      redirectUri: `${suite.gateway}/callback`,
      username,
      password,
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    identityPort = String(await freePort());
    suite = await startStandalone(dataDir.path, { DEV_IDENTITY_PORT: identityPort });
    const ready = suite
      .output()
      .split('\n')
      .find((line) => line.includes('"standalone suite ready"'));
    issuer = (JSON.parse(ready ?? '{}') as { dev_identity: { issuer: string } }).dev_identity.issuer;
  });

  afterAll(async () => {
    await suite?.stop();
    dataDir.remove();
  });

  it('says loudly that it is on', () => {
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(suite.output()).toContain(`DEVELOPMENT IDENTITY PROVIDER ON at ${issuer}`);
  });

  it('names the provider to the dashboard in /dashboard/config.json', async () => {
    const config = await request(`${suite.gateway}/dashboard/config.json`);
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({ issuer, client_id: 'gatehouse-dashboard' });
  });

  it("bootstrap prints the owner's dashboard sign-in once, beside the key", async () => {
    const result = await runCli(['bootstrap', '--org', 'acme'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { api_key: string; dashboard: Dashboard };
    expect(output.api_key).toMatch(/^gth_live_/);
    dashboard = output.dashboard;
    expect(dashboard).toEqual({
      url: `${suite.gateway}/`,
      username: 'owner@acme',
      password: expect.stringMatching(/^[\w-]{32}$/),
    });
    const users = join(dataDir.path, 'dev-identity', 'users.json');
    expect(statSync(users).mode & 0o777).toBe(0o600);

    const again = await runCli(['bootstrap', '--org', 'acme'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
  });

  it('signs the owner in like a browser; the gateway serves /api/v1/me as the owner of acme', async () => {
    const result = await signIn(dashboard.username, dashboard.password ?? '');
    if (!result.signedIn) throw new Error(`not signed in: ${result.status} ${result.answer}`);
    expect(result.loginPage).toContain('Development identity provider — not for production');
    const me = await request(`${suite.gateway}/api/v1/me`, { headers: bearer(result.accessToken) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'user', role: 'owner', organization: { name: 'acme' } });
  });

  it('refuses a wrong password with the form again', async () => {
    const result = await signIn(dashboard.username, 'wrong-password');
    expect(result).toMatchObject({ signedIn: false, status: 401 });
    if (!result.signedIn) expect(result.answer).toContain('Wrong username or password.');
  });

  it('adds a viewer through the CLI, who reads but may not create a key', async () => {
    const env = { GATEHOUSE_DATA_DIR: dataDir.path };
    const added = await runCli(['dev-users', 'add', '--org', 'acme', '--role', 'viewer'], env);
    expect(added.code).toBe(0);
    const viewer = JSON.parse(added.stdout) as { username: string; password: string; role: string };
    expect(viewer).toMatchObject({ username: 'viewer@acme', role: 'viewer' });

    const result = await signIn(viewer.username, viewer.password);
    if (!result.signedIn) throw new Error(`not signed in: ${result.status}`);
    const me = await request(`${suite.gateway}/api/v1/me`, { headers: bearer(result.accessToken) });
    expect(me.body).toMatchObject({ role: 'viewer', organization: { name: 'acme' } });
    const create = await request(`${suite.gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: bearer(result.accessToken),
      body: { name: 'not-allowed', client_id: 'viewer-made', permissions: ['read:findings'] },
    });
    expect(create.status).toBe(403);
  });

  it('refuses a user of an unknown organization or role, saying why', async () => {
    const env = { GATEHOUSE_DATA_DIR: dataDir.path };
    const unknownOrg = await runCli(['dev-users', 'add', '--org', 'nowhere', '--role', 'viewer'], env);
    expect(unknownOrg.code).toBe(1);
    expect(unknownOrg.stderr).toContain('no organization nowhere');
    const badRole = await runCli(['dev-users', 'add', '--org', 'acme', '--role', 'root'], env);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role must be one of owner, admin, member, viewer');
    const taken = await runCli(
      ['dev-users', 'add', '--org', 'acme', '--role', 'admin', '--username', 'owner@acme'],
      env,
    );
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('user owner@acme exists already');
  });

  it('keeps its users, keys and sessions across a restart: the token still works, the refresh token renews', async () => {
    const before = await signIn(dashboard.username, dashboard.password ?? '');
    if (!before.signedIn || !before.refreshToken) throw new Error('not signed in with a refresh token');
    await suite.stop();
    suite = await startStandalone(dataDir.path, { DEV_IDENTITY_PORT: identityPort });

    const me = await request(`${suite.gateway}/api/v1/me`, { headers: bearer(before.accessToken) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ role: 'owner', organization: { name: 'acme' } });
    const renewed = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: before.refreshToken,
        client_id: 'gatehouse-dashboard',
      }).toString(),
    });
    expect(renewed.status).toBe(200);
    const tokens = (await renewed.json()) as { access_token: string };
    const again = await request(`${suite.gateway}/api/v1/me`, { headers: bearer(tokens.access_token) });
    expect(again.body).toMatchObject({ role: 'owner', organization: { name: 'acme' } });
    expect((await signIn(dashboard.username, dashboard.password ?? '')).signedIn).toBe(true);
  });

  it('refuses to start with NODE_ENV=production, naming the reason', async () => {
    const other = createDataDir();
    try {
      const child = spawn(
        process.execPath,
        [join(WORKSPACE_ROOT, 'dist/apps/gatehouse-standalone/main.js')],
        {
          cwd: WORKSPACE_ROOT,
          env: standaloneEnv(other.path, { NODE_ENV: 'production', GATEWAY_SECRET: 'x'.repeat(40) }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exit) => resolve(exit)));
      expect(code).toBe(1);
      expect(output).toContain('development identity provider refuses to start with NODE_ENV=production');
      expect(output).not.toContain('standalone suite ready');
    } finally {
      other.remove();
    }
  });
});
