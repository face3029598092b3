#!/usr/bin/env node
// `npm test`: the three tiers in one Jest run (unit, integration, e2e), then one plain summary line. Arguments go
// to Jest, except --help, which prints this script's own usage.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `Usage: npm test [-- <jest arguments>]      (builds the apps first)
       node tools/scripts/test.mjs [<jest arguments>]

Runs the three test tiers of jest.config.js in one Jest run, in TZ=UTC, then prints one plain summary line
("N passed, N failed"):
  unit          *.spec.ts beside the code, no I/O
  integration   *.int-spec.ts, against PostgreSQL and Redis (TEST_POSTGRES_URL, TEST_REDIS_URL)
  e2e           apps/*-e2e/**/*.e2e-spec.ts, the built apps over HTTP

Every argument is passed to Jest as it is, for example:
  npm test -- --selectProjects unit                       one tier
  npm test -- apps/gatehouse-e2e/src/readme --selectProjects e2e
                                                           files whose path matches, in one tier (path first)
  npm test -- -t 'refuses an expired key'                 tests whose name matches

Jest's own options: npx jest --help. Exit status: Jest's (0 when every test passed).
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const results = join(root, 'tmp/jest-results.json');
mkdirSync(dirname(results), { recursive: true });

const jest = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules/jest/bin/jest.js'),
    '--config',
    join(root, 'jest.config.js'),
    '--json',
    `--outputFile=${results}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env: { ...process.env, TZ: 'UTC' } },
);

try {
  const summary = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = summary.numPendingTests + summary.numTodoTests;
  process.stdout.write(
    `\n${summary.numPassedTests} passed, ${summary.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
  );
} catch {
  process.stdout.write('\nno test results were written\n');
}
process.exit(jest.status ?? 1);
