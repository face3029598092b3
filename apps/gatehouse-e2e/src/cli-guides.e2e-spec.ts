import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { startSuite, WORKSPACE_ROOT, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';
import {
  accessToken,
  credentialEnv,
  errorBody,
  gatehouse,
  runProcess,
  scansOf,
  startFaultProxy,
  type CliRun,
  type FaultProxy,
} from './support/gatehouse-cli';
import { sarifLog } from './support/sarif-documents';

/**
 * The CI guides of docs/ci, run as written: each pipeline's shell steps, with the variables its CI sets, the
 * settings the guide asks for, the CLI installed the way the guide installs it (from the tarball `npm pack` makes,
 * npm offline), against the running suite. The scan stored must carry the job's repository, commit and ref.
 */

/** A fenced block of a document by its `title="…"` (the file a reader copies it into), without its indentation. */
function fencedBlock(document: string, title: string): string {
  const text = readFileSync(join(WORKSPACE_ROOT, document), 'utf8');
  const blocks = [...text.matchAll(/^( *)```[\w-]+ title="([^"]+)"\n([\s\S]*?)^\1```$/gm)];
  const found = blocks.find((block) => block[2] === title);
  if (!found) throw new Error(`${document} has no block titled ${title}`);
  const indent = found[1].length;
  return found[3]
    .split('\n')
    .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
    .join('\n');
}

interface Job {
  repository: string;
  commit: string;
  ref: string;
}

interface Runner {
  /** Where the job runs: the checkout, with the scanner's results.sarif. */
  workspace: string;
  /** The runner's own environment: PATH with node and npm, HOME, npm's cache and no network for npm. */
  env: Record<string, string>;
}

/** The settings every guide asks for, and where the CLI package is. */
interface Settings {
  GATEHOUSE_API_URL: string;
  GATEHOUSE_CLIENT_ID: string;
  GATEHOUSE_API_KEY: string;
  GATEHOUSE_CLI_PACKAGE: string;
}

interface Guide {
  ci: string;
  document: string;
  title: string;
  job: Job;
  /** Runs the guide's steps that call gatehouse; the last run's result. */
  run(block: string, runner: Runner, settings: Settings): Promise<CliRun>;
}

async function runSteps(
  steps: { shell: string[]; script: string; env: Record<string, string> }[],
  runner: Runner,
) {
  expect(steps.length).toBeGreaterThan(0);
  let last: CliRun = { code: 0, stdout: '', stderr: '' };
  for (const step of steps) {
    last = await runProcess(step.shell[0], [...step.shell.slice(1), step.script], {
      cwd: runner.workspace,
      env: { ...runner.env, ...step.env },
    });
    if (last.code !== 0) return last;
  }
  return last;
}

/** GitHub's `${{ … }}`: `secrets.X`, `vars.X`, `env.X` and `'literal'`, alternatives joined by `||`. */
function githubExpression(value: string, contexts: Record<string, Record<string, string>>): string {
  return value.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expression: string) => {
    for (const term of expression.split('||').map((part) => part.trim())) {
      const literal = /^'(.*)'$/.exec(term);
      if (literal) return literal[1];
      const reference = /^(secrets|vars|env)\.(\w+)$/.exec(term);
      if (!reference) throw new Error(`unsupported expression in the guide: ${expression}`);
      const found = contexts[reference[1]][reference[2]];
      if (found) return found;
    }
    return '';
  });
}

const resolveAll = (values: Record<string, string> | undefined, resolve: (value: string) => string) =>
  Object.fromEntries(Object.entries(values ?? {}).map(([name, value]) => [name, resolve(String(value))]));

const GUIDES: Guide[] = [
  {
    ci: 'github-actions',
    document: 'docs/ci/github-actions.md',
    title: '.github/workflows/security.yml',
    job: {
      repository: 'acme/guide-github',
      commit: '1111111111111111111111111111111111111111',
      ref: 'refs/pull/5/merge',
    },
    async run(block, runner, settings) {
      const workflow = parse(block) as {
        env?: Record<string, string>;
        jobs: Record<
          string,
          { env?: Record<string, string>; steps: { run?: string; env?: Record<string, string> }[] }
        >;
      };
      const [job] = Object.values(workflow.jobs);
      const contexts = {
        secrets: { GATEHOUSE_API_KEY: settings.GATEHOUSE_API_KEY },
        vars: {
          GATEHOUSE_API_URL: settings.GATEHOUSE_API_URL,
          GATEHOUSE_CLIENT_ID: settings.GATEHOUSE_CLIENT_ID,
          GATEHOUSE_CLI_PACKAGE: settings.GATEHOUSE_CLI_PACKAGE,
        },
        env: {} as Record<string, string>,
      };
      const resolve = (value: string) => githubExpression(value, contexts);
      const jobEnv = { ...resolveAll(workflow.env, resolve), ...resolveAll(job.env, resolve) };
      contexts.env = jobEnv;
      const ciEnv = {
        GITHUB_ACTIONS: 'true',
        CI: 'true',
        GITHUB_REPOSITORY: this.job.repository,
        GITHUB_SHA: this.job.commit,
        GITHUB_REF: this.job.ref,
        GITHUB_WORKSPACE: runner.workspace,
      };
      return runSteps(
        job.steps
          .filter((step) => step.run?.includes('gatehouse'))
          .map((step) => ({
            // GitHub's default shell on Linux runners.
            shell: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c'],
            script: step.run ?? '',
            env: { ...ciEnv, ...jobEnv, ...resolveAll(step.env, resolve) },
          })),
        runner,
      );
    },
  },
  {
    ci: 'gitlab-ci',
    document: 'docs/ci/gitlab-ci.md',
    title: '.gitlab-ci.yml',
    job: {
      repository: 'acme/platform/guide-gitlab',
      commit: '2222222222222222222222222222222222222222',
      ref: 'refs/heads/main',
    },
    async run(block, runner, settings) {
      const pipeline = parse(block) as Record<
        string,
        { script?: string[]; before_script?: string[]; variables?: Record<string, string> }
      >;
      const jobs = Object.values(pipeline).filter((job) =>
        job.script?.some((line) => line.includes('gatehouse')),
      );
      const ciEnv = {
        GITLAB_CI: 'true',
        CI: 'true',
        CI_PROJECT_DIR: runner.workspace,
        CI_PROJECT_PATH: this.job.repository,
        CI_COMMIT_SHA: this.job.commit,
        CI_COMMIT_BRANCH: 'main',
        CI_COMMIT_REF_NAME: 'main',
      };
      return runSteps(
        jobs.map((job) => ({
          shell: ['bash', '-e', '-c'],
          script: [...(job.before_script ?? []), ...(job.script ?? [])].join('\n'),
          // Project variables (Settings → CI/CD) win over the file's `variables`.
          env: { ...ciEnv, ...job.variables, ...settings },
        })),
        runner,
      );
    },
  },
  {
    ci: 'jenkins',
    document: 'docs/ci/jenkins.md',
    title: 'Jenkinsfile',
    job: {
      repository: 'acme/guide-jenkins',
      commit: '3333333333333333333333333333333333333333',
      ref: 'refs/heads/main',
    },
    async run(block, runner, settings) {
      const environment = /environment\s*\{([^}]*)\}/.exec(block)?.[1] ?? '';
      const declared = Object.fromEntries(
        [...environment.matchAll(/(\w+)\s*=\s*'([^']*)'/g)].map((match) => [match[1], match[2]]),
      );
      // The guide's placeholders are what a reader replaces with their own values.
      expect(Object.keys(declared).sort()).toEqual([
        'GATEHOUSE_API_URL',
        'GATEHOUSE_CLIENT_ID',
        'GATEHOUSE_CLI_PACKAGE',
      ]);
      const credentials: Record<string, string> = { 'gatehouse-api-key': settings.GATEHOUSE_API_KEY };
      const bound = Object.fromEntries(
        [...block.matchAll(/string\(credentialsId: '([^']+)', variable: '(\w+)'\)/g)].map((match) => [
          match[2],
          credentials[match[1]],
        ]),
      );
      expect(bound).toEqual({ GATEHOUSE_API_KEY: settings.GATEHOUSE_API_KEY });
      const { GATEHOUSE_API_KEY: _secret, ...edited } = settings;
      const ciEnv = {
        JENKINS_URL: 'https://jenkins.example.com/',
        BUILD_NUMBER: '12',
        WORKSPACE: runner.workspace,
        GIT_URL: `https://github.com/${this.job.repository}.git`,
        GIT_COMMIT: this.job.commit,
        GIT_BRANCH: 'origin/main',
      };
      return runSteps(
        [...block.matchAll(/sh\s+'''([\s\S]*?)'''/g)]
          .map((match) => match[1])
          .filter((script) => script.includes('gatehouse'))
          .map((script) => ({
            // How Jenkins runs `sh`: traced, stopping at the first failure.
            shell: ['sh', '-xe', '-c'],
            script,
            env: { ...ciEnv, ...declared, ...edited, ...bound },
          })),
        runner,
      );
    },
  },
  {
    ci: 'azure-pipelines',
    document: 'docs/ci/azure-pipelines.md',
    title: 'azure-pipelines.yml',
    job: {
      repository: 'acme/guide-azure',
      commit: '4444444444444444444444444444444444444444',
      ref: 'refs/pull/9/merge',
    },
    async run(block, runner, settings) {
      const pipeline = parse(block) as {
        variables: ({ group: string } | { name: string; value: string })[];
        steps: { script?: string; env?: Record<string, string> }[];
      };
      const groups: Record<string, { plain: Record<string, string>; secret: Record<string, string> }> = {
        gatehouse: {
          plain: {
            GATEHOUSE_API_URL: settings.GATEHOUSE_API_URL,
            GATEHOUSE_CLIENT_ID: settings.GATEHOUSE_CLIENT_ID,
          },
          secret: { GATEHOUSE_API_KEY: settings.GATEHOUSE_API_KEY },
        },
      };
      const plain: Record<string, string> = {
        'Build.Repository.Name': this.job.repository,
        'Build.SourceVersion': this.job.commit,
        'Build.SourceBranch': this.job.ref,
        'Pipeline.Workspace': runner.workspace,
        TF_BUILD: 'True',
      };
      const secret: Record<string, string> = {};
      for (const entry of pipeline.variables) {
        if ('group' in entry) {
          Object.assign(plain, groups[entry.group].plain);
          Object.assign(secret, groups[entry.group].secret);
        } else {
          // The reader's value: where their pipelines install the CLI from.
          plain[entry.name] =
            entry.name === 'GATEHOUSE_CLI_PACKAGE' ? settings.GATEHOUSE_CLI_PACKAGE : entry.value;
        }
      }
      const macro = (value: string) =>
        value.replace(/\$\(([\w.]+)\)/g, (_, name: string) => {
          const found = plain[name] ?? secret[name];
          if (found === undefined) throw new Error(`the guide uses $(${name}), which nothing defines`);
          return found;
        });
      // Plain variables reach scripts as environment variables (upper case, `.` → `_`); secrets only via `env:`.
      const variablesEnv = Object.fromEntries(
        Object.entries(plain).map(([name, value]) => [name.toUpperCase().replace(/\./g, '_'), value]),
      );
      return runSteps(
        pipeline.steps
          .filter((step) => step.script?.includes('gatehouse'))
          .map((step) => ({
            // Azure runs a script step's file with bash, without -e.
            shell: ['bash', '--noprofile', '--norc', '-c'],
            script: macro(step.script ?? ''),
            env: { ...variablesEnv, ...resolveAll(step.env, macro) },
          })),
        runner,
      );
    },
  },
];

describe('the CI guides, run as written', () => {
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let ownerToken: string;
  let pipelineKey: { api_key: string; client_id: string };
  let tarball: string;
  let root: string;
  let proxy: FaultProxy | undefined;

  const runner = (): Runner => {
    const home = mkdtempSync(join(root, 'runner-'));
    return {
      workspace: mkdtempSync(join(home, 'workspace-')),
      env: {
        PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
        HOME: home,
        npm_config_cache: join(home, '.npm'),
        npm_config_offline: 'true',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_update_notifier: 'false',
      },
    };
  };

  const scannerOutput = (workspace: string, levels: ('note' | 'error')[]) =>
    writeFileSync(
      join(workspace, 'results.sarif'),
      JSON.stringify(
        sarifLog([
          {
            tool: 'semgrep',
            results: levels.map((level, index) => ({
              rule: `rule-${level}`,
              path: 'src/app.ts',
              line: index + 1,
              level,
            })),
          },
        ]),
      ),
    );

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-cli-guides-'));
    suite = await startSuite();
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('cli-guides');
    ownerToken = await accessToken(gateway, owner);
    // The key the guides' README has an admin create: upload and read findings.
    const created = await gatehouse(
      [
        'keys',
        'create',
        '--name',
        'CI guides',
        '--key-client-id',
        'ci-guides',
        '--permissions',
        'write:findings,read:findings',
        '--json',
      ],
      { env: { ...credentialEnv(gateway, owner), XDG_CACHE_HOME: root } },
    );
    expect(created.code).toBe(0);
    pipelineKey = JSON.parse(created.stdout) as { api_key: string; client_id: string };
    const packed = await runProcess('npm', ['pack', join(WORKSPACE_ROOT, 'dist/apps/cli'), '--json'], {
      cwd: root,
      env: runner().env,
    });
    expect(packed.code).toBe(0);
    tarball = join(root, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  });

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  afterAll(async () => {
    await suite?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const settings = (): Settings => ({
    GATEHOUSE_API_URL: gateway,
    GATEHOUSE_CLIENT_ID: pipelineKey.client_id,
    GATEHOUSE_API_KEY: pipelineKey.api_key,
    GATEHOUSE_CLI_PACKAGE: tarball,
  });

  it.each(GUIDES)(
    '$document: installs the CLI, uploads with the job’s context, gates on high',
    async (guide) => {
      const block = fencedBlock(guide.document, guide.title);
      const job = runner();
      scannerOutput(job.workspace, ['note']);

      const first = await guide.run(block, job, settings());
      expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(first.stdout + first.stderr).toContain('added 1 package');
      expect(first.stdout).toContain('fail-on high: no open findings at or above high');
      expect(first.stdout + first.stderr).not.toContain(pipelineKey.api_key);
      const [stored] = await scansOf(gateway, ownerToken, guide.job.repository);
      expect(stored).toMatchObject({ ...guide.job, status: 'completed', results: 1 });

      // The job re-run: the cached CLI, the first answer again, nothing stored twice.
      const again = await guide.run(block, job, settings());
      expect(again.code).toBe(0);
      expect(again.stdout + again.stderr).not.toContain('added 1 package');
      expect(again.stdout).toContain('already uploaded');
      expect(await scansOf(gateway, ownerToken, guide.job.repository)).toHaveLength(1);

      // A high finding: the gate fails the job.
      scannerOutput(job.workspace, ['note', 'error']);
      const gated = await guide.run(block, job, settings());
      expect(gated.code).toBe(1);
      expect(gated.stdout).toContain('fail-on high: 1 open findings at or above high');
    },
  );

  it('docs/ci/README.md: the pipeline key command refuses to run twice over its file', async () => {
    const install = runner();
    const prefix = join(install.env.HOME, 'cli');
    expect(
      (await runProcess('npm', ['install', '--global', '--prefix', prefix, tarball], install)).code,
    ).toBe(0);
    const command = fencedBlock('docs/ci/README.md', 'create-pipeline-key.sh');
    expect(command).toContain('gatehouse keys create');
    const env = {
      ...install.env,
      ...credentialEnv(gateway, owner),
      PATH: `${join(prefix, 'bin')}:${install.env.PATH}`,
    };
    const first = await runProcess('sh', ['-e', '-c', command], { cwd: install.workspace, env });
    expect(first.code).toBe(0);
    const written = join(install.workspace, 'ci-payments.json');
    expect(statSync(written).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(written, 'utf8'))).toMatchObject({
      client_id: 'ci-payments',
      permissions: ['read:findings', 'write:findings'],
    });
    const second = await runProcess('sh', ['-e', '-c', command], { cwd: install.workspace, env });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('never overwritten');
  });

  it('docs/ci/README.md: the direct API script retries a 503 and stores the scan once, run twice', async () => {
    const job = runner();
    const script = join(job.workspace, 'upload-with-retries.sh');
    writeFileSync(script, fencedBlock('docs/ci/README.md', 'upload-with-retries.sh'));
    scannerOutput(job.workspace, ['note']);
    proxy = await startFaultProxy(gateway);
    let uploads = 0;
    proxy.inject = (seen) =>
      seen.path.startsWith('/api/v1/findings') && (uploads += 1) === 1
        ? {
            status: 503,
            body: errorBody('service_unavailable', 'Service temporarily unavailable', 'proxy-503'),
          }
        : undefined;
    const args = [script, 'results.sarif', 'acme/guide-curl', 'refs/heads/main', '5555555'];
    const env = { ...job.env, ...credentialEnv(proxy.url, pipelineKey) };
    const first = await runProcess('bash', args, { cwd: job.workspace, env });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('upload answered 503; retrying');
    expect(JSON.parse(first.stdout)).toMatchObject({ status: 'completed', results: 1 });
    const second = await runProcess('bash', args, { cwd: job.workspace, env });
    expect(second.code).toBe(0);
    const keys = proxy.requests
      .filter((seen) => seen.path.startsWith('/api/v1/findings'))
      .map((seen) => seen.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    const stored = await scansOf(gateway, ownerToken, 'acme/guide-curl');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ ref: 'refs/heads/main', commit: '5555555' });
  });
});
