import { readFileSync } from 'node:fs';
import {
  MemoryDevUserStore,
  startDevIdentityProvider,
  type DevIdentityProvider,
} from '@gatehouse/dev-identity';
import { freePort, request, startSuite, type RunningSuite } from '@gatehouse/testing';
import type { Page } from 'playwright-core';
import {
  checkAccessibility,
  launchBrowser,
  screenshot,
  type BrowserSession,
  type PageProblems,
} from './support/browser';

const AUDIENCE = 'urn:gatehouse:test-dashboard';
const KEY_NAME = 'ci-main';
/** The key's name after it is edited. */
const RENAMED = 'ci-main-release';
const CLIENT_ID = 'ci-main-runner';

/**
 * The whole page as a person uses it, in Chromium, against the four built apps as separate processes on PostgreSQL
 * and Redis, signed in through the development identity provider (run in this process, users in memory): create a
 * key, copy its secret once, authenticate with it through the gateway, see its last use, rotate and finish, disable
 * and enable, edit its labels, revoke, delete, read and export the audit log, see the findings it uploaded; then a
 * viewer, who opens a deep link signed out, is back on it after signing in, and is offered no write action. Each page is checked with axe-core and kept as a screenshot under tmp/screenshots/.
 * The steps build on each other, in order.
 */
describe('the dashboard, a key from creation to deletion, in Chromium', () => {
  const users = new MemoryDevUserStore();
  let provider: DevIdentityProvider;
  let suite: RunningSuite;
  let browser: BrowserSession;
  let gateway: string;
  let owner: { username: string; password: string };
  let viewer: { username: string; password: string };
  let page: Page;
  let problems: PageProblems;
  let secret: string;
  let rotatedSecret: string;
  let viewerPage: Page;
  let viewerProblems: PageProblems;

  beforeAll(async () => {
    // The provider allows the dashboard's origin only: the gateway's port is chosen first.
    const gatewayPort = await freePort();
    gateway = `http://127.0.0.1:${gatewayPort}`;
    provider = await startDevIdentityProvider({
      port: 0,
      dashboardOrigins: [gateway],
      audience: AUDIENCE,
      users,
      env: { NODE_ENV: 'test' },
      log: () => undefined,
    });
    const userTokens = {
      OIDC_ISSUER: provider.issuer,
      OIDC_JWKS_URL: provider.jwksUrl,
      OIDC_AUDIENCE: AUDIENCE,
    };
    [suite, browser] = await Promise.all([
      startSuite({
        adminEnv: userTokens,
        findingsEnv: userTokens,
        gatewayEnv: {
          PORT: String(gatewayPort),
          DASHBOARD_OIDC_ISSUER: provider.issuer,
          DASHBOARD_OIDC_CLIENT_ID: provider.clientId,
        },
      }),
      launchBrowser(),
    ]);
    await suite.bootstrap('acme');
    owner = await users.create({ org: 'acme', role: 'owner', username: 'owner@acme' });
    viewer = await users.create({ org: 'acme', role: 'viewer', username: 'viewer@acme' });
    ({ page, problems } = await browser.newPage());
    // A step that cannot happen fails in seconds, not at Playwright's 30 s default.
    page.setDefaultTimeout(10_000);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await suite?.stop();
    await provider?.close();
  });

  const authenticate = (apiKey: string) =>
    request<{ access_token: string }>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: CLIENT_ID },
    });

  /** Opens `path` signed out and signs in from there. */
  const signIn = async (target: Page, user: { username: string; password: string }, path = '/') => {
    await target.goto(`${gateway}${path}`);
    await target.getByRole('button', { name: 'Sign in' }).click();
    await target.waitForURL((url) => url.origin === new URL(provider.issuer).origin);
    await target.getByLabel('Username').fill(user.username);
    await target.getByLabel('Password').fill(user.password);
    await target.getByRole('button', { name: 'Sign in' }).click();
    await target.getByRole('navigation', { name: 'Main' }).waitFor();
  };

  /** Checks the page as it is now and keeps its picture. */
  const inspect = async (target: Page, name: string) => {
    await checkAccessibility(target);
    await screenshot(target, name);
  };

  /** The key page's "State" entry. */
  const keyState = () => page.locator('dt:text-is("State") + dd').textContent();

  it('signs the owner in through the identity provider and lists the bootstrapped key', async () => {
    await signIn(page, owner);
    await page.getByRole('link', { name: 'API keys' }).click();
    const table = page.getByRole('table', { name: 'API keys' });
    await table.waitFor();
    await expect(table.getByRole('row').count()).resolves.toBe(2); // the header and the owner key
    await inspect(page, 'keys');
  });

  it('creates a key whose secret is shown once, copied to the clipboard, then gone from the page', async () => {
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.getByLabel('Name').fill(KEY_NAME);
    await form.getByLabel('Client ID').fill('Not a client id!');
    const permissions = form.getByRole('group', { name: 'Permissions' });
    await permissions.getByLabel('write:findings').check();
    await permissions.getByLabel('read:findings').check();
    await form.getByLabel('Environment').selectOption('live');
    // The suggested expiry: 90 days from today (UTC).
    const suggested = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
    await expect(form.getByLabel('Expires').inputValue()).resolves.toBe(suggested);
    await inspect(page, 'create-key');
    await form.getByLabel('Client ID').fill(CLIENT_ID);
    await form.getByRole('button', { name: 'Save key' }).click();

    const shown = page.getByRole('dialog', { name: `Key ${KEY_NAME} created` });
    await shown.getByText('You will not see this secret again').waitFor();
    secret = await shown.getByRole('textbox', { name: 'Secret' }).inputValue();
    expect(secret.length).toBeGreaterThan(30);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied').waitFor();
    await expect(page.evaluate('navigator.clipboard.readText()')).resolves.toBe(secret);
    await inspect(page, 'key-created-secret');
    await shown.getByRole('button', { name: 'Done' }).click();

    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('table', { name: 'API keys' }).getByRole('link', { name: KEY_NAME }).waitFor();
  });

  it('refuses an invalid client id inline, before anything is sent', async () => {
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.getByLabel('Name').fill('bad');
    await form.getByLabel('Client ID').fill('Not a client id!');
    await expect(form.getByLabel('Client ID').getAttribute('aria-invalid')).resolves.toBe('true');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('table', { name: 'API keys' }).getByRole('row').count()).resolves.toBe(3);
  });

  it('shows the last use of the key after a pipeline authenticates with it through the gateway', async () => {
    const token = await authenticate(secret);
    expect(token.status).toBe(200);
    const upload = await request(`${gateway}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.body.access_token}` },
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
    expect(upload.status).toBeLessThan(300);

    await page.getByRole('table', { name: 'API keys' }).getByRole('link', { name: KEY_NAME }).click();
    await page.getByRole('heading', { name: KEY_NAME }).waitFor();
    const lastUsed = page.getByRole('definition').filter({ hasText: /127\.0\.0\.1/ });
    // auth-service records use in batches (every 200 ms in this suite): Refresh until it shows.
    for (let attempt = 0; (await lastUsed.count()) === 0 && attempt < 50; attempt += 1) {
      await page.getByRole('button', { name: 'Refresh', exact: true }).click();
      await page.waitForTimeout(200);
    }
    await expect(lastUsed.count()).resolves.toBe(1);
    const usage = page.getByRole('table', { name: 'Authentication attempts, newest first' });
    await usage.getByRole('row').nth(1).waitFor();
    await inspect(page, 'key-detail');
  });

  it('rotates the key with a grace countdown, then finishes the rotation', async () => {
    await page.getByRole('button', { name: 'Rotate', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: `Rotate key ${KEY_NAME}?` });
    await confirm.getByRole('button', { name: 'Rotate key' }).click();
    const shown = page.getByRole('dialog', { name: `Key ${KEY_NAME} rotated` });
    rotatedSecret = await shown.getByRole('textbox', { name: 'New secret' }).inputValue();
    expect(rotatedSecret).not.toBe(secret);
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    // Rotate is not offered while the rotation runs: focus goes on to Finish rotation, not to the document's top.
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe('Finish rotation');

    await page.getByRole('timer').waitFor();
    expect((await authenticate(secret)).status).toBe(200);
    expect((await authenticate(rotatedSecret)).status).toBe(200);
    await inspect(page, 'key-rotating');

    await page.getByRole('button', { name: 'Finish rotation' }).click();
    await page
      .getByRole('dialog', { name: `Finish the rotation of key ${KEY_NAME}?` })
      .getByRole('button', { name: 'Retire the previous secret' })
      .click();
    await page.getByRole('timer').waitFor({ state: 'detached' });
    expect((await authenticate(secret)).status).toBe(401);
    expect((await authenticate(rotatedSecret)).status).toBe(200);
  });

  it('disables and enables the key, and the gateway follows', async () => {
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    await expect(keyState()).resolves.toMatch(/disabled/i);
    expect((await authenticate(rotatedSecret)).status).toBe(401);

    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    expect((await authenticate(rotatedSecret)).status).toBe(200);
  });

  it('edits the name, description and a metadata entry, and the page shows them', async () => {
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = page.getByRole('dialog', { name: `Edit key ${KEY_NAME}` });
    await form.getByLabel('Name').fill(RENAMED);
    await form.getByLabel('Description').fill('Deploys main to production');
    await form.getByRole('button', { name: 'Add entry' }).click();
    await form.getByLabel('Metadata key 1').fill('team');
    await form.getByLabel('Metadata value 1').fill('platform');
    await inspect(page, 'edit-key');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.waitFor({ state: 'detached' });

    await page
      .getByRole('status')
      .filter({ hasText: `Key ${RENAMED} updated.` })
      .waitFor();
    await page.getByRole('heading', { level: 1, name: RENAMED }).waitFor();
    await expect(page.locator('dt:text-is("Description") + dd').textContent()).resolves.toBe(
      'Deploys main to production',
    );
    await expect(page.getByRole('list', { name: 'Metadata' }).textContent()).resolves.toBe('team: platform');
    // Labels only: the key still authenticates.
    expect((await authenticate(rotatedSecret)).status).toBe(200);
  });

  it('revokes the key after a confirmation naming it', async () => {
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: `Revoke key ${RENAMED}?` });
    await inspect(page, 'revoke-confirmation');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Key ${RENAMED} revoked.` })
      .waitFor();
    await expect(keyState()).resolves.toMatch(/revoked/i);
    expect((await authenticate(rotatedSecret)).status).toBe(401);
  });

  it('deletes the key after a confirmation naming it, and the list no longer has it', async () => {
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page
      .getByRole('dialog', { name: `Delete key ${RENAMED}?` })
      .getByRole('button', { name: 'Delete key' })
      .click();
    await page.waitForURL((url) => url.pathname === '/keys');
    const table = page.getByRole('table', { name: 'API keys' });
    await table.waitFor();
    await expect(table.getByRole('link', { name: KEY_NAME }).count()).resolves.toBe(0); // nor RENAMED, which contains it
  });

  it('reads the audit log of all of it and exports it as CSV', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    const events = page.getByRole('table', { name: 'Audit events, newest first' });
    await events.waitFor();
    for (const action of [
      'api_key.created',
      'api_key.rotated',
      'api_key.disabled',
      'api_key.enabled',
      'api_key.updated',
      'api_key.revoked',
      'api_key.deleted',
    ]) {
      await events.getByRole('cell', { name: action, exact: true }).first().waitFor();
    }
    await inspect(page, 'audit-log');

    await page.getByLabel('Export format').selectOption({ label: 'CSV' });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export' }).click(),
    ]);
    const csv = readFileSync((await download.path()) ?? '', 'utf8');
    const [header = '', ...rows] = csv.trim().split(/\r?\n/);
    expect(header).toContain('action');
    expect(rows.some((row) => row.includes('api_key.deleted'))).toBe(true);
    expect(rows.some((row) => row.includes('api_key.created'))).toBe(true);
  });

  it('shows the findings the key uploaded, by severity and state', async () => {
    await page.getByRole('link', { name: 'Findings' }).click();
    const summary = page.getByRole('table', { name: 'Findings by severity and state' });
    await summary.waitFor();
    await page
      .getByRole('table', { name: 'Findings, newest first seen first' })
      .getByText('S3 bucket is public')
      .waitFor();
    await inspect(page, 'findings');
  });

  it('shows the webhooks page', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'Add endpoint' }).waitFor();
    await inspect(page, 'webhooks');
  });

  it('saw no CSP violation, console error or uncaught error along the way', () => {
    expect(problems).toEqual({ consoleErrors: [], cspViolations: [], pageErrors: [] });
  });

  it('brings a viewer who opens a deep link signed out back to it after signing in', async () => {
    ({ page: viewerPage, problems: viewerProblems } = await browser.newPage());
    viewerPage.setDefaultTimeout(10_000);
    await signIn(viewerPage, viewer, '/audit?action=api_key.updated');
    const landed = new URL(viewerPage.url());
    expect(`${landed.pathname}${landed.search}`).toBe('/audit?action=api_key.updated');
    const events = viewerPage.getByRole('table', { name: 'Audit events, newest first' });
    await events.getByRole('cell', { name: 'api_key.updated', exact: true }).waitFor();
    await expect(events.getByRole('cell', { name: 'api_key.created', exact: true }).count()).resolves.toBe(0);
  });

  it('offers a viewer no write action on the list or on a key', async () => {
    await viewerPage.getByRole('link', { name: 'API keys' }).click();
    const table = viewerPage.getByRole('table', { name: 'API keys' });
    await table.waitFor();
    await expect(viewerPage.getByRole('button', { name: 'Create key' }).count()).resolves.toBe(0);
    await inspect(viewerPage, 'keys-viewer');

    await table.getByRole('row').nth(1).getByRole('link').click();
    await viewerPage.getByRole('heading', { level: 1 }).waitFor();
    await viewerPage.getByText('Last used').waitFor();
    for (const action of ['Edit', 'Rotate', 'Disable', 'Enable', 'Revoke', 'Delete', 'Set rate limit']) {
      await expect(viewerPage.getByRole('button', { name: action, exact: true }).count()).resolves.toBe(0);
    }
    await inspect(viewerPage, 'key-detail-viewer');
    expect(viewerProblems).toEqual({ consoleErrors: [], cspViolations: [], pageErrors: [] });
  });
});
