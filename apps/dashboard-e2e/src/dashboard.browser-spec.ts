import { existsSync } from 'node:fs';
import { startOidcIssuer, startSuite, type OidcIssuer, type RunningSuite } from '@gatehouse/testing';
import { checkAccessibility, launchBrowser, screenshot, type BrowserSession } from './support/browser';

/**
 * The built dashboard in real Chromium, served by the built gateway in front of the other three apps (server
 * mode, PostgreSQL and Redis), under the dashboard's Content-Security-Policy. Signed out: the provider is only
 * named here (the dashboard reads its settings, it does not call it before the user asks to sign in).
 */
describe('the dashboard in Chromium', () => {
  let issuer: OidcIssuer;
  let suite: RunningSuite;
  let browser: BrowserSession;

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    [suite, browser] = await Promise.all([
      startSuite({
        gatewayEnv: {
          DASHBOARD_OIDC_ISSUER: issuer.issuer,
          DASHBOARD_OIDC_CLIENT_ID: 'gatehouse-dashboard',
        },
      }),
      launchBrowser(),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await suite?.stop();
    await issuer?.close();
  });

  it('shows the sign-in page at / with no CSP violation, console error or serious accessibility violation', async () => {
    const { page, problems } = await browser.newPage();
    const response = await page.goto(`${suite.gateway.url}/`);
    expect(response?.status()).toBe(200);

    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in to Gatehouse');
    expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.title()).not.toBe('');

    await checkAccessibility(page);
    const file = await screenshot(page, 'signed-out');
    expect(existsSync(file)).toBe(true);
    expect(problems).toEqual({ consoleErrors: [], cspViolations: [], pageErrors: [] });
  });

  it('renders the app on a reload of the deep link /keys', async () => {
    const { page, problems } = await browser.newPage();
    const response = await page.goto(`${suite.gateway.url}/keys`);
    expect(response?.status()).toBe(200);
    await page.reload();

    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in to Gatehouse');
    expect(new URL(page.url()).pathname).toBe('/keys');
    await screenshot(page, 'keys-deep-link-signed-out');
    expect(problems).toEqual({ consoleErrors: [], cspViolations: [], pageErrors: [] });
  });

  it('reports a CSP violation when the page runs an inline script, so the checks above can fail', async () => {
    const { page, problems } = await browser.newPage();
    await page.goto(`${suite.gateway.url}/`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    // Through the page's own DOM, as an injected script would: the policy must refuse it.
    await page.evaluate(`{
      const script = document.createElement('script');
      script.textContent = 'document.title = "injected"';
      document.body.append(script);
    }`);
    // The event and the binding that carries it out are asynchronous: wait for the report.
    for (let waited = 0; problems.cspViolations.length === 0 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(problems.cspViolations[0]).toMatch(/^script-src-elem blocked inline/);
    expect(await page.title()).not.toBe('injected');
  });
});
