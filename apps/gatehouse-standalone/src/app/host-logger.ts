import type { LoggerService } from '@nestjs/common';
import type { LogFormat } from '@gatehouse/config';
import { createPrettyFormatter } from '@gatehouse/http';

export const HOST_SERVICE = 'gatehouse-standalone';

type Level = 'info' | 'warn' | 'error' | 'fatal';

/**
 * JSON until the configuration has been read (a configuration error is reported in JSON, whatever LOG_FORMAT
 * said), then what LOG_FORMAT says, as the apps of this process do.
 */
let format: (entry: object) => string = (entry) => `${JSON.stringify(entry)}\n`;
let pretty = false;

export function useHostLogFormat(logFormat: LogFormat): void {
  pretty = logFormat === 'pretty';
  if (pretty) format = createPrettyFormatter();
}

/** True when the host's output is meant for a person (LOG_FORMAT=pretty). */
export function hostLogIsPretty(): boolean {
  return pretty;
}

/** The host's own lines, in the same shape as the apps' logs, on stdout. */
export function hostLog(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(format({ level, time: Date.now(), service: HOST_SERVICE, message, ...fields }));
}

/** For the host's Nest context: warnings and errors as log lines; Nest's start-up chatter is dropped. */
export class HostLogger implements LoggerService {
  log(): void {
    return;
  }

  error(message: unknown, _trace?: string, context?: string): void {
    hostLog('error', String(message), { context });
  }

  warn(message: unknown, context?: string): void {
    hostLog('warn', String(message), { context });
  }
}
