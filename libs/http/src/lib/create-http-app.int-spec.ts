import 'reflect-metadata';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Module, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { HttpServiceConfig, loadConfig } from '@gatehouse/config';
import { createHttpApp } from './create-http-app';
import { HealthModule } from './health';
import { createLoggerModule } from './logging';
import { PortUnavailableError } from './management-server';

@Module({})
class TestAppModule {
  static register(): DynamicModule {
    return {
      module: TestAppModule,
      imports: [createLoggerModule('auth-service', 'silent'), HealthModule.forRoot()],
    };
  }
}

/** A port taken by a server of this test until `release()`. */
async function takePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port free right now: taken, then released. */
async function freePort(): Promise<number> {
  const taken = await takePort();
  await taken.release();
  return taken.port;
}

const configWith = (environment: Record<string, string>) =>
  loadConfig(HttpServiceConfig, { PORT: '0', LOG_LEVEL: 'silent', ...environment });

/** The error `promise` rejects with; fails the test if it resolves. */
async function failureOf(promise: Promise<NestFastifyApplication>): Promise<unknown> {
  return promise.then(
    async (app) => {
      await app.close();
      throw new Error('the app started');
    },
    (error: unknown) => error,
  );
}

describe('createHttpApp: the management port', () => {
  it('serves /metrics there, 404 in the error shape on the public port, and closes it with the app', async () => {
    const managementPort = await freePort();
    const app = await createHttpApp(
      TestAppModule.register(),
      configWith({ MANAGEMENT_PORT: String(managementPort) }),
    );
    const metricsUrl = `http://127.0.0.1:${managementPort}/metrics`;
    try {
      const url = await app.getUrl();
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      const onPublicPort = await fetch(`${url}/metrics`);
      expect(onPublicPort.status).toBe(404);
      expect(await onPublicPort.json()).toMatchObject({ error: 'not_found', request_id: expect.any(String) });

      const scraped = await fetch(metricsUrl);
      expect(scraped.status).toBe(200);
      const text = await scraped.text();
      expect(text).toMatch(/http_requests_total\{[^}]*route="\/health\/live"/);
      // The refused public /metrics counts as an unmatched request; the scrape itself is not an HTTP request of the app.
      expect(text).toMatch(/http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/);
      expect(text).not.toContain('route="/metrics"');
    } finally {
      await app.close();
    }
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });

  it('refuses a management port in use in one line naming MANAGEMENT_PORT', async () => {
    const taken = await takePort();
    try {
      const failure = await failureOf(
        createHttpApp(TestAppModule.register(), configWith({ MANAGEMENT_PORT: String(taken.port) })),
      );
      expect(failure).toBeInstanceOf(PortUnavailableError);
      expect((failure as Error).message).toBe(
        `port ${taken.port} is in use on 127.0.0.1: set MANAGEMENT_PORT to a free port (0 picks one)`,
      );
    } finally {
      await taken.release();
    }
  });

  it('refuses a public port in use naming PORT, and frees the management port it had opened', async () => {
    const taken = await takePort();
    const managementPort = await freePort();
    try {
      const failure = await failureOf(
        createHttpApp(
          TestAppModule.register(),
          configWith({ PORT: String(taken.port), MANAGEMENT_PORT: String(managementPort) }),
        ),
      );
      expect(failure).toBeInstanceOf(PortUnavailableError);
      expect((failure as Error).message).toContain(`port ${taken.port} is in use on 127.0.0.1: set PORT `);
      const again = await takePortAt(managementPort);
      await again.release();
    } finally {
      await taken.release();
    }
  });
});

async function takePortAt(port: number): Promise<{ release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
