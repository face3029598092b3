const { nodeAppConfig } = require('../../tools/webpack/node-app.config');

module.exports = nodeAppConfig({ projectRoot: 'apps/auth-service', outputPath: 'dist/apps/auth-service' });
