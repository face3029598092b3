import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';
import {
  accessToken,
  CLI_VERSION,
  credentialEnv,
  errorBody,
  gatehouse,
  scansOf,
  startFaultProxy,
  type CliRun,
  type FaultProxy,
} from './support/gatehouse-cli';
import { sarifLog } from './support/sarif-documents';

interface CreatedKey {
  id: string;
  api_key: string;
  client_id: string;
  permissions: string[];
  status: string;
}

interface UploadOutput {
  ci: { id: string; name: string } | null;
  context: Record<string, string>;
  scans: {
    file: string;
    scan_id: string;
    status: string;
    results: number;
    new: number;
    unchanged: number;
    fixed: number;
    reopened: number;
    replayed: boolean;
    media_type: string;
    idempotency_key: string;
    repository: string | null;
    ref: string | null;
    commit: string | null;
  }[];
  totals: Record<string, number>;
  fail_on: { threshold: string; open: number; passed: boolean; by_severity: Record<string, number> } | null;
}

/** Each CI's variables for one job, and the scan context the CLI must read from them. */
const CI_JOBS: {
  ci: string;
  env: Record<string, string>;
  expected: { repository: string; commit: string; ref: string };
}[] = [
  {
    ci: 'github-actions',
    env: {
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: 'acme/cli-github',
      GITHUB_SHA: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
      GITHUB_REF: 'refs/pull/42/merge',
    },
    expected: {
      repository: 'acme/cli-github',
      commit: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
      ref: 'refs/pull/42/merge',
    },
  },
  {
    ci: 'gitlab-ci',
    env: {
      GITLAB_CI: 'true',
      CI_PROJECT_PATH: 'acme/platform/cli-gitlab',
      CI_COMMIT_SHA: 'b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3',
      CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_BRANCH: 'main',
    },
    expected: {
      repository: 'acme/platform/cli-gitlab',
      commit: 'b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3',
      ref: 'refs/heads/main',
    },
  },
  {
    ci: 'jenkins',
    env: {
      JENKINS_URL: 'https://jenkins.example.com/',
      GIT_URL: 'https://github.com/acme/cli-jenkins.git',
      GIT_COMMIT: 'c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4',
      GIT_BRANCH: 'origin/release/2.1',
    },
    expected: {
      repository: 'acme/cli-jenkins',
      commit: 'c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4',
      ref: 'refs/heads/release/2.1',
    },
  },
  {
    ci: 'azure-pipelines',
    env: {
      TF_BUILD: 'True',
      BUILD_REPOSITORY_NAME: 'acme/cli-azure',
      BUILD_SOURCEVERSION: 'd4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5',
      BUILD_SOURCEBRANCH: 'refs/tags/v1.4.0',
    },
    expected: {
      repository: 'acme/cli-azure',
      commit: 'd4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5',
      ref: 'refs/tags/v1.4.0',
    },
  },
  {
    ci: 'bitbucket-pipelines',
    env: {
      BITBUCKET_BUILD_NUMBER: '77',
      BITBUCKET_REPO_FULL_NAME: 'acme/cli-bitbucket',
      BITBUCKET_COMMIT: 'e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6',
      BITBUCKET_BRANCH: 'feature/login',
    },
    expected: {
      repository: 'acme/cli-bitbucket',
      commit: 'e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6',
      ref: 'refs/heads/feature/login',
    },
  },
  {
    ci: 'circleci',
    env: {
      CIRCLECI: 'true',
      CIRCLE_PROJECT_USERNAME: 'acme',
      CIRCLE_PROJECT_REPONAME: 'cli-circle',
      CIRCLE_SHA1: 'f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1',
      CIRCLE_BRANCH: 'main',
    },
    expected: {
      repository: 'acme/cli-circle',
      commit: 'f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1',
      ref: 'refs/heads/main',
    },
  },
];

const json = <T>(run: CliRun): T => JSON.parse(run.stdout) as T;

describe('the gatehouse CLI against the running suite', () => {
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let ownerToken: string;
  /** A pipeline's key: write:findings and read:findings, as the CI guides create it. */
  let pipeline: CreatedKey;
  let work: string;
  let proxy: FaultProxy | undefined;
  /** Every secret the CLI was given: none may appear in what it prints (create and rotate excepted). */
  const secrets = new Set<string>();

  const file = (name: string, content: unknown): string => {
    const path = join(work, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  const nativeFindings = (prefix: string, severities: string[]) => ({
    findings: severities.map((severity, index) => ({
      rule_id: `${prefix}-rule-${index}`,
      title: `${prefix} finding ${index}`,
      severity,
      location: { path: `src/${prefix}/${index}.ts`, start_line: index + 1 },
    })),
  });

  /** The CLI as the pipeline key runs it, with a cache directory of its own unless given one. */
  const cli = async (args: string[], env: Record<string, string | undefined> = {}, stdin?: string) => {
    const run = await gatehouse(args, {
      env: {
        // The owner's key creates the pipeline's in beforeAll.
        ...credentialEnv(gateway, pipeline ?? owner),
        XDG_CACHE_HOME: mkdtempSync(join(work, 'cache-')),
        ...env,
      },
      stdin,
      cwd: work,
    });
    for (const secret of secrets) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
    }
    return run;
  };

  const asOwner = (args: string[], env: Record<string, string | undefined> = {}) =>
    cli(args, { ...credentialEnv(gateway, owner), ...env });

  const createPipelineKey = async (clientId: string, permissions: string[]): Promise<CreatedKey> => {
    const run = await asOwner([
      'keys',
      'create',
      '--name',
      `CLI e2e ${clientId}`,
      '--key-client-id',
      clientId,
      '--permissions',
      permissions.join(','),
      '--expires-in-days',
      '30',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const created = json<CreatedKey>(run);
    secrets.add(created.api_key);
    return created;
  };

  beforeAll(async () => {
    suite = await startSuite({ findingsEnv: { SCAN_WORKER_POLL_MS: '100' } });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('cli-e2e');
    secrets.add(owner.api_key);
    ownerToken = await accessToken(gateway, owner);
    work = mkdtempSync(join(tmpdir(), 'gatehouse-cli-e2e-'));
    pipeline = await createPipelineKey('cli-pipeline', ['write:findings', 'read:findings']);
  });

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  afterAll(async () => {
    await suite?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('help and version', () => {
    it('--version prints the version of apps/cli/package.json', async () => {
      const run = await cli(['--version']);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(CLI_VERSION);
    });

    it('every command has --help, naming its options, without configuration', async () => {
      const commands = [
        [],
        ['upload'],
        ['token'],
        ['whoami'],
        ['keys'],
        ...[
          'list',
          'create',
          'get',
          'update',
          'rotate',
          'finish-rotation',
          'revoke',
          'disable',
          'enable',
          'delete',
          'usage',
        ].map((command) => ['keys', command]),
        ['findings'],
        ...['list', 'summary', 'get'].map((command) => ['findings', command]),
        ['scans'],
        ...['list', 'get'].map((command) => ['scans', command]),
      ];
      for (const command of commands) {
        const run = await gatehouse([...command, '--help'], { env: {} });
        expect({ command, code: run.code }).toEqual({ command, code: 0 });
        expect(run.stdout).toContain(`Usage: gatehouse ${command.join(' ')}`.trim());
      }
      const upload = await gatehouse(['upload', '--help']);
      expect(upload.stdout).toContain('--fail-on <severity>');
      expect(upload.stdout).toContain('--repository <name>');
      const root = await gatehouse(['--help']);
      expect(root.stdout).toContain('GATEHOUSE_API_URL');
      expect(root.stdout).toContain('Exit codes');
    });

    it('no command, an unknown command or a bad option value is a usage error (2)', async () => {
      expect((await gatehouse([])).code).toBe(2);
      expect((await gatehouse(['frobnicate'])).code).toBe(2);
      const badSeverity = await cli(['upload', 'x.json', '--fail-on', 'severe']);
      expect(badSeverity.code).toBe(2);
      expect(badSeverity.stderr).toContain('critical, high, medium, low, info');
    });
  });

  describe('configuration and the API key', () => {
    it('refuses an API key on the command line (2) without repeating it, and takes it from --api-key-stdin', async () => {
      for (const args of [
        ['whoami', '--api-key', pipeline.api_key],
        ['whoami', `--api-key=${pipeline.api_key}`],
        ['upload', pipeline.api_key],
      ]) {
        const refused = await cli(args, { GATEHOUSE_API_KEY: undefined });
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain('never taken from the command line');
      }
      const fromStdin = await cli(
        ['whoami', '--api-key-stdin', '--json'],
        { GATEHOUSE_API_KEY: undefined },
        `${pipeline.api_key}\n`,
      );
      expect(fromStdin.code).toBe(0);
      expect(json<{ api_key_id: string }>(fromStdin).api_key_id).toBe(pipeline.id);
    });

    it('names the missing variable (2) and sends nothing', async () => {
      const noUrl = await cli(['whoami'], { GATEHOUSE_API_URL: undefined });
      expect(noUrl.code).toBe(2);
      expect(noUrl.stderr).toContain('GATEHOUSE_API_URL');
      const noKey = await cli(['whoami'], { GATEHOUSE_API_KEY: undefined });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('GATEHOUSE_API_KEY');
      const noClient = await cli(['whoami'], { GATEHOUSE_CLIENT_ID: undefined });
      expect(noClient.code).toBe(2);
      expect(noClient.stderr).toContain('GATEHOUSE_CLIENT_ID');
      const flags = await cli(['whoami', '--json', '--api-url', gateway, '--client-id', pipeline.client_id], {
        GATEHOUSE_API_URL: undefined,
        GATEHOUSE_CLIENT_ID: undefined,
      });
      expect(flags.code).toBe(0);
    });
  });

  describe('token and whoami', () => {
    it('whoami shows organization, key, client id, permissions and expiry, and no secret', async () => {
      const run = await cli(['whoami', '--json']);
      expect(run.code).toBe(0);
      const identity = json<Record<string, unknown>>(run);
      expect(identity).toMatchObject({
        organization_id: owner.organization.id,
        api_key_id: pipeline.id,
        client_id: 'cli-pipeline',
        permissions: ['read:findings', 'write:findings'],
      });
      expect(Date.parse(identity['token_expires_at'] as string)).toBeGreaterThan(Date.now());
      expect(run.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
      const table = await asOwner(['whoami']);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain(owner.api_key_id);
      expect(table.stdout).toContain('key_name');
    });

    it('token prints a token that works, cached owner-only under a hashed name, reused until its last minute', async () => {
      const cache = mkdtempSync(join(work, 'cache-'));
      const first = await cli(['token'], { XDG_CACHE_HOME: cache });
      expect(first.code).toBe(0);
      const token = first.stdout.trim();
      const scans = await request(`${gateway}/api/v1/scans`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(scans.status).toBe(200);

      const directory = join(cache, 'gatehouse/tokens');
      const entries = readdirSync(directory);
      expect(entries).toHaveLength(1);
      expect(statSync(directory).mode & 0o777).toBe(0o700);
      const entry = join(directory, entries[0]);
      expect(statSync(entry).mode & 0o777).toBe(0o600);
      expect(entries[0]).toMatch(/^[0-9a-f]{64}\.json$/);
      expect(readFileSync(entry, 'utf8')).not.toContain(pipeline.api_key);

      const again = await cli(['token'], { XDG_CACHE_HOME: cache });
      expect(again.stdout.trim()).toBe(token);

      // Less than a minute left: not handed out again.
      const cached = JSON.parse(readFileSync(entry, 'utf8')) as { expires_at: number };
      writeFileSync(entry, JSON.stringify({ ...cached, expires_at: Date.now() + 30_000 }), { mode: 0o600 });
      const renewed = await cli(['token'], { XDG_CACHE_HOME: cache });
      expect(renewed.code).toBe(0);
      expect(renewed.stdout.trim()).not.toBe(token);

      // An entry others could read is never used.
      const current = renewed.stdout.trim();
      chmodSync(entry, 0o644);
      const refused = await cli(['token'], { XDG_CACHE_HOME: cache });
      expect(refused.stdout.trim()).not.toBe(current);
      expect(statSync(entry).mode & 0o777).toBe(0o600);

      const noCache = mkdtempSync(join(work, 'cache-'));
      expect((await cli(['token', '--no-token-cache'], { XDG_CACHE_HOME: noCache })).code).toBe(0);
      expect(readdirSync(noCache)).toEqual([]);
    });
  });

  describe('upload', () => {
    it('uploads native JSON and SARIF gzipped, with a summary; the same upload again stores nothing', async () => {
      const native = file('native.json', nativeFindings('native', ['high', 'low']));
      const sarif = file(
        'semgrep.sarif',
        sarifLog([
          {
            tool: 'semgrep',
            results: [
              { rule: 'js.xss', path: 'web/app.js', line: 3, level: 'warning' },
              { rule: 'js.eval', path: 'web/app.js', line: 9, level: 'note' },
            ],
          },
        ]),
      );
      const context = ['--repository', 'acme/cli-upload', '--ref', 'refs/heads/main', '--commit', '0a1b2c3'];
      const run = await cli(['upload', native, sarif, ...context, '--json']);
      expect(run.code).toBe(0);
      const output = json<UploadOutput>(run);
      expect(output.scans.map((scan) => [scan.media_type, scan.status, scan.results, scan.new])).toEqual([
        ['application/json', 'completed', 2, 2],
        ['application/sarif+json', 'completed', 2, 2],
      ]);
      expect(output.totals).toEqual({ results: 4, new: 4, unchanged: 0, fixed: 0, reopened: 0 });

      const text = await cli(['upload', native, sarif, ...context]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('already uploaded');
      expect(text.stdout).toMatch(
        /native\.json: scan [0-9a-f-]+ of acme\/cli-upload refs\/heads\/main 0a1b2c3: 2 results/,
      );
      const stored = await scansOf(gateway, ownerToken, 'acme/cli-upload');
      expect(stored).toHaveLength(2);
      expect(stored.map((scan) => scan.commit)).toEqual(['0a1b2c3', '0a1b2c3']);

      // The same report for another commit is another scan: the key covers content and context.
      const other = await cli([
        'upload',
        native,
        '--repository',
        'acme/cli-upload',
        '--ref',
        'refs/heads/main',
        '--commit',
        '9f8e7d6',
        '--json',
      ]);
      expect(json<UploadOutput>(other).scans[0]).toMatchObject({ replayed: false, unchanged: 2, new: 0 });
      expect(await scansOf(gateway, ownerToken, 'acme/cli-upload')).toHaveLength(3);
    });

    it.each(CI_JOBS)('reads the scan context from $ci variables', async ({ ci, env, expected }) => {
      const report = file(`${ci}.json`, nativeFindings(ci, ['medium']));
      const run = await cli(['upload', report, '--json'], env);
      expect(run.code).toBe(0);
      const output = json<UploadOutput>(run);
      expect(output.ci?.id).toBe(ci);
      expect(output.context).toEqual(expected);
      const [stored] = await scansOf(gateway, ownerToken, expected.repository);
      expect(stored).toMatchObject({ ...expected, status: 'completed', results: 1 });
      // Flags win over the CI's variables, and --no-detect ignores them.
      const flagged = await cli(['upload', report, '--ref', 'refs/heads/override', '--json'], env);
      expect(json<UploadOutput>(flagged).context.ref).toBe('refs/heads/override');
      const ignored = await cli(
        ['upload', report, '--no-detect', '--repository', `${expected.repository}-plain`, '--json'],
        env,
      );
      expect(json<UploadOutput>(ignored)).toMatchObject({
        ci: null,
        context: { repository: `${expected.repository}-plain` },
      });
    });

    it('waits for an upload processed after its 202 answer, or does not with --no-wait', async () => {
      const report = file('async.json', nativeFindings('async', ['low', 'low', 'info']));
      const waited = await cli(['upload', report, '--async', '--repository', 'acme/cli-async', '--json']);
      expect(waited.code).toBe(0);
      expect(json<UploadOutput>(waited).scans[0]).toMatchObject({ status: 'completed', results: 3, new: 3 });
      expect(waited.stderr).toContain('waiting for it to be processed');

      const other = file('async-2.json', nativeFindings('async-2', ['low']));
      const queued = await cli([
        'upload',
        other,
        '--async',
        '--no-wait',
        '--repository',
        'acme/cli-async-2',
        '--json',
      ]);
      expect(queued.code).toBe(0);
      expect(['queued', 'processing', 'completed']).toContain(json<UploadOutput>(queued).scans[0].status);
    });

    it('shows progress on request, sending the body in chunks', async () => {
      const big = nativeFindings('big', Array<string>(400).fill('low'));
      big.findings.forEach((finding) =>
        Object.assign(finding, { description: randomBytes(600).toString('base64') }),
      );
      const report = file('big.json', big);
      const run = await cli(['upload', report, '--progress', '--repository', 'acme/cli-big', '--json']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('uploading');
      expect(json<UploadOutput>(run).scans[0]).toMatchObject({ status: 'completed', results: 400 });
    });

    it('refuses a file that is neither SARIF nor native JSON (5), with the server’s message and request id', async () => {
      const text = file('notes.txt', 'this is not a findings report\n');
      const run = await cli(['upload', text, '--repository', 'acme/cli-bad']);
      expect(run.code).toBe(5);
      expect(run.stderr).toMatch(
        /upload of .*notes\.txt failed: .+ \(HTTP 400 malformed_json, request_id [0-9a-f-]+\)/,
      );
      const unknownShape = file('other.json', { hello: 'world' });
      const other = await cli(['upload', unknownShape, '--repository', 'acme/cli-bad']);
      expect(other.code).toBe(5);
      expect(other.stderr).toMatch(/HTTP 4\d\d \w+, request_id/);
      expect(await scansOf(gateway, ownerToken, 'acme/cli-bad')).toEqual([]);
      const missing = await cli(['upload', join(work, 'no-such-file.sarif')]);
      expect(missing.code).toBe(2);
    });

    it('--fail-on exits 1 while open findings at or above the threshold exist in the repository and ref', async () => {
      const context = ['--repository', 'acme/cli-gate', '--ref', 'refs/heads/main', '--tool', 'gate-scanner'];
      const risky = file('risky.json', nativeFindings('gate', ['high', 'medium']));
      const failing = await cli(['upload', risky, ...context, '--fail-on', 'high']);
      expect(failing.code).toBe(1);
      expect(failing.stdout).toContain(
        'fail-on high: 1 open findings at or above high (1 high) in acme/cli-gate refs/heads/main',
      );
      const failingJson = await cli(['upload', risky, ...context, '--fail-on', 'medium', '--json']);
      expect(failingJson.code).toBe(1);
      expect(json<UploadOutput>(failingJson).fail_on).toMatchObject({
        threshold: 'medium',
        open: 2,
        passed: false,
      });
      expect((await cli(['upload', risky, ...context, '--fail-on', 'critical'])).code).toBe(0);

      // The high finding fixed (no longer reported): the gate opens.
      const fixed = file('fixed.json', nativeFindings('gate-fixed', ['medium']));
      const passing = await cli(['upload', fixed, ...context, '--fail-on', 'high', '--json']);
      expect(passing.code).toBe(0);
      expect(json<UploadOutput>(passing).fail_on).toMatchObject({ open: 0, passed: true });
      // Another ref of the repository is gated on its own findings.
      expect(
        (
          await cli([
            'upload',
            risky,
            '--repository',
            'acme/cli-gate',
            '--ref',
            'refs/heads/dev',
            '--fail-on',
            'high',
          ])
        ).code,
      ).toBe(1);
    });

    it('--fail-on with a key that cannot read findings is refused (3) before anything is uploaded', async () => {
      const writeOnly = await createPipelineKey('cli-write-only', ['write:findings']);
      const report = file('write-only.json', nativeFindings('write-only', ['high']));
      const run = await cli(
        ['upload', report, '--repository', 'acme/cli-write-only', '--fail-on', 'high'],
        credentialEnv(gateway, writeOnly),
      );
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('lacks read:findings');
      expect(await scansOf(gateway, ownerToken, 'acme/cli-write-only')).toEqual([]);
      // Without --fail-on it uploads; a 202 it cannot follow is reported as stored.
      const queued = await cli(
        ['upload', report, '--repository', 'acme/cli-write-only', '--async', '--json'],
        credentialEnv(gateway, writeOnly),
      );
      expect(queued.code).toBe(0);
      expect(queued.stderr).toContain('lacks');
    });
  });

  describe('retries', () => {
    it('retries 503 with backoff and the same Idempotency-Key: one scan stored', async () => {
      proxy = await startFaultProxy(gateway);
      let uploads = 0;
      proxy.inject = (seen) => {
        if (seen.method !== 'POST' || !seen.path.startsWith('/api/v1/findings')) return undefined;
        uploads += 1;
        return uploads <= 2
          ? {
              status: 503,
              body: errorBody('service_unavailable', 'Service temporarily unavailable', `proxy-${uploads}`),
            }
          : undefined;
      };
      const report = file('retried.json', nativeFindings('retried', ['low']));
      const run = await cli(['upload', report, '--repository', 'acme/cli-retried', '--json'], {
        GATEHOUSE_API_URL: proxy.url,
      });
      expect(run.code).toBe(0);
      expect(run.stderr.match(/HTTP 503 service_unavailable; retrying in/g)).toHaveLength(2);
      const attempts = proxy.requests.filter((seen) => seen.path.startsWith('/api/v1/findings'));
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts.map((seen) => seen.headers['idempotency-key'])).size).toBe(1);
      expect(attempts.every((seen) => seen.headers['content-encoding'] === 'gzip')).toBe(true);
      expect(JSON.parse(gunzipSync(attempts[2].body).toString())).toEqual(nativeFindings('retried', ['low']));
      expect(await scansOf(gateway, ownerToken, 'acme/cli-retried')).toHaveLength(1);
    });

    it('honours Retry-After on 429', async () => {
      proxy = await startFaultProxy(gateway);
      const times: number[] = [];
      proxy.inject = (seen) => {
        if (!seen.path.startsWith('/api/v1/findings')) return undefined;
        times.push(Date.now());
        return times.length === 1
          ? {
              status: 429,
              headers: { 'retry-after': '2' },
              body: { ...errorBody('rate_limit_exceeded', 'Too many requests', 'proxy-429'), retry_after: 2 },
            }
          : undefined;
      };
      const report = file('limited.json', nativeFindings('limited', ['low']));
      const run = await cli(['upload', report, '--repository', 'acme/cli-limited', '--json'], {
        GATEHOUSE_API_URL: proxy.url,
      });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('HTTP 429 rate_limit_exceeded; retrying in 2.0 s');
      expect(times).toHaveLength(2);
      // The retry came no sooner than the server asked (a lower bound only: a slow machine may take longer).
      expect(times[1] - times[0]).toBeGreaterThanOrEqual(1900);
      expect(await scansOf(gateway, ownerToken, 'acme/cli-limited')).toHaveLength(1);

      // A Retry-After beyond the retry time limit: given up at once, as unavailable (4).
      times.length = 0;
      proxy.inject = (seen) =>
        seen.path.startsWith('/api/v1/findings')
          ? {
              status: 429,
              headers: { 'retry-after': '3600' },
              body: errorBody('rate_limit_exceeded', 'Too many requests', 'proxy-429-long'),
            }
          : undefined;
      const gaveUp = await cli(['upload', report, '--repository', 'acme/cli-limited-2'], {
        GATEHOUSE_API_URL: proxy.url,
      });
      expect(gaveUp.code).toBe(4);
      expect(gaveUp.stderr).toContain(
        'Too many requests (HTTP 429 rate_limit_exceeded, request_id proxy-429-long)',
      );
    });

    it('gives up after its attempts (4), naming the last answer, and on a server nobody answers', async () => {
      proxy = await startFaultProxy(gateway);
      proxy.inject = (seen) =>
        seen.path.startsWith('/api/v1/findings')
          ? { status: 502, body: errorBody('bad_gateway', 'findings-service is unreachable', 'proxy-502') }
          : undefined;
      const report = file('unavailable.json', nativeFindings('unavailable', ['low']));
      const run = await cli(['upload', report, '--retries', '2'], { GATEHOUSE_API_URL: proxy.url });
      expect(run.code).toBe(4);
      expect(run.stderr).toContain(
        'failed after 3 attempts: findings-service is unreachable (HTTP 502 bad_gateway, request_id proxy-502)',
      );
      expect(proxy.requests.filter((seen) => seen.path.startsWith('/api/v1/findings'))).toHaveLength(3);

      const closed = await startFaultProxy(gateway);
      const deadUrl = closed.url;
      await closed.close();
      const unreachable = await cli(['whoami', '--retries', '1'], { GATEHOUSE_API_URL: deadUrl });
      expect(unreachable.code).toBe(4);
      expect(unreachable.stderr).toContain('ECONNREFUSED');
    });
  });

  describe('keys', () => {
    it('create, list, get, usage, rotate, finish-rotation, disable, enable, revoke and delete', async () => {
      const out = join(work, 'rotation-key.json');
      const created = await asOwner([
        'keys',
        'create',
        '--name',
        'Rotation',
        '--key-client-id',
        'cli-rotation',
        '--permissions',
        'read:findings',
        '--permissions',
        'write:findings',
        '--description',
        'Rotates in CI',
        '--metadata',
        'team=platform',
        '--metadata',
        'ticket=OPS-1',
        '--out',
        out,
      ]);
      expect(created.code).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const key = JSON.parse(readFileSync(out, 'utf8')) as CreatedKey;
      expect(key).toMatchObject({
        description: 'Rotates in CI',
        metadata: { team: 'platform', ticket: 'OPS-1' },
      });
      secrets.add(key.api_key);
      expect(created.stdout).not.toContain(key.api_key);
      expect(created.stderr).toContain('never shown again');
      // --out never overwrites: refused before anything is created.
      const again = await asOwner([
        'keys',
        'create',
        '--name',
        'x',
        '--key-client-id',
        'cli-never',
        '--permissions',
        'read:findings',
        '--out',
        out,
      ]);
      expect(again.code).toBe(2);
      expect((await asOwner(['keys', 'list', '--json'])).stdout).not.toContain('cli-never');

      const listed = json<{ data: { id: string }[]; next_cursor: string | null }>(
        await asOwner(['keys', 'list', '--all', '--limit', '1']),
      );
      expect(listed.data.map((entry) => entry.id)).toEqual(
        expect.arrayContaining([key.id, owner.api_key_id, pipeline.id]),
      );
      expect(listed.next_cursor).toBeNull();
      expect(json<{ client_id: string }>(await asOwner(['keys', 'get', key.id])).client_id).toBe(
        'cli-rotation',
      );

      const updated = json<{ name: string; description: string | null; metadata: Record<string, string> }>(
        await asOwner(['keys', 'update', key.id, '--name', 'Rotated', '--metadata', 'team=qa', '--json']),
      );
      expect(updated).toMatchObject({
        name: 'Rotated',
        description: 'Rotates in CI',
        metadata: { team: 'qa' },
      });
      const searched = json<{ data: { id: string }[] }>(
        await asOwner(['keys', 'list', '--search', 'ROTATED', '--sort', 'name', '--order', 'asc', '--json']),
      );
      expect(searched.data.map((entry) => entry.id)).toEqual([key.id]);
      expect((await asOwner(['keys', 'update', key.id])).code).toBe(2);

      const asKey = (args: string[], secret: string) =>
        cli(args, credentialEnv(gateway, { api_key: secret, client_id: 'cli-rotation' }));
      expect((await asKey(['whoami'], key.api_key)).code).toBe(0);
      const usage = await asOwner(['keys', 'usage', key.id, '--json']);
      expect(usage.code).toBe(0);

      const rotated = await asOwner(['keys', 'rotate', key.id, '--grace-period', '600', '--json']);
      expect(rotated.code).toBe(0);
      const rotatedKey = json<CreatedKey & { status: string }>(rotated);
      expect(rotatedKey.status).toBe('rotating');
      expect(rotatedKey.api_key).not.toBe(key.api_key);
      secrets.add(rotatedKey.api_key);
      expect((await asKey(['whoami'], rotatedKey.api_key)).code).toBe(0);
      expect((await asKey(['whoami'], key.api_key)).code).toBe(0);
      expect(json<{ status: string }>(await asOwner(['keys', 'finish-rotation', key.id])).status).toBe(
        'active',
      );
      const retired = await asKey(['whoami'], key.api_key);
      expect(retired.code).toBe(3);

      expect(json<{ status: string }>(await asOwner(['keys', 'disable', key.id])).status).toBe('disabled');
      const disabled = await asKey(['whoami'], rotatedKey.api_key);
      expect(disabled.code).toBe(3);
      expect(disabled.stderr).toContain('api_key_disabled');
      expect(json<{ status: string }>(await asOwner(['keys', 'enable', key.id])).status).toBe('active');
      expect((await asKey(['whoami'], rotatedKey.api_key)).code).toBe(0);

      expect(json<{ status: string }>(await asOwner(['keys', 'revoke', key.id])).status).toBe('revoked');
      expect((await asOwner(['keys', 'delete', key.id])).code).toBe(2);
      expect((await asOwner(['keys', 'delete', key.id, '--yes'])).code).toBe(0);
      const gone = await asOwner(['keys', 'get', key.id]);
      expect(gone.code).toBe(5);
      expect(gone.stderr).toMatch(/HTTP 404 \w+, request_id/);
    });

    it('a revoked key: a clear message and exit 3, also when its token was cached', async () => {
      const doomed = await createPipelineKey('cli-doomed', ['write:findings', 'read:findings']);
      const cache = mkdtempSync(join(work, 'cache-'));
      const env = { ...credentialEnv(gateway, doomed), XDG_CACHE_HOME: cache };
      expect((await cli(['token'], env)).code).toBe(0);
      expect((await asOwner(['keys', 'revoke', doomed.id])).code).toBe(0);
      const report = file('doomed.json', nativeFindings('doomed', ['low']));
      const run = await cli(['upload', report, '--repository', 'acme/cli-doomed'], env);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('api_key_revoked');
      expect(run.stderr).toContain('the API key was revoked');
      expect(await scansOf(gateway, ownerToken, 'acme/cli-doomed')).toEqual([]);
    });

    it('a key lacking the permission is refused (3) with the server’s message', async () => {
      const run = await cli(['keys', 'list']);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/HTTP 403 forbidden, request_id [0-9a-f-]+/);
    });

    it('lists are tables on a terminal only: JSON when piped', async () => {
      const run = await asOwner(['keys', 'list']);
      expect(() => JSON.parse(run.stdout) as unknown).not.toThrow();
    });
  });

  describe('findings and scans', () => {
    it('list, summary and get', async () => {
      const report = file('read.json', nativeFindings('read', ['critical', 'low']));
      const uploaded = json<UploadOutput>(
        await cli(['upload', report, '--repository', 'acme/cli-read', '--ref', 'refs/heads/main', '--json']),
      );
      const listed = json<{ data: { id: string; severity: string }[] }>(
        await cli([
          'findings',
          'list',
          '--repository',
          'acme/cli-read',
          '--severity',
          'critical,high',
          '--state',
          'open',
        ]),
      );
      expect(listed.data.map((finding) => finding.severity)).toEqual(['critical']);
      const summary = json<{ by_severity: Record<string, { open: number }> }>(
        await cli(['findings', 'summary', '--repository', 'acme/cli-read', '--ref', 'refs/heads/main']),
      );
      expect(summary.by_severity['critical'].open).toBe(1);
      expect(summary.by_severity['low'].open).toBe(1);
      const grouped = await cli(['findings', 'summary', '--group-by', 'repository']);
      expect(grouped.code).toBe(0);
      const finding = json<{ id: string; history: { event: string }[] }>(
        await cli(['findings', 'get', listed.data[0].id]),
      );
      expect(finding.history.map((entry) => entry.event)).toEqual(['new']);
      const scan = json<{ id: string; repository: string }>(
        await cli(['scans', 'get', uploaded.scans[0].scan_id]),
      );
      expect(scan).toMatchObject({ id: uploaded.scans[0].scan_id, repository: 'acme/cli-read' });
      const scans = json<{ data: { id: string }[] }>(
        await cli(['scans', 'list', '--repository', 'acme/cli-read']),
      );
      expect(scans.data.map((entry) => entry.id)).toEqual([uploaded.scans[0].scan_id]);
      const unknown = await cli(['findings', 'get', '00000000-0000-4000-8000-000000000000']);
      expect(unknown.code).toBe(5);
    });
  });
});
