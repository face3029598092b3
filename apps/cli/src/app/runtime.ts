import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Output {
  write(text: string): void;
  /** A terminal: tables and progress bars; otherwise JSON and no bar. */
  isTTY: boolean;
  /** Columns of the terminal, when it is one. */
  columns?: number;
}

/** Everything the CLI takes from its process, so that tests drive it without one. */
export interface Runtime {
  env: Readonly<Record<string, string | undefined>>;
  stdout: Output;
  stderr: Output;
  /** All of standard input, as text. */
  readStdin(): Promise<string>;
  fetch(request: Request): Promise<Response>;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** In [0, 1): the backoff's jitter. */
  random(): number;
  homeDirectory: string;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export function processRuntime(): Runtime {
  const output = (stream: NodeJS.WriteStream): Output => {
    let closed = false;
    // The reader went away (`gatehouse keys list | head`): what is left to print has nobody to read it.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      closed = true;
    });
    return {
      write: (text) => {
        if (!closed) stream.write(text);
      },
      get isTTY() {
        return stream.isTTY === true;
      },
      get columns() {
        return stream.isTTY ? stream.columns : undefined;
      },
    };
  };
  return {
    env: process.env,
    stdout: output(process.stdout),
    stderr: output(process.stderr),
    readStdin: () => readAll(process.stdin),
    fetch: (request) => fetch(request),
    now: () => Date.now(),
    sleep: (ms) => sleep(ms),
    random: () => Math.random(),
    homeDirectory: homedir(),
  };
}
