import type { LoggerService } from '@nestjs/common';

/** Keeps stdout for the command's result (bootstrap prints JSON there); every log line goes to stderr. */
export class StderrLogger implements LoggerService {
  /** Nest's start-up chatter is not worth a line in a one-shot command. */
  log(): void {
    return;
  }

  error(message: unknown, _trace?: string, context?: string): void {
    this.write('error', message, context);
  }

  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }

  private write(level: string, message: unknown, context?: string): void {
    process.stderr.write(`${JSON.stringify({ level, context, message })}\n`);
  }
}
