const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

module.exports = nodeAppConfig({
  projectRoot: 'tools/gatehouse-cli',
  outputPath: 'dist/tools/gatehouse-cli',
});
