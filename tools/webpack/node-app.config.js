const { basename, join } = require('node:path');
const TsconfigPathsPlugin = require('tsconfig-paths-webpack-plugin');
const nodeExternals = require('webpack-node-externals');
const { ProductionManifestPlugin } = require('./production-manifest.plugin');

const workspaceRoot = join(__dirname, '../..');

/**
 * One bundle per deployable: the project's code and the libs it imports, with every npm package left external
 * (installed from the lockfile in the image). ts-loader keeps `emitDecoratorMetadata`, which Nest's dependency
 * injection needs; types are checked once for the whole repo by `npm run typecheck`. Beside the bundle go its
 * package.json and pruned package-lock.json (see ProductionManifestPlugin): what the image installs.
 * `lazyDependencies`: packages the bundle loads only through `await import()` that this app's image must still have.
 */
function nodeAppConfig({ projectRoot, outputPath, lazyDependencies = [] }) {
  const tsConfig = join(workspaceRoot, projectRoot, 'tsconfig.app.json');
  return {
    mode: 'production',
    target: 'node24',
    context: workspaceRoot,
    entry: join(workspaceRoot, projectRoot, 'src/main.ts'),
    output: { path: join(workspaceRoot, outputPath), filename: 'main.js', clean: true },
    devtool: 'source-map',
    // NODE_ENV is configuration read at run time, not a constant to bake into the bundle.
    optimization: { minimize: false, nodeEnv: false },
    externalsPresets: { node: true },
    externals: [nodeExternals({ modulesDir: join(workspaceRoot, 'node_modules') })],
    resolve: {
      extensions: ['.ts', '.js'],
      // The paths of tsconfig.base.json are relative to the workspace root (no baseUrl, which TypeScript 6 deprecates).
      plugins: [new TsconfigPathsPlugin({ configFile: tsConfig, baseUrl: workspaceRoot })],
    },
    module: {
      rules: [
        {
          test: /\.ts$/,
          loader: 'ts-loader',
          exclude: /node_modules/,
          options: { configFile: tsConfig, transpileOnly: true },
        },
      ],
    },
    plugins: [
      new ProductionManifestPlugin({ workspaceRoot, project: basename(projectRoot), lazyDependencies }),
    ],
    performance: { hints: false },
    stats: 'errors-warnings',
  };
}

module.exports = { nodeAppConfig };
