const { pathsToModuleNameMapper } = require('./tools/jest/paths-to-module-name-mapper');
const { compilerOptions } = require('./tsconfig.base.json');

/**
 * Shared by every test tier. ts-jest transpiles file by file (isolatedModules in tsconfig.spec.json), keeping
 * decorator metadata for Nest's dependency injection; types are checked by `npm run typecheck`.
 */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(ts|js|mjs)$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', diagnostics: false }],
  },
  // jose, content-disposition (under @fastify/static) and oidc-provider ship ESM only; everything else in node_modules is
  // CommonJS already. The pattern looks at the innermost node_modules only, so a nested copy is transformed too.
  transformIgnorePatterns: [
    '/node_modules/(?!(?:jose|content-disposition|oidc-provider)/)(?!.*/node_modules/)',
  ],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, '<rootDir>/'),
  clearMocks: true,
};
