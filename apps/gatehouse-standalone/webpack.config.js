const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

// Bundles the host only: it loads the four apps' own bundles (dist/apps/<app>/main.js) at run time.
// So its package.json lists the host's packages only; standalone mode runs on the repository's node_modules (no image).
module.exports = nodeAppConfig({
  projectRoot: 'apps/gatehouse-standalone',
  outputPath: 'dist/apps/gatehouse-standalone',
  // The embedded database: opened on demand, so the manifest names it.
  lazyDependencies: ['@electric-sql/pglite'],
});
