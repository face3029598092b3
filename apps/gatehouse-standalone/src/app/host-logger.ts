import type { LoggerService } from '@nestjs/common';

export const HOST_SERVICE = 'gatehouse-standalone';

type Level = 'info' | 'warn' | 'error' | 'fatal';

/** The host's own lines, in the same JSON shape as the apps' logs, on stdout. */
export function hostLog(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ level, time: Date.now(), service: HOST_SERVICE, message, ...fields })}\n`,
  );
}

/** For the host's Nest context: warnings and errors as JSON lines; Nest's start-up chatter is dropped. */
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
