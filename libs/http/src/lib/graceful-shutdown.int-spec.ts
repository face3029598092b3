import { Controller, Get, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { enableGracefulShutdown, GRACEFUL_SERVER_OPTIONS } from './graceful-shutdown';
import { HealthModule, ReadinessRegistry } from './health';

/** What happened, in order, across the request handler and the shutdown hooks. */
const events: string[] = [];

/** The slow route waits until the test opens the gate; `entered` resolves once a request is inside. */
let gate: { open: () => void; entered: Promise<void>; enter: () => void; closed: Promise<void> };

function newGate(): typeof gate {
  let open = () => undefined as void;
  let enter = () => undefined as void;
  const closed = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  return { open, enter, entered, closed };
}

/** How long the shutdown hook takes; `never` for a hook that hangs. */
let hookDelay: number | 'never' = 0;

@Controller()
class SlowController {
  @Get('slow')
  async slow(): Promise<{ done: true }> {
    gate.enter();
    await gate.closed;
    events.push('request finished');
    return { done: true };
  }
}

@Injectable()
class BatchedWriter implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    if (hookDelay === 'never') await new Promise(() => undefined);
    else await new Promise((resolve) => setTimeout(resolve, hookDelay as number));
    events.push('flushed');
  }
}

@Module({ imports: [HealthModule.forRoot()], controllers: [SlowController], providers: [BatchedWriter] })
class TestModule {}

async function createApp(): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    TestModule,
    // As createHttpApp configures it.
    new FastifyAdapter({ ...GRACEFUL_SERVER_OPTIONS }),
    { logger: false },
  );
  return app;
}

interface Answer {
  status: number;
  body: string;
}

/** A keep-alive GET, as load balancers and gateways send them. */
function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { headers: { connection: 'keep-alive' } },
      (incoming: IncomingMessage) => {
        let body = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => (body += chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('enableGracefulShutdown', () => {
  let app: NestFastifyApplication;
  let url: string;
  const exit = jest.fn<void, [number]>();

  beforeEach(async () => {
    events.length = 0;
    gate = newGate();
    hookDelay = 0;
    exit.mockReset();
    app = await createApp();
  });

  const listen = async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  };

  it('fails readiness, drains the request in flight, then runs the shutdown hooks, and reports 0', async () => {
    const controls = enableGracefulShutdown(app, { signals: [], exit });
    await listen();
    const readiness = app.get(ReadinessRegistry);
    const inFlight = get(`${url}/slow`);
    await gate.entered;

    const done = controls.shutdown('SIGTERM');
    expect(readiness.shuttingDown).toBe(true);
    // The listener is closed: nothing new gets in.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(get(`${url}/health/live`)).rejects.toThrow(/ECONNREFUSED/);
    expect(events).toEqual([]);

    const released = Date.now();
    gate.open();
    await expect(inFlight).resolves.toEqual({ status: 200, body: '{"done":true}' });
    await expect(done).resolves.toBe(0);
    // The keep-alive connection was closed as soon as it went idle, not at the keep-alive timeout.
    expect(Date.now() - released).toBeLessThan(1000);
    expect(events).toEqual(['request finished', 'flushed']);
    expect(exit).not.toHaveBeenCalled();
  });

  it('serves a request that arrives on an open connection while draining, and closes that connection', async () => {
    const controls = enableGracefulShutdown(app, { signals: [], exit });
    await listen();
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /slow HTTP/1.1\r\nHost: test\r\n\r\n');
    await gate.entered;

    const done = controls.shutdown('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The next request on the same keep-alive connection, sent after shutdown began (as a client that had not
    // seen the shutdown yet would).
    socket.write('GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.open();

    await closed;
    await expect(done).resolves.toBe(0);
    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map(([, status]) => status);
    expect(statuses).toEqual(['200', '200']);
    expect(received).toContain('{"status":"ok"}');
    expect(received.toLowerCase()).toContain('connection: close');
    expect(events).toEqual(['request finished', 'flushed']);
  });

  it('runs once, however often it is asked', async () => {
    const controls = enableGracefulShutdown(app, { signals: [], exit });
    await listen();
    const first = controls.shutdown('SIGTERM');
    const second = controls.shutdown('SIGINT');
    await expect(Promise.all([first, second])).resolves.toEqual([0, 0]);
    expect(events).toEqual(['flushed']);
  });

  it('cuts requests still running at the drain timeout, and still runs the hooks', async () => {
    const controls = enableGracefulShutdown(app, { signals: [], exit, drainTimeoutMs: 200 });
    await listen();
    const inFlight = get(`${url}/slow`).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    await gate.entered;

    const startedAt = Date.now();
    await expect(controls.shutdown('SIGTERM')).resolves.toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    await expect(inFlight).resolves.toMatch(/socket hang up|ECONNRESET/);
    expect(events).toEqual(['flushed']);
    gate.open();
  });

  it('reports 1 when the shutdown hooks outlast their timeout', async () => {
    hookDelay = 'never';
    const controls = enableGracefulShutdown(app, {
      signals: [],
      exit,
      drainTimeoutMs: 100,
      hooksTimeoutMs: 200,
    });
    await listen();
    await expect(controls.shutdown('SIGTERM')).resolves.toBe(1);
  });

  it('exits with the code once a signal it listens to arrives', async () => {
    enableGracefulShutdown(app, { signals: ['SIGUSR2'], exit });
    await listen();
    process.emit('SIGUSR2', 'SIGUSR2');
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (exit.mock.calls.length > 0) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    expect(exit).toHaveBeenCalledWith(0);
    expect(events).toEqual(['flushed']);
  });

  it('stops listening to the signals when the app is closed without one', async () => {
    const before = process.listenerCount('SIGUSR2');
    enableGracefulShutdown(app, { signals: ['SIGUSR2'], exit });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    await listen();
    await app.close();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });
});
