#!/usr/bin/env node
// `npm test`: the dashboard's unit tests (Vitest: Vite and JSX), then the four Jest tiers in one Jest run (unit,
// integration, e2e, browser), then one plain summary line. Arguments go to Jest, except --help, which prints this script's
// own usage.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `Usage: npm test [-- <jest arguments>]      (builds the apps first)
       node tools/scripts/test.mjs [<jest arguments>]

Runs the dashboard's Vitest tests, then the four test tiers of jest.config.js in one Jest run, in TZ=UTC, then
prints one plain summary line ("N passed, N failed") over both:
  dashboard     apps/dashboard/src/**/*.test.ts(x), Vitest in jsdom (counted with unit: --selectProjects unit
                runs it too; --selectProjects dashboard runs only it)
  unit          *.spec.ts beside the code, no I/O
  integration   *.int-spec.ts, against PostgreSQL and Redis (TEST_POSTGRES_URL, TEST_REDIS_URL)
  e2e           apps/*-e2e/**/*.e2e-spec.ts, the built apps over HTTP
  browser       apps/dashboard-e2e/src/**/*.browser-spec.ts, the built dashboard and apps in Chromium
                (CHROMIUM_PATH, default /usr/bin/chromium; screenshots in tmp/screenshots/)

Every argument is passed to Jest as it is (except the tier name dashboard); --selectProjects, path patterns and -t
also decide whether and which dashboard tests run. For example:
  npm test -- --selectProjects unit                       one tier
  npm test -- apps/gatehouse-e2e/src/readme --selectProjects e2e
                                                           files whose path matches, in one tier (path first)
  npm test -- -t 'refuses an expired key'                 tests whose name matches

Jest's own options: npx jest --help. Exit status: 0 when every test passed, else that of the first run (Vitest's
or Jest's) that failed.
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** A path pattern into the dashboard's own folder (not apps/dashboard-e2e, which is Jest's browser tier). */
const DASHBOARD_PATH = /apps\/dashboard(\/|$)/;

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const results = join(root, 'tmp/jest-results.json');
const dashboardResults = join(root, 'tmp/vitest-results.json');
mkdirSync(dirname(results), { recursive: true });

const args = process.argv.slice(2);
const plan = planTiers(args);
const env = { ...process.env, TZ: 'UTC' };
const runs = [];

if (plan.dashboard) {
  rmSync(dashboardResults, { force: true });
  const vitest = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      join(root, 'apps/dashboard/vite.config.mts'),
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${dashboardResults}`,
      ...plan.vitestArgs,
    ],
    { stdio: 'inherit', env },
  );
  runs.push({ status: vitest.status ?? 1, file: dashboardResults });
}

if (plan.jest) {
  rmSync(results, { force: true });
  const jest = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/jest/bin/jest.js'),
      '--config',
      join(root, 'jest.config.js'),
      '--json',
      `--outputFile=${results}`,
      ...plan.jestArgs,
    ],
    { stdio: 'inherit', env },
  );
  runs.push({ status: jest.status ?? 1, file: results });
}

let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;
for (const run of runs) {
  try {
    const summary = JSON.parse(readFileSync(run.file, 'utf8'));
    passed += summary.numPassedTests;
    failed += summary.numFailedTests;
    skipped += summary.numPendingTests + summary.numTodoTests;
  } catch {
    missing = true;
  }
}
process.stdout.write(
  missing && passed + failed === 0
    ? '\nno test results were written\n'
    : `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
);
process.exit(runs.find((run) => run.status !== 0)?.status ?? 0);

/**
 * Which runner gets which arguments. --selectProjects picks tiers ("dashboard" is Vitest's, "unit" includes it);
 * a path pattern runs the dashboard only when it points into apps/dashboard; -t goes to both.
 */
function planTiers(argv) {
  const jestArgs = [];
  const vitestArgs = [];
  const selected = [];
  const patterns = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--selectProjects') {
      while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) selected.push(argv[(i += 1)]);
    } else if (arg === '-t' || arg === '--testNamePattern') {
      jestArgs.push(arg, argv[i + 1]);
      vitestArgs.push(arg, argv[(i += 1)]);
    } else {
      if (!arg.startsWith('-')) patterns.push(arg);
      jestArgs.push(arg);
    }
  }
  const jestTiers = selected.filter((tier) => tier !== 'dashboard');
  if (jestTiers.length > 0) jestArgs.push('--selectProjects', ...jestTiers);
  const dashboardSelected =
    selected.length === 0 || selected.includes('dashboard') || selected.includes('unit');
  const dashboardPath = patterns.length === 0 || patterns.some((pattern) => DASHBOARD_PATH.test(pattern));
  return {
    dashboard: dashboardSelected && dashboardPath,
    vitestArgs,
    // Jest fails a run that matches no file: skip it when every pattern points into the dashboard.
    jest:
      (selected.length === 0 || jestTiers.length > 0) &&
      (patterns.length === 0 || !patterns.every((pattern) => DASHBOARD_PATH.test(pattern))),
    jestArgs,
  };
}
