import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_TELEMETRY_FLUSH_MS, flushTelemetry } from '@gatehouse/telemetry';
import { ReadinessRegistry } from './health';

export const DEFAULT_SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
/** Longest wait for in-flight requests; Kubernetes' default grace period (30 s) leaves room for the rest. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Longest wait for the shutdown hooks (flushing batched writes, closing pools) once the requests are done. */
export const DEFAULT_HOOKS_TIMEOUT_MS = 10_000;

const IDLE_SWEEP_MS = 50;

/**
 * The Fastify server options the shutdown relies on. Idle keep-alive connections are closed when the server
 * closes. A request that still arrives on an open connection while the app drains (a pooled connection of the
 * gateway, reused right after its previous response) is served, with `Connection: close`, instead of Fastify's
 * default 503: the app can still do the work, and a 503 would reach the gateway's client as a failed request.
 */
export const GRACEFUL_SERVER_OPTIONS = { return503OnClosing: false, forceCloseConnections: 'idle' } as const;

export interface GracefulShutdownOptions {
  signals?: NodeJS.Signals[];
  drainTimeoutMs?: number;
  hooksTimeoutMs?: number;
  /** How the process ends; replaced in tests. */
  exit?: (code: number) => void;
}

export interface GracefulShutdown {
  /** Runs the shutdown once (later calls share it) and resolves with the exit code it would use. */
  shutdown(reason: string): Promise<number>;
  /** Stops listening to the signals; called when the app is closed some other way. */
  dispose(): void;
}

/**
 * Closes the HTTP server and waits for its in-flight requests: no new connection is accepted, requests arriving
 * on open keep-alive connections are answered with `Connection: close`, and connections are closed as soon as
 * they are idle (Node only closes the idle ones once, when the server closes, so they are swept until the
 * server is gone). Past `timeoutMs`, the remaining connections are cut. Resolves with whether everything
 * finished in time.
 */
export async function drainHttpServer(fastify: FastifyInstance, timeoutMs: number): Promise<boolean> {
  const server = fastify.server;
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    server.closeAllConnections();
  }, timeoutMs);
  try {
    await fastify.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
  return !timedOut;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT, in this order:
 * 1. readiness answers 503 from now on;
 * 2. the HTTP server stops accepting connections and in-flight requests finish (bounded by the drain timeout);
 * 3. Nest's shutdown hooks run (`onModuleDestroy`, `beforeApplicationShutdown`, `onApplicationShutdown`): the
 *    batched usage writes are flushed only now, so that what the last requests recorded is written, and the
 *    database pools close after them;
 * 4. with tracing on, the spans still batched are exported (bounded by DEFAULT_TELEMETRY_FLUSH_MS): the last
 *    requests' spans, and those of the shutdown itself;
 * 5. the process exits with 0, or 1 when a step failed or the whole took longer than both timeouts.
 * Nest's own `enableShutdownHooks` would run the hooks in the same order but without a bound on the drain, and
 * it ends the process by re-raising the signal, which reports a kill instead of a clean exit.
 */
export function enableGracefulShutdown(
  app: NestFastifyApplication,
  options: GracefulShutdownOptions = {},
): GracefulShutdown {
  const signals = options.signals ?? DEFAULT_SHUTDOWN_SIGNALS;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const hooksTimeoutMs = options.hooksTimeoutMs ?? DEFAULT_HOOKS_TIMEOUT_MS;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const logger = new Logger('Shutdown');
  const fastify = app.getHttpAdapter().getInstance();
  let running: Promise<number> | undefined;

  const run = async (reason: string): Promise<number> => {
    const startedAt = Date.now();
    let readiness: ReadinessRegistry | undefined;
    try {
      readiness = app.get(ReadinessRegistry, { strict: false });
    } catch {
      readiness = undefined;
    }
    readiness?.beginShutdown();
    logger.log({ message: 'shutting down: draining in-flight requests', reason, drainTimeoutMs });
    let deadline: NodeJS.Timeout | undefined;
    const overdue = new Promise<number>((resolve) => {
      deadline = setTimeout(() => {
        logger.error({ message: 'shutdown did not finish in time', reason });
        resolve(1);
      }, drainTimeoutMs + hooksTimeoutMs);
      deadline.unref();
    });
    const steps = async (): Promise<number> => {
      const drained = await drainHttpServer(fastify, drainTimeoutMs);
      if (!drained) logger.warn({ message: 'drain timeout: open connections were cut', drainTimeoutMs });
      await app.close();
      if (!(await flushTelemetry(DEFAULT_TELEMETRY_FLUSH_MS))) {
        logger.warn({
          message: 'the last spans were not exported in time',
          flushTimeoutMs: DEFAULT_TELEMETRY_FLUSH_MS,
        });
      }
      logger.log({ message: 'shutdown complete', reason, durationMs: Date.now() - startedAt });
      return 0;
    };
    try {
      return await Promise.race([steps(), overdue]);
    } catch (error) {
      logger.error({ message: `shutdown failed: ${(error as Error).message}`, reason, err: error });
      return 1;
    } finally {
      clearTimeout(deadline);
      dispose();
    }
  };

  const shutdown = (reason: string): Promise<number> => {
    running ??= run(reason);
    return running;
  };
  // A second signal while draining changes nothing: the drain and hook timeouts bound the wait.
  const onSignal = (signal: NodeJS.Signals) => void shutdown(signal).then(exit);
  for (const signal of signals) process.on(signal, onSignal);
  function dispose(): void {
    for (const signal of signals) process.removeListener(signal, onSignal);
  }
  // Closed without a signal (tests, embedding code): nothing must keep listening for this app.
  fastify.addHook('onClose', (_instance, done) => {
    if (!running) dispose();
    done();
  });
  return { shutdown, dispose };
}
