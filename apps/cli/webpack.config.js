const { chmodSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const TsconfigPathsPlugin = require('tsconfig-paths-webpack-plugin');
const webpack = require('webpack');

const workspaceRoot = join(__dirname, '../..');
const outputPath = join(workspaceRoot, 'dist/apps/cli');
const tsConfig = join(__dirname, 'tsconfig.app.json');

/**
 * The `gatehouse` CLI is installed on CI runners that have Node.js and nothing else: unlike the services (npm
 * packages left external, installed from the lockfile in their image), every package it uses is bundled into the
 * one file, so `npm pack` of dist/apps/cli gives a package with no dependencies, installable offline.
 */
class CliPackagePlugin {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CliPackagePlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'CliPackagePlugin', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          const source = JSON.parse(readFileSync(join(__dirname, 'package.json'), 'utf8'));
          const manifest = {
            name: source.name,
            version: source.version,
            description: source.description,
            license: source.license,
            bin: source.bin,
            engines: source.engines,
            files: ['main.js', 'README.md'],
          };
          compilation.emitAsset(
            'package.json',
            new webpack.sources.RawSource(JSON.stringify(manifest, null, 2) + '\n'),
          );
          compilation.emitAsset(
            'README.md',
            new webpack.sources.RawSource(readFileSync(join(workspaceRoot, 'docs/CLI.md'))),
          );
        },
      );
    });
    // npx and npm link the bin to this file: it must stay executable after every rebuild.
    compiler.hooks.afterEmit.tap('CliPackagePlugin', () => chmodSync(join(outputPath, 'main.js'), 0o755));
  }
}

module.exports = {
  mode: 'production',
  target: 'node20',
  context: workspaceRoot,
  entry: join(__dirname, 'src/main.ts'),
  output: { path: outputPath, filename: 'main.js', clean: true },
  devtool: false,
  optimization: { minimize: false, nodeEnv: false },
  externalsPresets: { node: true },
  resolve: {
    extensions: ['.ts', '.js', '.json'],
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
    new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true }),
    new CliPackagePlugin(),
  ],
  performance: { hints: false },
  stats: 'errors-warnings',
};
