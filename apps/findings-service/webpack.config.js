const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

module.exports = nodeAppConfig({
  projectRoot: 'apps/findings-service',
  outputPath: 'dist/apps/findings-service',
});
