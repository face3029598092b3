import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WORKSPACE_ROOT } from '@gatehouse/testing';
import { CLI_VERSION, runProcess } from './support/gatehouse-cli';

/**
 * How the CLI reaches pipelines: `npm pack` of the build gives a package that installs with only Node.js and npm,
 * offline (everything is in its one file), and `npx gatehouse` works in a checkout after `npm run build`.
 */
describe('the gatehouse CLI package', () => {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-cli-package-'));
  /** Only what a bare runner has: node and npm on PATH, a home, an empty npm cache, and no network for npm. */
  const bareEnv = {
    PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HOME: home,
    npm_config_cache: join(home, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  let tarball: string;

  beforeAll(async () => {
    const packed = await runProcess('npm', ['pack', join(WORKSPACE_ROOT, 'dist/apps/cli'), '--json'], {
      cwd: home,
      env: bareEnv,
    });
    expect(packed.code).toBe(0);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    expect(info.files.map((file) => file.path).sort()).toEqual(['README.md', 'main.js', 'package.json']);
    tarball = join(home, info.filename);
  });

  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('has a bin, a version and no dependencies to install', () => {
    const manifest = JSON.parse(
      readFileSync(join(WORKSPACE_ROOT, 'dist/apps/cli/package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(manifest).toMatchObject({ version: CLI_VERSION, bin: { gatehouse: 'main.js' } });
    expect(manifest['dependencies']).toBeUndefined();
    expect(manifest['devDependencies']).toBeUndefined();
  });

  it('installs globally offline from the tarball and runs from anywhere', async () => {
    const prefix = join(home, 'global');
    const installed = await runProcess('npm', ['install', '--global', '--prefix', prefix, tarball], {
      cwd: home,
      env: bareEnv,
    });
    expect(installed.code).toBe(0);
    const version = await runProcess(join(prefix, 'bin/gatehouse'), ['--version'], {
      cwd: home,
      env: bareEnv,
    });
    expect(version).toMatchObject({ code: 0, stdout: `${CLI_VERSION}\n` });
    const help = await runProcess(join(prefix, 'bin/gatehouse'), ['upload', '--help'], {
      cwd: home,
      env: bareEnv,
    });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: gatehouse upload');
  });

  it('runs as `npx gatehouse` in the repository root after the build, in a fresh shell', async () => {
    const run = await runProcess('npx', ['gatehouse', '--version'], { cwd: WORKSPACE_ROOT, env: bareEnv });
    expect(run).toMatchObject({ code: 0, stdout: `${CLI_VERSION}\n` });
  });
});
