import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type BootstrapOutput,
  createDataDir,
  request,
  type StandaloneSuite,
  startStandalone,
  tokenFor,
  WORKSPACE_ROOT,
} from '@gatehouse/testing';

const run = promisify(execFile);

/** The URL the README's commands use: `npm start`'s gateway. */
const README_GATEWAY = 'http://127.0.0.1:8080';

/** The text of a `## ` section of a Markdown document, up to the next one. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The fenced bash blocks of a Markdown text, in order. */
function bashBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

interface ShellRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The README's quick start, run as written: the commands it shows after `npm start` (bootstrap into owner.json,
 * a token, one uploaded finding) are taken from README.md's fenced bash blocks, and run by bash, twice, in a
 * temporary directory standing for the repository root, against the standalone suite (what `npm start` runs
 * without DATABASE_URL and REDIS_URL) on private ports: the only change made to them is the gateway's URL.
 *
 * Not run here: `npm ci` and `npm start` (the suite is started from the built dist/, as `npm start` does after
 * building, on free ports instead of 8080), and `npm test` (this file is part of it). `npm run bootstrap -- ARGS` is
 * what package.json says it is after its build step: `node dist/tools/gatehouse-cli/main.js bootstrap ARGS`, run
 * in the directory the commands run in (npm runs scripts in the repository root); the test checks that the script
 * still says so.
 */
describe('the README quick start, as written', () => {
  const readme = readFileSync(join(WORKSPACE_ROOT, 'README.md'), 'utf8');
  const quickStart = section(readme, '## Quick start');
  const blocks = bashBlocks(quickStart);
  const firstFinding = blocks.find((block) => block.includes('npm run bootstrap'));
  const pipelineUpload = blocks.find((block) => block.includes('npx gatehouse upload'));
  const dataDir = createDataDir();
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
  let suite: StandaloneSuite;

  /** The commands as a reader pastes them into a terminal: no `set -e`, one after the other. */
  const runFirstFinding = async (): Promise<ShellRun> => {
    const cli = join(WORKSPACE_ROOT, 'dist/tools/gatehouse-cli/main.js');
    const npm = [
      'npm() {',
      '  if [ "$1" = run ] && [ "$2" = bootstrap ] && [ "$3" = -- ]; then',
      `    shift 3; node '${cli}' bootstrap "$@"`,
      '  else echo "the README test runs no npm $*" >&2; return 127; fi',
      '}',
    ].join('\n');
    const script = `${npm}\n${(firstFinding ?? '').replaceAll(README_GATEWAY, suite.gateway)}`;
    try {
      const { stdout, stderr } = await run('bash', ['-c', script], {
        cwd: workDir,
        env: { PATH: process.env['PATH'] ?? '', TZ: 'UTC', HOME: workDir, GATEHOUSE_DATA_DIR: dataDir.path },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  /**
   * The CLI block, as written but for the gateway's URL: `npx gatehouse` is what the root package.json's `bin`
   * names, the built bundle (dist/apps/cli/main.js), run in the directory holding owner.json and results.sarif.
   */
  const runPipelineUpload = async (): Promise<ShellRun> => {
    const cli = join(WORKSPACE_ROOT, 'dist/apps/cli/main.js');
    const npx = [
      'npx() {',
      `  if [ "$1" = gatehouse ]; then shift; node '${cli}' "$@"`,
      '  else echo "the README test runs no npx $*" >&2; return 127; fi',
      '}',
    ].join('\n');
    const script = `${npx}\n${(pipelineUpload ?? '').replaceAll(README_GATEWAY, suite.gateway)}`;
    try {
      const { stdout, stderr } = await run('bash', ['-c', script], {
        cwd: workDir,
        env: { PATH: process.env['PATH'] ?? '', TZ: 'UTC', HOME: workDir },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  const findingsOf = async (owner: BootstrapOutput) => {
    const token = await tokenFor(suite.gateway, owner.api_key, owner.client_id);
    const response = await request<{ data: { rule_id: string; severity: string; state: string }[] }>(
      `${suite.gateway}/api/v1/findings?limit=100`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(response.status).toBe(200);
    return response.body.data;
  };

  beforeAll(async () => {
    suite = await startStandalone(dataDir.path);
  });

  afterAll(async () => {
    await suite?.stop();
    dataDir.remove();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('stays short, and starts with npm ci and npm start, the gateway on the URL its commands use', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    expect(blocks[0]).toMatch(/^npm ci\nnpm start\b/);
    expect(blocks[0]).toContain(README_GATEWAY);
    expect(firstFinding).toBeDefined();
    expect(firstFinding).toContain(`${README_GATEWAY}/api/v1/findings`);
  });

  it('bootstraps with the command package.json runs after its build, into a git-ignored file', () => {
    const scripts = (
      JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts['bootstrap']).toMatch(/&& node dist\/tools\/gatehouse-cli\/main\.js bootstrap$/);
    expect(firstFinding).toMatch(/npm run bootstrap -- .*--out owner\.json/);
    // `git check-ignore` exits 0 when the path is ignored (it reads .gitignore; nothing is written).
    expect(() =>
      execFileSync('git', ['check-ignore', '-q', 'owner.json'], { cwd: WORKSPACE_ROOT }),
    ).not.toThrow();
  });

  it('gets the first finding in: the key owner-only in owner.json, a token, the upload answered 201', async () => {
    const first = await runFirstFinding();
    expect(first.stderr).toContain('owner key of acme written to owner.json');
    expect(first.code).toBe(0);
    const ownerFile = join(workDir, 'owner.json');
    expect(statSync(ownerFile).mode & 0o777).toBe(0o600);
    const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as BootstrapOutput;
    expect(owner.api_key).toMatch(/^gth_live_/);
    // The secret is in the file only, never on the terminal.
    expect(first.stdout + first.stderr).not.toContain(owner.api_key);

    const upload = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(upload).toMatchObject({ status: 'completed', results: 1, new: 1 });
    const findings = await findingsOf(owner);
    expect(findings).toEqual([
      expect.objectContaining({ rule_id: 'CKV_AWS_20', severity: 'high', state: 'open' }),
    ]);
  });

  it('is safe to run again: bootstrap refuses to touch owner.json, the key still works, nothing is doubled', async () => {
    const ownerFile = join(workDir, 'owner.json');
    const before = readFileSync(ownerFile, 'utf8');

    const again = await runFirstFinding();
    expect(again.stderr).toContain('owner.json exists; bootstrap never overwrites a file');
    expect(readFileSync(ownerFile, 'utf8')).toBe(before);
    expect(statSync(ownerFile).mode & 0o777).toBe(0o600);

    // The rest of the block goes on with the key kept in owner.json: the same finding, seen again.
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'completed', results: 1, new: 0, unchanged: 1 });
    const owner = JSON.parse(before) as BootstrapOutput;
    expect(await findingsOf(owner)).toHaveLength(1);
  });

  it("uploads a scanner's SARIF with the CLI block, gated below critical, and twice stores it once", async () => {
    const pipelineBin = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pipelineBin.bin['gatehouse']).toBe('dist/apps/cli/main.js');
    writeFileSync(
      join(workDir, 'results.sarif'),
      JSON.stringify({
        version: '2.1.0',
        runs: [
          {
            tool: { driver: { name: 'checkov', rules: [{ id: 'CKV_AWS_21' }] } },
            results: [
              {
                ruleId: 'CKV_AWS_21',
                level: 'error',
                message: { text: 'S3 bucket has no versioning' },
                locations: [{ physicalLocation: { artifactLocation: { uri: 'infra/s3.tf' } } }],
              },
            ],
          },
        ],
      }),
    );

    const first = await runPipelineUpload();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const again = await runPipelineUpload();
    expect(again.code).toBe(0);
    const owner = JSON.parse(readFileSync(join(workDir, 'owner.json'), 'utf8')) as BootstrapOutput;
    // The key is read from owner.json by the command itself, never shown.
    expect(first.stdout + again.stdout).not.toContain(owner.api_key);
    const checkov = (await findingsOf(owner)).filter((finding) => finding.rule_id === 'CKV_AWS_21');
    expect(checkov).toEqual([expect.objectContaining({ state: 'open' })]);
  });
});
