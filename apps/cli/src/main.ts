import { runCli } from './app/program';
import { processRuntime } from './app/runtime';

runCli(process.argv.slice(2), processRuntime()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: unexpected error: ${String(error)}\n`);
    process.exitCode = 6;
  },
);
