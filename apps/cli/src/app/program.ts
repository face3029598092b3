import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Api } from './api';
import {
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  ENV,
  insecureTransportWarning,
  keyOnCommandLine,
  resolveConfig,
  type GlobalOptions,
} from './config';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import { DEFAULT_RETRY_POLICY } from './retry';
import type { Runtime } from './runtime';
import { isSeverity, SEVERITIES, type Severity } from './severity';
import { CLI_VERSION } from './version';
import { getFinding, getScan, listFindings, listScans, summarizeFindings } from './commands/findings';
import { printToken, whoami } from './commands/identity';
import {
  changeKey,
  createKey,
  deleteKey,
  getKey,
  keyUsage,
  listKeys,
  PERMISSIONS,
  rotateKey,
  updateKey,
  type KeyAction,
  type UpdateKeyOptions,
} from './commands/keys';
import { DEFAULT_WAIT_TIMEOUT_SECONDS, upload } from './commands/upload';

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`an integer from ${min} to ${max}`);
    }
    return Number(value);
  };
}

function severity(value: string): Severity {
  if (!isSeverity(value)) throw new InvalidArgumentError(`one of ${SEVERITIES.join(', ')}`);
  return value;
}

/** `a,b` and repeated flags both add to the list. */
function listOf<T extends string>(allowed: readonly T[]) {
  return (value: string, previous: T[] | undefined): T[] => {
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new InvalidArgumentError(`${item} is not one of ${allowed.join(', ')}`);
      }
    }
    return [...(previous ?? []), ...(items as T[])];
  };
}

function repeated(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function isoDate(value: string): string {
  if (Number.isNaN(Date.parse(value)))
    throw new InvalidArgumentError('an ISO 8601 date, e.g. 2030-01-31T00:00:00Z');
  return value;
}

const ENVIRONMENT_HELP = `
Environment:
  ${ENV.apiUrl}     the gateway, e.g. https://gatehouse.example.com (--api-url)
  ${ENV.apiKey}     the API key (never on the command line; or --api-key-stdin)
  ${ENV.clientId}   the client_id registered with the key (--client-id)
  XDG_CACHE_HOME        the token cache is $XDG_CACHE_HOME/gatehouse (default ~/.cache/gatehouse)

Exit codes:
  0 ok · 1 open findings at or above --fail-on · 2 usage error · 3 authentication or permission refused
  4 service unavailable after retries · 5 request refused as invalid · 6 unexpected answer

Documentation: docs/CLI.md`;

const UPLOAD_HELP = `
The scan context (repository, commit, ref) comes from the flags, else from the CI's variables (GitHub Actions,
GitLab CI, Jenkins, Azure Pipelines, Bitbucket Pipelines, CircleCI), else from the SARIF itself.
An Idempotency-Key derived from each file's content and context makes a retried step return the first answer.

Examples:
  gatehouse upload results.sarif
  gatehouse upload semgrep.sarif trivy.sarif --fail-on high
  gatehouse upload findings.json --repository acme/payments --ref refs/heads/main --commit "$SHA" --json`;

export interface Outcome {
  exitCode: number;
}

/** The command tree; every action's exit code lands in `outcome`. */
export function buildProgram(runtime: Runtime, outcome: Outcome): Command {
  const program = new Command('gatehouse');
  const withApi =
    <A extends unknown[]>(run: (api: Api, ...args: A) => Promise<number>) =>
    async (...args: A) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals<GlobalOptions>();
      const config = await resolveConfig(options, runtime);
      const warning = insecureTransportWarning(config.apiUrl);
      if (warning) runtime.stderr.write(`gatehouse: ${warning}\n`);
      outcome.exitCode = await run(new Api(config, runtime), ...args);
    };

  program
    .description(
      'Upload scanner findings from CI pipelines, gate builds on them, and manage Gatehouse API keys.',
    )
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--api-url <url>', `the gateway's URL (default: $${ENV.apiUrl})`)
    .option('--client-id <id>', `the client_id registered with the key (default: $${ENV.clientId})`)
    .option('--api-key-stdin', `read the API key from standard input instead of $${ENV.apiKey}`)
    .option('--json', 'JSON on stdout (lists and records print JSON whenever stdout is not a terminal)')
    .option('--no-token-cache', 'neither read nor write the access token cache')
    .option(
      '--retries <n>',
      `retries after a network error, 429, 502, 503 or 504 (default: ${DEFAULT_RETRY_POLICY.maxAttempts - 1})`,
      integer(0, 20),
    )
    .option(
      '--retry-max-time <seconds>',
      `no retry starts after this long (default: ${DEFAULT_RETRY_POLICY.maxElapsedMs / 1000})`,
      integer(0, 3600),
    )
    .option(
      '--timeout <seconds>',
      `time limit of each request (default: ${DEFAULT_REQUEST_TIMEOUT_SECONDS})`,
      integer(1, 3600),
    )
    .option('-v, --verbose', 'say what is sent and answered (never a key or token)')
    .addHelpText('after', ENVIRONMENT_HELP)
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => runtime.stdout.write(text),
      writeErr: (text) => runtime.stderr.write(text),
    })
    .exitOverride();

  program
    .command('upload')
    .description('upload SARIF or native JSON findings files; each becomes one scan')
    .argument('<files...>', 'SARIF 2.1.0 logs or native {"findings": [...]} files, optionally gzipped')
    .option('--repository <name>', 'repository scanned, e.g. acme/payments (default: from the CI)')
    .option('--commit <sha>', 'commit scanned (default: from the CI)')
    .option('--ref <ref>', 'branch, tag or pull request ref, e.g. refs/heads/main (default: from the CI)')
    .option('--tool <name>', "scanner name; replaces the SARIF runs' tool.driver.name")
    .option('--no-detect', "ignore the CI's variables")
    .addOption(
      new Option('--format <format>', 'how to send the files')
        .choices(['auto', 'sarif', 'native'])
        .default('auto'),
    )
    .option(
      '--fail-on <severity>',
      `exit 1 when open findings at or above this severity exist for the repository and ref (${SEVERITIES.join(', ')}); needs read:findings`,
      severity,
    )
    .option('--no-wait', 'do not wait for uploads the server processes after answering (202)')
    .option(
      '--wait-timeout <seconds>',
      `how long to wait for them (default: ${DEFAULT_WAIT_TIMEOUT_SECONDS})`,
      integer(1, 86_400),
    )
    .option('--async', 'ask the server to process after answering (Prefer: respond-async)')
    .option('--progress', 'show a progress bar whatever the size and terminal')
    .option('--no-progress', 'never show a progress bar')
    .addHelpText('after', UPLOAD_HELP)
    .action(
      withApi(
        (
          api,
          files: string[],
          options: {
            repository?: string;
            commit?: string;
            ref?: string;
            tool?: string;
            detect: boolean;
            format: 'auto' | 'sarif' | 'native';
            failOn?: Severity;
            wait: boolean;
            waitTimeout?: number;
            async?: boolean;
            progress?: boolean;
          },
        ) =>
          upload(api, runtime, files, {
            ...options,
            async: options.async === true,
            waitTimeoutSeconds: options.waitTimeout ?? DEFAULT_WAIT_TIMEOUT_SECONDS,
          }),
      ),
    );

  program
    .command('token')
    .description('print an access token (cached until a minute before it expires), e.g. for curl')
    .addHelpText(
      'after',
      '\nExample:\n  curl -H "Authorization: Bearer $(gatehouse token)" "$GATEHOUSE_API_URL/api/v1/scans"',
    )
    .action(withApi((api) => printToken(api, runtime)));

  program
    .command('whoami')
    .description("show the configured key's organization, key id, client id, permissions and token expiry")
    .action(withApi((api) => whoami(api, runtime)));

  const keys = program.command('keys').description('manage API keys (read:keys, write:keys)');
  const page = (command: Command, max: number) =>
    command
      .option('--limit <n>', `page size (1-${max}; default 50)`, integer(1, max))
      .option('--cursor <cursor>', 'next_cursor of the previous page')
      .option('--all', 'every page');

  page(
    keys
      .command('list')
      .description('list keys, newest first unless --sort/--order say otherwise')
      .addOption(
        new Option('--status <status>').choices([
          'active',
          'rotating',
          'disabled',
          'revoked',
          'expired',
          'expiring_soon',
        ]),
      )
      .addOption(new Option('--environment <environment>').choices(['live', 'test']))
      .option('--search <text>', 'names containing it, or client ids starting with it (case-insensitive)')
      .addOption(
        new Option('--sort <field>', 'sort by (default created_at)').choices([
          'created_at',
          'last_used_at',
          'name',
        ]),
      )
      .addOption(new Option('--order <order>', 'direction (default desc)').choices(['asc', 'desc'])),
    100,
  ).action(withApi((api, options: Parameters<typeof listKeys>[2]) => listKeys(api, runtime, options)));

  keys
    .command('create')
    .description('create a key; its secret is shown this once (or written to --out)')
    .requiredOption('--name <name>', 'a label for people')
    .requiredOption('--key-client-id <id>', "the new key's client_id (3-50 of A-Z a-z 0-9 . _ -)")
    .requiredOption(
      '--permissions <list>',
      `comma-separated, or repeat the flag: ${PERMISSIONS.join(', ')}`,
      listOf(PERMISSIONS),
    )
    .option('--expires-at <date>', 'when it stops working (ISO 8601)', isoDate)
    .option('--expires-in-days <days>', 'when it stops working, in days from now', integer(1, 3650))
    .addOption(
      new Option('--environment <environment>', 'gth_live_ or gth_test_ secret').choices(['live', 'test']),
    )
    .option('--allowed-ip <cidr>', 'an address or CIDR it may be used from (repeat the flag)', repeated)
    .option('--description <text>', 'free text (at most 500 characters)')
    .option('--metadata <name=value>', 'a label (repeat the flag; at most 20)', repeated)
    .option('--out <file>', 'write the key with its secret there (owner-only, never over an existing file)')
    .addHelpText(
      'after',
      '\nExample:\n  gatehouse keys create --name "CI (main)" --key-client-id ci-main \\\n' +
        '    --permissions write:findings,read:findings --expires-in-days 90 --metadata team=platform \\\n' +
        '    --out ci-main.json',
    )
    .action(withApi((api, options: Parameters<typeof createKey>[2]) => createKey(api, runtime, options)));

  keys
    .command('get')
    .description('show one key')
    .argument('<id>', 'key id')
    .action(withApi((api, id: string) => getKey(api, runtime, id)));

  keys
    .command('update')
    .description("rename a key, or set its description or metadata (what it may do doesn't change)")
    .argument('<id>', 'key id')
    .option('--name <name>', 'a new label for people')
    .option('--description <text>', 'free text (at most 500 characters); "" removes it')
    .option('--metadata <name=value>', 'replaces the whole metadata (repeat the flag; at most 20)', repeated)
    .option('--clear-metadata', 'remove every metadata entry')
    .addHelpText(
      'after',
      '\nExample:\n  gatehouse keys update <id> --name "CI (main)" --metadata team=platform',
    )
    .action(withApi((api, id: string, options: UpdateKeyOptions) => updateKey(api, runtime, id, options)));

  keys
    .command('rotate')
    .description(
      'give a key a new secret (shown this once, or written to --out); the previous one keeps working',
    )
    .argument('<id>', 'key id')
    .option(
      '--grace-period <seconds>',
      'how long the previous secret keeps working (0-604800; default 86400)',
      integer(0, 604_800),
    )
    .option(
      '--out <file>',
      'write the key with its new secret there (owner-only, never over an existing file)',
    )
    .action(
      withApi((api, id: string, options: { gracePeriod?: number; out?: string }) =>
        rotateKey(api, runtime, id, options),
      ),
    );

  const actions: [KeyAction, string][] = [
    ['finish-rotation', "retire a rotating key's previous secret now"],
    ['revoke', 'revoke a key: it and its tokens stop working at once, for good'],
    ['disable', 'switch a key off until it is enabled again'],
    ['enable', 'switch a disabled key back on'],
  ];
  for (const [action, description] of actions) {
    keys
      .command(action)
      .description(description)
      .argument('<id>', 'key id')
      .action(withApi((api, id: string) => changeKey(api, runtime, action, id)));
  }

  keys
    .command('delete')
    .description('delete a key: revoked, its secret hashes erased, gone from lists (its audit trail stays)')
    .argument('<id>', 'key id')
    .option('--yes', 'confirm')
    .action(
      withApi((api, id: string, options: { yes?: boolean }) =>
        deleteKey(api, runtime, id, options.yes === true),
      ),
    );

  page(
    keys
      .command('usage')
      .description("a key's authentication attempts, newest first")
      .argument('<id>', 'key id')
      .option('--outcome <outcome>', '`success` or an error code, e.g. client_id_mismatch'),
    200,
  ).action(
    withApi((api, id: string, options: Parameters<typeof keyUsage>[3]) =>
      keyUsage(api, runtime, id, options),
    ),
  );

  const findings = program.command('findings').description('read findings (read:findings)');
  page(
    findings
      .command('list')
      .description('list findings, newest first seen first')
      .addOption(new Option('--state <state>').choices(['open', 'fixed']))
      .option(
        '--severity <list>',
        `comma-separated, or repeat the flag: ${SEVERITIES.join(', ')}`,
        listOf(SEVERITIES),
      )
      .option('--tool <name>')
      .option('--rule <rule_id>')
      .option('--repository <name>')
      .option('--ref <ref>')
      .option('--path-prefix <prefix>', 'location path starts with this (literally)')
      .option('--scan <id>', 'findings this scan reported')
      .option('--since <date>', 'first seen at or after (ISO 8601)', isoDate)
      .option('--before <date>', 'first seen before (ISO 8601)', isoDate),
    100,
  ).action(
    withApi((api, options: Parameters<typeof listFindings>[2]) => listFindings(api, runtime, options)),
  );

  findings
    .command('summary')
    .description('open and fixed findings by severity')
    .option('--repository <name>')
    .option('--ref <ref>')
    .option('--tool <name>')
    .addOption(
      new Option('--group-by <field>', 'also count per repository or tool').choices(['repository', 'tool']),
    )
    .action(
      withApi((api, options: Parameters<typeof summarizeFindings>[2]) =>
        summarizeFindings(api, runtime, options),
      ),
    );

  findings
    .command('get')
    .description('one finding with its history')
    .argument('<id>', 'finding id')
    .action(withApi((api, id: string) => getFinding(api, runtime, id)));

  const scans = program.command('scans').description('read uploads and their processing (read:findings)');
  page(
    scans
      .command('list')
      .description('list scans, newest first')
      .addOption(new Option('--status <status>').choices(['queued', 'processing', 'completed', 'failed']))
      .option('--repository <name>')
      .option('--ref <ref>'),
    100,
  ).action(withApi((api, options: Parameters<typeof listScans>[2]) => listScans(api, runtime, options)));

  scans
    .command('get')
    .description('one scan: status, context, counts, error')
    .argument('<id>', 'scan id')
    .action(withApi((api, id: string) => getScan(api, runtime, id)));

  return program;
}

/** Runs the CLI on `args` (without node and the script) and gives its exit code; never exits the process. */
export async function runCli(args: string[], runtime: Runtime): Promise<number> {
  const refusal = keyOnCommandLine(args);
  if (refusal) {
    runtime.stderr.write(`gatehouse: ${refusal}\n`);
    return ExitCode.Usage;
  }
  const outcome: Outcome = { exitCode: ExitCode.Ok };
  const program = buildProgram(runtime, outcome);
  if (args.length === 0) {
    runtime.stderr.write(program.helpInformation());
    return ExitCode.Usage;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const done = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
      return done && error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (error instanceof CliError) {
      runtime.stderr.write(`gatehouse: ${error.message}\n`);
      return error.exitCode;
    }
    runtime.stderr.write(
      `gatehouse: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return ExitCode.Unexpected;
  }
}
