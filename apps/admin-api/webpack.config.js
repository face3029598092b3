const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

module.exports = nodeAppConfig({ projectRoot: 'apps/admin-api', outputPath: 'dist/apps/admin-api' });
