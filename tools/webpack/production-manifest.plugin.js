const { builtinModules } = require('node:module');
const { execFile } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { copyFile, mkdtemp, readFile, rm, writeFile } = require('node:fs/promises');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { promisify } = require('node:util');
const webpack = require('webpack');

const BUILTINS = new Set(builtinModules);
const execFileAsync = promisify(execFile);

/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`; undefined for Node's own modules. */
function packageNameOf(request) {
  const path = Array.isArray(request) ? request[0] : request;
  if (typeof path !== 'string' || path.startsWith('node:') || path.startsWith('.') || path.startsWith('/')) {
    return undefined;
  }
  const parts = path.split('/');
  const name = path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return BUILTINS.has(name) ? undefined : name;
}

/**
 * Writes the bundle's own package.json and a package-lock.json pruned to what the bundle requires, so that an
 * image installs exactly those packages (`npm ci --omit=dev`) instead of the whole repository's.
 *
 * The list comes from the externals in webpack's module graph, not from a hand-kept list, so a new import cannot
 * be forgotten. A package the bundle reaches only through `await import()` is loaded on demand (PGlite: the
 * embedded database, only for standalone mode): it joins the manifest only when the app names it in
 * `lazyDependencies`; elsewhere the code path that loads it is not one the image runs.
 *
 * Versions are the lockfile's (the ones every test ran against), pruned by npm (see prunedLockfile).
 */
class ProductionManifestPlugin {
  constructor({ workspaceRoot, project, lazyDependencies = [] }) {
    this.workspaceRoot = workspaceRoot;
    this.project = project;
    this.lazyDependencies = new Set(lazyDependencies);
  }

  apply(compiler) {
    compiler.hooks.thisCompilation.tap('ProductionManifestPlugin', (compilation) => {
      compilation.hooks.processAssets.tapPromise(
        { name: 'ProductionManifestPlugin', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        async () => {
          try {
            await this.emit(compilation);
          } catch (error) {
            compilation.errors.push(new webpack.WebpackError(`production manifest: ${error.message}`));
          }
        },
      );
    });
  }

  async emit(compilation) {
    const rootManifest = JSON.parse(readFileSync(join(this.workspaceRoot, 'package.json'), 'utf8'));
    const rootLock = JSON.parse(readFileSync(join(this.workspaceRoot, 'package-lock.json'), 'utf8'));
    const eager = new Set();
    const lazy = new Set();
    for (const module of compilation.modules) {
      if (!(module instanceof webpack.ExternalModule)) continue;
      const name = packageNameOf(module.request);
      if (!name) continue;
      const connections = [...compilation.moduleGraph.getIncomingConnections(module)];
      const onDemandOnly =
        connections.length > 0 && connections.every((c) => c.dependency?.type === 'import()');
      (onDemandOnly ? lazy : eager).add(name);
    }
    for (const name of this.lazyDependencies) {
      if (!lazy.has(name) && !eager.has(name)) {
        throw new Error(`${this.project} names ${name} in lazyDependencies, but its bundle never loads it`);
      }
    }
    const names = [...eager, ...[...lazy].filter((name) => this.lazyDependencies.has(name))].sort();
    const dependencies = {};
    for (const name of names) {
      const locked = rootLock.packages[`node_modules/${name}`];
      if (!locked?.version)
        throw new Error(`${name} is required by the bundle but absent from package-lock.json`);
      if (locked.dev) throw new Error(`${name} is required by the bundle but is a devDependency: move it`);
      dependencies[name] = locked.version;
    }
    const manifest = {
      name: `@gatehouse/${this.project}`,
      version: rootManifest.version,
      private: true,
      license: rootManifest.license,
      main: 'main.js',
      engines: rootManifest.engines,
      dependencies,
    };
    const lockfile = await prunedLockfile(this.workspaceRoot, manifest);
    compilation.emitAsset(
      'package.json',
      new webpack.sources.RawSource(JSON.stringify(manifest, null, 2) + '\n'),
    );
    compilation.emitAsset('package-lock.json', new webpack.sources.RawSource(lockfile));
  }
}

/**
 * npm itself prunes the repository's lockfile to the manifest (`--package-lock-only`: no download, no install), so
 * every version, nested copy and integrity hash is the one the tests ran against. (Nx's createLockFile was tried
 * first: it drops packages nested two levels deep, such as typeorm/node_modules/cliui/node_modules/string-width,
 * and `npm ci` then refuses the lockfile.)
 */
async function prunedLockfile(workspaceRoot, manifest) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-manifest-'));
  try {
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    await copyFile(join(workspaceRoot, 'package-lock.json'), join(dir, 'package-lock.json'));
    await execFileAsync(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      { cwd: dir, env: { ...process.env, npm_config_loglevel: 'error' } },
    );
    return await readFile(join(dir, 'package-lock.json'), 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

module.exports = { ProductionManifestPlugin, packageNameOf };
