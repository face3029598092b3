const preset = require('./jest.preset.js');

/**
 * Four tiers, run in this order by `npm test`:
 * - unit: `*.spec.ts` beside the code, no I/O;
 * - integration: `*.int-spec.ts` against the real PostgreSQL and Redis, each file in its own migrated database;
 * - e2e: `*.e2e-spec.ts`, the built apps started as processes and driven over HTTP;
 * - browser: `*.browser-spec.ts`, the built dashboard behind the built apps, driven in Chromium (playwright-core).
 */
/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...preset,
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'],
    },
    {
      ...preset,
      displayName: 'integration',
      rootDir: __dirname,
      setupFilesAfterEnv: ['<rootDir>/tools/jest/slow-tier.setup.js'],
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts'],
    },
    {
      ...preset,
      displayName: 'e2e',
      rootDir: __dirname,
      setupFilesAfterEnv: ['<rootDir>/tools/jest/slow-tier.setup.js'],
      testMatch: ['<rootDir>/apps/*-e2e/**/*.e2e-spec.ts'],
    },
    {
      ...preset,
      displayName: 'browser',
      rootDir: __dirname,
      setupFilesAfterEnv: ['<rootDir>/tools/jest/slow-tier.setup.js'],
      testMatch: ['<rootDir>/apps/dashboard-e2e/src/**/*.browser-spec.ts'],
    },
  ],
};
