import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createDataDir,
  type RunningSuite,
  type StandaloneSuite,
  startStandalone,
  startSuite,
} from '@gatehouse/testing';

/**
 * The built dashboard (dist/apps/dashboard) as the gateway serves it by default, in both modes: its page and
 * scripts under the dashboard's CSP, its client routes answered with the page, the JSON API under its own policy.
 */
const BUILT_INDEX = readFileSync(join(__dirname, '../../../dist/apps/dashboard/index.html'), 'utf8');
const API_POLICY = "default-src 'none';frame-ancestors 'none'";

type SignInConfig = { issuer: string | null; client_id: string | null; scope: string | null };
const NO_SIGN_IN: SignInConfig = { issuer: null, client_id: null, scope: null };

async function expectDashboardServed(gateway: string, signIn: SignInConfig = NO_SIGN_IN): Promise<void> {
  const page = await fetch(`${gateway}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toBe(BUILT_INDEX);
  const policy = page.headers.get('content-security-policy') ?? '';
  expect(policy).toContain("script-src 'self'");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).not.toContain('unsafe-inline');

  // Every script the page names comes from the gateway itself.
  const scripts = [...BUILT_INDEX.matchAll(/<script[^>]*src="([^"]+)"/g)].map((match) => match[1]);
  expect(scripts.length).toBeGreaterThan(0);
  for (const src of scripts) {
    expect(src).toMatch(/^\/assets\//);
    const script = await fetch(`${gateway}${src}`);
    expect({ src, status: script.status }).toEqual({ src, status: 200 });
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  }
  expect(BUILT_INDEX).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

  const clientRoute = await fetch(`${gateway}/keys`, { headers: { accept: 'text/html' } });
  expect(clientRoute.status).toBe(200);
  expect(await clientRoute.text()).toBe(BUILT_INDEX);

  const config = await fetch(`${gateway}/dashboard/config.json`);
  expect(await config.json()).toEqual(signIn);
  if (signIn.issuer) expect(policy).toContain(`connect-src 'self' ${new URL(signIn.issuer).origin}`);

  const api = await fetch(`${gateway}/api/v1/api-keys`);
  expect(api.status).toBe(401);
  expect(api.headers.get('content-security-policy')).toBe(API_POLICY);
  expect(await api.json()).toMatchObject({ error: 'missing_token' });
}

describe('the dashboard served by the gateway', () => {
  describe('server mode (four processes)', () => {
    let suite: RunningSuite;

    beforeAll(async () => {
      suite = await startSuite();
    });

    afterAll(async () => {
      await suite?.stop();
    });

    it('serves the build beside its bundle at / with the dashboard policy, the API unchanged', async () => {
      await expectDashboardServed(suite.gateway.url);
    });

    it('serves nothing at / when DASHBOARD_DIR holds no build', async () => {
      const bare = await suite.startGateway({ DASHBOARD_DIR: join(__dirname, 'support') });
      const response = await fetch(`${bare.url}/`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-security-policy')).toBe(API_POLICY);
    });
  });

  describe('standalone mode', () => {
    const dataDir = createDataDir();
    let suite: StandaloneSuite;

    beforeAll(async () => {
      suite = await startStandalone(dataDir.path);
    });

    afterAll(async () => {
      await suite?.stop('SIGKILL');
      dataDir.remove();
    });

    it('serves the same build at / on the one gateway port, signing in with its development identity provider', async () => {
      const ready = suite
        .output()
        .split('\n')
        .find((line) => line.includes('"standalone suite ready"'));
      const { dev_identity } = JSON.parse(ready ?? '{}') as { dev_identity: { issuer: string } };
      await expectDashboardServed(suite.gateway, {
        issuer: dev_identity.issuer,
        client_id: 'gatehouse-dashboard',
        scope: 'openid profile email',
      });
    });
  });
});
