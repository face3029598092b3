import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateDevelopmentKeyPem } from '@gatehouse/crypto';
import {
  createTestDatabase,
  freePort,
  TEST_REDIS_URL,
  uniqueChannel,
  WORKSPACE_ROOT,
  type TestDatabase,
} from '@gatehouse/testing';
import {
  diskUsageKiB,
  replayRuntimeStage,
  runtimeStageOf,
  type RuntimeStage,
} from './support/dockerfile-runtime';

/**
 * The images without a Docker engine: each Dockerfile's runtime stage is replayed (its COPY steps from the built
 * dist/, its `npm ci --omit=dev` on the manifest the build wrote) into a directory of its own, which is then made
 * read-only (in the image /app is root's and the process runs as `node`), and its command started there with the image's environment
 * (NODE_ENV=production) against the real PostgreSQL and Redis. A package the bundle needs but the manifest lacks
 * fails here at start; the gateway's image must serve the dashboard's build at /. Sizes are printed for README's
 * table.
 */
const IMAGES = {
  'gatehouse-cli': 'tools/gatehouse-cli/Dockerfile',
  'auth-service': 'apps/auth-service/Dockerfile',
  'admin-api': 'apps/admin-api/Dockerfile',
  'findings-service': 'apps/findings-service/Dockerfile',
  'api-gateway': 'apps/api-gateway/Dockerfile',
} as const;
type ImageName = keyof typeof IMAGES;

const BASE_IMAGE = `node:${readFileSync(join(WORKSPACE_ROOT, '.node-version'), 'utf8').trim()}-bookworm-slim`;
const READY_TIMEOUT_MS = 20_000;

interface Exit {
  code: number | null;
  output: string;
}

interface Running {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<Exit>;
}

describe('images (Dockerfile runtime stages, replayed without Docker)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-images-'));
  const stages = {} as Record<ImageName, RuntimeStage>;
  const apps = {} as Record<ImageName, string>;
  const sizesKiB = {} as Record<ImageName, number>;
  const started: Running[] = [];
  let database: TestDatabase | undefined;
  const shared = {
    REDIS_URL: TEST_REDIS_URL,
    REVOCATION_CHANNEL: uniqueChannel(),
    RATE_LIMIT_KEY_PREFIX: `${uniqueChannel()}:rate-limit`,
    GATEWAY_SECRET: randomBytes(32).toString('base64url'),
    JWT_ISSUER: 'gatehouse-test',
    JWT_AUDIENCE: 'gatehouse-test-api',
    DATABASE_POOL_SIZE: '2',
  };

  const environment = (image: ImageName, env: Record<string, string>) => ({
    PATH: process.env['PATH'] ?? '',
    TZ: 'UTC',
    ...stages[image].env,
    ...env,
  });

  const launch = (image: ImageName, env: Record<string, string>, args: string[] = []): Running => {
    const [command, ...rest] = stages[image].command;
    const child = spawn(command, [...rest, ...args], {
      cwd: apps[image],
      env: environment(image, env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code) => resolve({ code, output })));
    const running = { child, url: `http://127.0.0.1:${env['PORT']}`, output: () => output, exited };
    started.push(running);
    return running;
  };

  const untilReady = async (image: ImageName, running: Running, path = '/health/ready'): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let exit: Exit | undefined;
    void running.exited.then((ended) => (exit = ended));
    while (Date.now() < deadline) {
      if (exit) throw new Error(`${image} exited with ${exit.code}:\n${exit.output}`);
      const status = await fetch(`${running.url}${path}`).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${image} was not ready within ${READY_TIMEOUT_MS} ms:\n${running.output()}`);
  };

  /** The image's own HEALTHCHECK command, run beside it as Docker runs it. */
  const healthcheck = async (image: ImageName, port: string): Promise<number | null> => {
    const [command, ...args] = stages[image].healthcheck ?? [];
    const child = spawn(command, args, { cwd: apps[image], env: environment(image, { PORT: port }) });
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  };

  const serviceEnv = async (extra: Record<string, string> = {}) => ({
    ...shared,
    DATABASE_URL: database?.url ?? '',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    ...extra,
  });

  beforeAll(async () => {
    for (const [image, dockerfile] of Object.entries(IMAGES) as [ImageName, string][]) {
      stages[image] = runtimeStageOf(join(WORKSPACE_ROOT, dockerfile));
      apps[image] = await replayRuntimeStage(stages[image], join(root, image));
      // /app belongs to root in the image and the process runs as `node`: it cannot write there.
      chmodSync(apps[image], 0o555);
      sizesKiB[image] = await diskUsageKiB(apps[image]);
    }
    database = await createTestDatabase();
  }, 240_000);

  afterAll(async () => {
    for (const running of started) if (running.child.exitCode === null) running.child.kill('SIGTERM');
    await Promise.all(started.map((running) => running.exited));
    await database?.drop();
    for (const image of Object.keys(apps) as ImageName[]) chmodSync(apps[image], 0o755);
    rmSync(root, { recursive: true, force: true });
    process.stderr.write(
      `image sizes (app layer on ${BASE_IMAGE}, du -sk of /app):\n` +
        Object.entries(sizesKiB)
          .map(([image, kib]) => `  ${image}: ${(kib / 1024).toFixed(1)} MB`)
          .join('\n') +
        '\n',
    );
  });

  it.each(Object.keys(IMAGES) as ImageName[])(
    '%s: on the chosen Node LTS, non-root, only its own packages',
    (image) => {
      const stage = stages[image];
      expect(stage.from).toBe(BASE_IMAGE);
      expect(stage.user).toBe('node');
      expect(stage.env['NODE_ENV']).toBe('production');
      if (image !== 'gatehouse-cli') expect(stage.healthcheck).toBeDefined();
      const manifest = JSON.parse(readFileSync(join(apps[image], 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(Object.keys(manifest.dependencies).length).toBeGreaterThan(0);
      // The embedded database is standalone mode's alone (27 MB): no image of the split deployment carries it.
      expect(existsSync(join(apps[image], 'node_modules/@electric-sql/pglite'))).toBe(false);
      expect(existsSync(join(apps[image], 'main.js'))).toBe(true);
    },
  );

  it('auth-service refuses an unmigrated database, naming the command to run', async () => {
    const refused = launch(
      'auth-service',
      await serviceEnv({ JWT_SIGNING_KEY: generateDevelopmentKeyPem() }),
    );
    const exit = await refused.exited;
    expect(exit.code).toBe(1);
    expect(exit.output).toContain('the database schema is older than this build');
    expect(exit.output).toContain('gatehouse-cli migrate');
  });

  it('the CLI image migrates, then every service image starts, answers ready and passes its HEALTHCHECK', async () => {
    const migrate = launch('gatehouse-cli', { DATABASE_URL: database?.url ?? '' });
    const migrated = await migrate.exited;
    expect(migrated).toEqual({ code: 0, output: expect.stringContaining('applied') });

    const authEnv = await serviceEnv({ JWT_SIGNING_KEY: generateDevelopmentKeyPem() });
    const auth = launch('auth-service', authEnv);
    await untilReady('auth-service', auth);
    const verifierEnv = { JWKS_URL: `${auth.url}/api/v1/auth/jwks` };
    // The image runs with NODE_ENV=production, where admin-api needs the key that seals webhook secrets.
    const adminEnv = await serviceEnv({
      ...verifierEnv,
      WEBHOOK_SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    });
    const findingsEnv = await serviceEnv(verifierEnv);
    const admin = launch('admin-api', adminEnv);
    const findings = launch('findings-service', findingsEnv);
    await Promise.all([untilReady('admin-api', admin), untilReady('findings-service', findings)]);
    const gatewayEnv = await serviceEnv({
      ...verifierEnv,
      AUTH_SERVICE_URL: auth.url,
      ADMIN_API_URL: admin.url,
      FINDINGS_SERVICE_URL: findings.url,
    });
    const gateway = launch('api-gateway', gatewayEnv);
    await untilReady('api-gateway', gateway);

    const checks = await Promise.all([
      healthcheck('auth-service', authEnv.PORT),
      healthcheck('admin-api', adminEnv.PORT),
      healthcheck('findings-service', findingsEnv.PORT),
      healthcheck('api-gateway', gatewayEnv.PORT),
    ]);
    expect(checks).toEqual([0, 0, 0, 0]);

    // The gateway image carries the dashboard where DASHBOARD_DIR's default finds it, and serves it at /.
    const page = await fetch(`${gateway.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(
      readFileSync(join(WORKSPACE_ROOT, 'dist/apps/dashboard/index.html'), 'utf8'),
    );
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    const deepLink = await fetch(`${gateway.url}/keys`, { headers: { accept: 'text/html' } });
    expect(deepLink.status).toBe(200);
  }, 120_000);
});
