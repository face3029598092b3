import { setTimeout as sleep } from 'node:timers/promises';
import { hostLog } from './host-logger';
import { StartupRefusal } from './startup';

/** Each app bounds its own graceful shutdown (10 s drain + 10 s hooks); this is the backstop. */
const STOP_TIMEOUT_MS = 25_000;
/** The host's own cleanup (control channel, database) gets this much more before the process ends regardless. */
const CLEANUP_TIMEOUT_MS = 15_000;
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

type Listener = (...args: unknown[]) => void;
type ExitCode = number | string | null | undefined;

/**
 * Start and stop of the four apps sharing this process. Each app handles SIGTERM/SIGINT itself (drain, flush, close
 * its pools) and then ends the process: alone in its process that is right, here it would cut the others short and
 * leave PGlite unclosed. So `process.exit` is held back: the suite stops once every app has finished its shutdown
 * (its signal listeners are gone), then the host's own cleanup runs (control channel, then the database), and only
 * then does the process exit, with the highest code any app asked for. An app that ends the process by itself (a
 * start-up failure) stops the whole suite the same way.
 */
export class SuiteLifecycle {
  private readonly exit = process.exit.bind(process);
  private readonly cleanup: { name: string; run: () => Promise<void> }[] = [];
  private readonly hostListeners: ReadonlySet<Listener>;
  private exitCode = 0;
  private stopped: Promise<void> | undefined;

  constructor() {
    const onSignal = (signal: NodeJS.Signals) => void this.stop(signal, false);
    for (const signal of SIGNALS) process.on(signal, onSignal);
    this.hostListeners = new Set(process.listeners('SIGTERM') as Listener[]);
    process.exit = (code?: ExitCode): never => {
      this.record(code);
      void this.stop('an app ended the process', true);
      return undefined as never;
    };
  }

  /** True once the suite is stopping: start-up goes no further. */
  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /** Cleanup steps run in reverse order of registration, after the apps have stopped. */
  onStop(name: string, run: () => Promise<void>): void {
    this.cleanup.push({ name, run });
  }

  fail(error: unknown): Promise<void> {
    this.record(1);
    const reason = error instanceof Error ? error.message : String(error);
    hostLog(
      'fatal',
      error instanceof StartupRefusal ? reason : `the standalone suite failed to start: ${reason}`,
    );
    // Refused before anything started (a taken port, a bad variable): that one line is the whole story.
    if (this.cleanup.length === 0 && this.appsRunning() === 0) {
      this.exit(this.exitCode);
      return Promise.resolve();
    }
    return this.stop('start-up failed', true);
  }

  /** Apps still running: each one listens to the signals until its shutdown has finished. */
  private appsRunning(): number {
    return (process.listeners('SIGTERM') as Listener[]).filter(
      (listener) => !this.hostListeners.has(listener),
    ).length;
  }

  private record(code: ExitCode): void {
    const value = typeof code === 'number' ? code : Number.parseInt(String(code ?? 0), 10);
    this.exitCode = Math.max(this.exitCode, Number.isInteger(value) ? value : 1);
  }

  private stop(reason: string, signalApps: boolean): Promise<void> {
    // Set before stopAll runs: the SIGTERM it emits to the apps reaches this class's own listener too, which must
    // find the suite stopping already rather than start a second stop.
    this.stopped ??= Promise.resolve().then(() => this.stopAll(reason, signalApps));
    return this.stopped;
  }

  private async stopAll(reason: string, signalApps: boolean): Promise<void> {
    hostLog('info', 'stopping the standalone suite', { reason, apps_running: this.appsRunning() });
    setTimeout(() => {
      hostLog('error', 'the standalone suite did not stop in time; exiting');
      this.exit(1);
    }, STOP_TIMEOUT_MS + CLEANUP_TIMEOUT_MS);
    // A signal reaches the apps by itself; otherwise they are told the way an orchestrator would tell them.
    if (signalApps && this.appsRunning() > 0) process.emit('SIGTERM', 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.appsRunning() > 0 && Date.now() < deadline) await sleep(25);
    if (this.appsRunning() > 0) {
      this.record(1);
      hostLog('error', 'some apps did not stop in time', { apps_running: this.appsRunning() });
    }
    for (const step of [...this.cleanup].reverse()) {
      try {
        await step.run();
      } catch (error) {
        this.record(1);
        hostLog('error', `${step.name} failed to close: ${(error as Error).message}`);
      }
    }
    hostLog('info', 'standalone suite stopped', { exit_code: this.exitCode });
    this.exit(this.exitCode);
  }
}
