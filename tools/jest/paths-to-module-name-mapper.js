/** Turns tsconfig `paths` ("@gatehouse/x": ["./libs/x/src/index.ts"], relative to the root) into Jest's moduleNameMapper. */
function pathsToModuleNameMapper(paths, prefix) {
  return Object.fromEntries(
    Object.entries(paths).map(([alias, [target]]) => [
      `^${alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`,
      prefix + target.replace(/^\.\//, ''),
    ]),
  );
}

module.exports = { pathsToModuleNameMapper };
