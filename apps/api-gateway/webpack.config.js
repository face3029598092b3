const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

module.exports = nodeAppConfig({ projectRoot: 'apps/api-gateway', outputPath: 'dist/apps/api-gateway' });
