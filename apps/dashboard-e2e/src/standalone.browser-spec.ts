import {
  createDataDir,
  runCli,
  startStandalone,
  type BootstrapOutput,
  type StandaloneSuite,
} from '@gatehouse/testing';
import type { Page } from 'playwright-core';
import {
  checkAccessibility,
  launchBrowser,
  screenshot,
  type BrowserSession,
  type PageProblems,
} from './support/browser';

const BANNER = 'Development identity provider — not for production';
const KEY_NAME = 'laptop';
const CLIENT_ID = 'laptop-runner';

/** `npm run bootstrap` in standalone mode: the key, and the owner's sign-in to the dashboard, printed once. */
interface StandaloneBootstrapOutput extends BootstrapOutput {
  dashboard: { url: string; username: string; password: string };
}

/**
 * A newcomer's first hour in Chromium: `npm start` with no PostgreSQL or Redis (the built standalone suite, its own
 * development identity provider on a port of its own), `npm run bootstrap -- --org acme` (the built CLI), then the
 * URL, username and password it printed: sign in at the provider, see the bootstrapped key, create one, sign out.
 * Every page is checked with axe-core and kept as a screenshot under tmp/screenshots/. The steps build on each other.
 */
describe('the dashboard in standalone mode, from npm start to sign-out, in Chromium', () => {
  const dataDir = createDataDir();
  let suite: StandaloneSuite;
  let browser: BrowserSession;
  let bootstrap: StandaloneBootstrapOutput;
  let issuerOrigin: string;
  let page: Page;
  let problems: PageProblems;

  beforeAll(async () => {
    [suite, browser] = await Promise.all([startStandalone(dataDir.path), launchBrowser()]);
    const ready = suite
      .output()
      .split('\n')
      .find((line) => line.includes('"standalone suite ready"'));
    issuerOrigin = new URL(
      (JSON.parse(ready ?? '{}') as { dev_identity: { issuer: string } }).dev_identity.issuer,
    ).origin;
    ({ page, problems } = await browser.newPage());
    // A step that cannot happen fails in seconds, not at Playwright's 30 s default.
    page.setDefaultTimeout(10_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await suite?.stop();
    dataDir.remove();
  });

  /** Checks the page as it is now and keeps its picture. */
  const inspect = async (name: string) => {
    await checkAccessibility(page);
    await screenshot(page, name);
  };

  it('bootstraps acme through the CLI, which prints the dashboard URL and the owner sign-in', async () => {
    const result = await runCli(['bootstrap', '--org', 'acme'], { GATEHOUSE_DATA_DIR: dataDir.path });
    expect(result.code).toBe(0);
    bootstrap = JSON.parse(result.stdout) as StandaloneBootstrapOutput;
    expect(bootstrap.dashboard).toEqual({
      url: `${suite.gateway}/`,
      username: 'owner@acme',
      password: expect.any(String),
    });
  });

  it("opens the printed URL and, after Sign in, shows the provider's page with its development banner", async () => {
    await page.goto(bootstrap.dashboard.url);
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    await inspect('standalone-signed-out');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === issuerOrigin);
    await expect(page.getByRole('alert').first().textContent()).resolves.toBe(BANNER);
    await page.getByRole('heading', { name: 'Sign in to the Gatehouse dashboard' }).waitFor();
    await inspect('standalone-identity-provider-sign-in');
  });

  it('signs the owner in with the printed username and password and lists the bootstrapped key', async () => {
    await page.getByLabel('Username').fill(bootstrap.dashboard.username);
    await page.getByLabel('Password').fill(bootstrap.dashboard.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${suite.gateway}/keys`);
    await page.getByText('Signed in as owner@acme').waitFor();
    const table = page.getByRole('table', { name: 'API keys' });
    await table.waitFor();
    await expect(table.getByRole('row').count()).resolves.toBe(2); // the header and the owner key
    await table.getByRole('link', { name: 'Owner key', exact: true }).waitFor();
    await table.getByRole('cell', { name: bootstrap.client_id, exact: true }).waitFor();
    await inspect('standalone-keys');
  });

  it('creates a key, shown once, then listed', async () => {
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.getByLabel('Name').fill(KEY_NAME);
    await form.getByLabel('Client ID').fill(CLIENT_ID);
    await form.getByRole('group', { name: 'Permissions' }).getByLabel('read:findings').check();
    await inspect('standalone-create-key');
    await form.getByRole('button', { name: 'Save key' }).click();

    const shown = page.getByRole('dialog', { name: `Key ${KEY_NAME} created` });
    await shown.getByText('You will not see this secret again').waitFor();
    const secret = await shown.getByRole('textbox', { name: 'Secret' }).inputValue();
    expect(secret).toMatch(/^gth_live_/);
    await inspect('standalone-key-created-secret');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    const table = page.getByRole('table', { name: 'API keys' });
    await table.getByRole('link', { name: KEY_NAME }).waitFor();
    await expect(table.getByRole('row').count()).resolves.toBe(3);
  });

  it("signs out through the provider's sign-out page, back to the dashboard signed out", async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === issuerOrigin);
    await page.getByRole('heading', { name: 'Sign out of the development identity provider?' }).waitFor();
    await expect(page.getByRole('alert').first().textContent()).resolves.toBe(BANNER);
    await inspect('standalone-identity-provider-sign-out');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();

    await page.waitForURL(bootstrap.dashboard.url);
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    await expect(page.getByText('Signed in as').count()).resolves.toBe(0);
    // Signed out at the provider too: Sign in asks for the password again.
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === issuerOrigin);
    await page.getByLabel('Password').waitFor();
  });

  it('saw no CSP violation, console error or uncaught error along the way', () => {
    expect(problems).toEqual({ consoleErrors: [], cspViolations: [], pageErrors: [] });
  });
});
