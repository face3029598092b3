import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's `chromium` package; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Where `screenshot` writes: artifacts of the run, git-ignored with the rest of tmp/. */
export const SCREENSHOT_DIR = join(__dirname, '../../../../tmp/screenshots');

// Nothing of the browser's own reaches the network: no update checks, no sync, no QUIC probes; no GPU on a CI
// machine. Playwright's launch gives it a fresh temporary profile and removes it on close.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Runs in the page before its own scripts (source text: this project is type-checked without the DOM's types).
const REPORT_CSP_VIOLATIONS = `
document.addEventListener('securitypolicyviolation', (event) => {
  window.__reportCspViolation(
    event.effectiveDirective + ' blocked ' + (event.blockedURI || 'inline') +
      ' (' + event.sourceFile + ':' + event.lineNumber + ')',
  );
});
`;

/** What went wrong in a page while a test drove it: each entry is one line a failing assertion shows. */
export interface PageProblems {
  consoleErrors: string[];
  cspViolations: string[];
  pageErrors: string[];
}

export interface BrowserSession {
  browser: Browser;
  /** A new context (own cookies and storage) and page whose console errors, CSP violations and uncaught errors are collected. */
  newPage(): Promise<{ page: Page; problems: PageProblems }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async newPage() {
      const context = await browser.newContext();
      contexts.push(context);
      const problems: PageProblems = { consoleErrors: [], cspViolations: [], pageErrors: [] };
      // A violation is reported to the page as an event (not always on the console): a binding carries it out.
      await context.exposeBinding('__reportCspViolation', (_source, line: string) => {
        problems.cspViolations.push(line);
      });
      await context.addInitScript(REPORT_CSP_VIOLATIONS);
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        const { url } = message.location();
        problems.consoleErrors.push(url ? `${message.text()} (${url})` : message.text());
      });
      page.on('pageerror', (error) => problems.pageErrors.push(error.message));
      return { page, problems };
    },
    async close() {
      for (const context of contexts) await context.close();
      await browser.close();
    },
  };
}

/** The axe-core violations of impact serious or critical on the page as it is now, one line each. */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.impact ?? ''} ${violation.id}: ${violation.help} (${violation.nodes
          .map((node) => node.target.join(' '))
          .join(', ')})`,
    );
}

/** Fails with every serious or critical axe-core violation listed. */
export async function checkAccessibility(page: Page): Promise<void> {
  const violations = await seriousAccessibilityViolations(page);
  if (violations.length > 0) {
    throw new Error(`axe-core found serious or critical violations:\n${violations.join('\n')}`);
  }
}

/** A full-page PNG under tmp/screenshots/, kept as an artifact of the run; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
