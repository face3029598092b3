import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpServiceConfig, loadConfig } from '@gatehouse/config';
import { createHttpApp, createLoggerModule, HealthModule } from '@gatehouse/http';
import type { DashboardOptions } from './dashboard';
import { registerGateway } from './gateway';
import { rewriteToNormalizedUrl } from './path-normalization';
import { SECURITY_HEADERS } from './security-headers';

/** The gateway as main.ts composes it, with a dashboard build on disk and a real upstream, over real HTTP. */

const ISSUER = 'https://login.example.com/realms/acme';
const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head></html>';
const SCRIPT = 'console.log("dashboard")';

@Module({})
class TestGatewayModule {
  static register(): DynamicModule {
    return {
      module: TestGatewayModule,
      imports: [createLoggerModule('api-gateway', 'silent'), HealthModule.forRoot()],
    };
  }
}

async function startUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ upstream: true }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function startGateway(
  upstream: string,
  dashboard: DashboardOptions,
): Promise<{ app: NestFastifyApplication; url: string }> {
  const config = loadConfig(HttpServiceConfig, { PORT: '0', LOG_LEVEL: 'silent' });
  const app = await createHttpApp(TestGatewayModule.register(), config, {
    parseJsonBodies: false,
    rewriteUrl: rewriteToNormalizedUrl,
    answerHeaders: SECURITY_HEADERS,
    configure: (nest) =>
      registerGateway(nest.getHttpAdapter().getInstance(), {
        routes: [{ prefix: '/api/v1/echo', upstream }],
        timeoutMs: 2000,
        connectionsPerUpstream: 2,
        bodyLimitBytes: 1024,
        corsOrigins: [],
        apiDocs: { info: { title: 'Test', version: '1' } },
        dashboard,
      }),
  });
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe('the dashboard on the gateway (real HTTP)', () => {
  let dir: string;
  let upstream: { server: Server; url: string };
  let gateway: { app: NestFastifyApplication; url: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-dashboard-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets/index-abc123.js'), SCRIPT);
    upstream = await startUpstream();
    gateway = await startGateway(upstream.url, {
      dir,
      oidc: { issuer: ISSUER, clientId: 'gatehouse-dashboard', scope: 'openid profile' },
    });
  });

  afterAll(async () => {
    await gateway?.app.close();
    upstream?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / under the dashboard's policy: own scripts only, the issuer reachable, no framing", async () => {
    const response = await fetch(`${gateway.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toBe(INDEX);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy.split('; ')).toEqual(
      expect.arrayContaining([
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self' https://login.example.com",
        "frame-ancestors 'none'",
        "frame-src 'none'",
      ]),
    );
    expect(policy).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-cache');
  });

  it("answers the dashboard's own routes with index.html, so a reload of /keys works", async () => {
    const response = await fetch(`${gateway.url}/keys/some-id?tab=usage`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
  });

  it('answers an unknown path with the JSON 404 to anything but a browser navigating, and never /API or /METRICS', async () => {
    const client = await fetch(`${gateway.url}/no/such/thing`, { headers: { accept: '*/*' } });
    expect(client.status).toBe(404);
    expect(await client.json()).toMatchObject({ error: 'not_found' });
    for (const path of ['/METRICS', '/Api/v1/nothing', '/HEALTH/live']) {
      const response = await fetch(`${gateway.url}${path}`, { headers: { accept: 'text/html' } });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it('serves the hashed assets for good, and a missing one is a 404 rather than the page', async () => {
    const script = await fetch(`${gateway.url}/assets/index-abc123.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await script.text()).toBe(SCRIPT);

    const missing = await fetch(`${gateway.url}/assets/index-old999.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('sends nothing outside the build, however the path is spelled', async () => {
    for (const path of ['/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fpackage.json']) {
      const response = await fetch(`${gateway.url}${path}`);
      expect(await response.text()).not.toMatch(/root:|"name"/);
    }
  });

  it('gives the run-time sign-in settings at /dashboard/config.json', async () => {
    const response = await fetch(`${gateway.url}/dashboard/config.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      issuer: ISSUER,
      client_id: 'gatehouse-dashboard',
      scope: 'openid profile',
    });
  });

  it('leaves the JSON API as it was: an unknown API path is a JSON 404 under the API policy', async () => {
    const unknown = await fetch(`${gateway.url}/api/v2/nothing`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'not_found' });
    expect(unknown.headers.get('content-security-policy')).toBe(SECURITY_HEADERS['content-security-policy']);

    const proxied = await fetch(`${gateway.url}/api/v1/echo/anything`);
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toEqual({ upstream: true });
    expect(proxied.headers.get('content-security-policy')).toBe(SECURITY_HEADERS['content-security-policy']);
    expect(proxied.headers.get('cache-control')).toBe('no-store');

    const health = await fetch(`${gateway.url}/health/nothing`);
    expect(health.status).toBe(404);
  });
});

describe('the gateway without a dashboard build', () => {
  it('answers / with a 404, as before the dashboard existed', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gatehouse-no-dashboard-'));
    const upstream = await startUpstream();
    const gateway = await startGateway(upstream.url, { dir: empty });
    try {
      const response = await fetch(`${gateway.url}/`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-security-policy')).toBe(
        SECURITY_HEADERS['content-security-policy'],
      );
      expect((await fetch(`${gateway.url}/dashboard/config.json`)).status).toBe(404);
    } finally {
      await gateway.app.close();
      upstream.server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
