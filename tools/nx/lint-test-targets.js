const { dirname } = require('node:path');

/**
 * Gives every project (each `project.json`) a `lint` and a `test` target, so that `nx affected -t lint test` checks
 * just what a change can reach. Inferred here rather than written into 23 project.json files: one definition, and
 * a new project gets both without anyone remembering to add them.
 *
 * - lint: ESLint on the project's folder, zero warnings. Typed rules read the types of the libraries it imports,
 *   hence `^production` in its inputs.
 * - test: the unit tier only (`*.spec.ts` under the folder). Integration and e2e need PostgreSQL, Redis and the
 *   built apps; `npm test` runs them.
 */
const LINT_INPUTS = [
  'default',
  '^production',
  '{workspaceRoot}/eslint.config.mjs',
  '{workspaceRoot}/tsconfig*.json',
];
const TEST_INPUTS = [
  'default',
  '^production',
  '{workspaceRoot}/jest.config.js',
  '{workspaceRoot}/jest.preset.js',
  '{workspaceRoot}/tsconfig.spec.json',
  '{workspaceRoot}/tools/jest/**/*',
];

function targetsFor(root) {
  return {
    lint: {
      executor: 'nx:run-commands',
      cache: true,
      inputs: LINT_INPUTS,
      outputs: [],
      options: { command: `eslint ${root} --max-warnings 0` },
    },
    test: {
      executor: 'nx:run-commands',
      cache: true,
      inputs: TEST_INPUTS,
      outputs: [],
      // One Jest run at a time: Jest spreads its files over workers already, and two runs on two cores slowed
      // timing-bound tests (the gzip-bomb one) past their limit.
      parallelism: false,
      options: {
        // TZ as `npm run test:unit` sets it; --passWithNoTests for a project without unit tests (yet).
        command: `jest --config jest.config.js --selectProjects unit --passWithNoTests ${root}/`,
        env: { TZ: 'UTC' },
      },
    },
  };
}

const createNodes = [
  '**/project.json',
  async (configFiles) =>
    configFiles
      .filter((file) => dirname(file) !== '.')
      .map((file) => [file, { projects: { [dirname(file)]: { targets: targetsFor(dirname(file)) } } }]),
];

module.exports = { createNodes, createNodesV2: createNodes };
