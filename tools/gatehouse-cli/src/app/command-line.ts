import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ORGANIZATION_NAME, ROLES, type Role } from '@gatehouse/contracts';
import { PLANS, type Plan } from '@gatehouse/persistence';

/** Exit status of a usage error, as for most command-line tools (and Node's own). */
export const USAGE_EXIT_CODE = 2;

/** A command line the CLI cannot run: the message, then the usage of what was asked. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const ENVIRONMENT = `Environment:
  DATABASE_URL, REDIS_URL  with either set, the commands work on that PostgreSQL server (the other takes its
                           default). With neither set they work in standalone mode, on the embedded database in
                           GATEHOUSE_DATA_DIR (default .data/ at the repository root): bootstrap through the
                           running standalone suite (npm start), migrate through it or on the files when it is
                           stopped, revert only while it is stopped.`;

const EXIT_STATUS = `Exit status: 0 done, 1 failed (the reason on stderr), ${USAGE_EXIT_CODE} usage error.`;

export const COMMAND_USAGE = {
  migrate: `Usage: gatehouse-cli migrate                 (from the repository: npm run db:migrate)

Applies pending migrations, creating the database first if it is missing. Running it again does nothing.

${ENVIRONMENT}

${EXIT_STATUS}
`,
  revert: `Usage: gatehouse-cli revert                  (from the repository: npm run db:revert)

Undoes the last applied migration. In standalone mode, with the suite stopped.

${ENVIRONMENT}

${EXIT_STATUS}
`,
  bootstrap: `Usage: gatehouse-cli bootstrap --org <name> [--plan <plan>] [--out <file>]
       (from the repository: npm run bootstrap -- --org <name> [--plan <plan>] [--out <file>])

Creates organization <name> if missing, with an owner key holding every permission, and prints that key once,
as one JSON object on stdout. An organization that already has an owner key is refused (its key is not shown
again); create further keys through the API with the owner key.

Options:
  --org <name>     1–40 lowercase letters, digits or "-", not starting or ending with "-"
  --plan <plan>    ${PLANS.join(' | ')} (default enterprise)
  --out <file>     write the key to <file> instead, readable by you only (0600); an existing file is never
                   overwritten (refused before anything is created), so the command is safe to run twice
  -h, --help       this text

${ENVIRONMENT}

${EXIT_STATUS}
`,
  'dev-users': `Usage: gatehouse-cli dev-users add --org <name> --role <role> [--username <name>]
       (from the repository: npm run dev-users -- add --org <name> --role <role> [--username <name>])

Standalone mode only, with the suite running (npm start) and its development identity provider on: adds a user
who signs in to the dashboard as <role> of organization <name>, and prints its username and random password once,
as one JSON object on stdout.

Options:
  --org <name>       an organization made by bootstrap
  --role <role>      ${ROLES.join(' | ')}
  --username <name>  default <role>@<org>
  -h, --help         this text

${EXIT_STATUS}
`,
} as const;

export const USAGE = `Usage: gatehouse-cli <command> [options]
       (from the repository: npm run db:migrate | npm run db:revert | npm run bootstrap -- <options>)

Gatehouse's operations: the database schema, and the first owner key of an organization.

Commands:
  migrate                 apply pending migrations (creating the database if missing)
  revert                  undo the last migration
  bootstrap --org <name> [--plan <plan>] [--out <file>]
                          create an organization and print its owner key once, or write it to <file>
  dev-users add --org <name> --role <role> [--username <name>]
                          standalone: a user of the development identity provider, its password printed once
  help [command]          this text, or one command's

Options:
  -h, --help              help (after a command: that command's)

${ENVIRONMENT}

${EXIT_STATUS}
`;

export type Command = keyof typeof COMMAND_USAGE;

export type CommandLine =
  | { command: 'help'; text: string }
  | { command: 'migrate' }
  | { command: 'revert' }
  | { command: 'bootstrap'; org: string; plan: Plan; out?: string }
  | { command: 'dev-users'; org: string; role: Role; username?: string };

const isCommand = (name: string): name is Command => Object.hasOwn(COMMAND_USAGE, name);

/** node:util's parse errors, in a sentence of ours. */
function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${quoted}`, usage);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(`unexpected argument "${quoted}"`, usage);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(`${quoted.split(' ')[0] || 'an option'} needs a value`, usage);
    }
    throw new UsageError(message, usage);
  }
}

/** What the command line asks for; nothing is read or written here. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given', USAGE);
  if (first === '--help' || first === '-h') return { command: 'help', text: USAGE };
  if (first === 'help') {
    const [topic, ...more] = rest;
    if (topic === undefined) return { command: 'help', text: USAGE };
    if (!isCommand(topic) || more.length > 0) throw new UsageError(`no help on "${rest.join(' ')}"`, USAGE);
    return { command: 'help', text: COMMAND_USAGE[topic] };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`, USAGE);
  if (!isCommand(first)) throw new UsageError(`unknown command "${first}"`, USAGE);

  const usage = COMMAND_USAGE[first];
  const help = { help: { type: 'boolean', short: 'h' } } as const;
  if (first === 'migrate' || first === 'revert') {
    const values = parseOptions([...rest], help, usage);
    return values.help ? { command: 'help', text: usage } : { command: first };
  }
  if (first === 'dev-users') return parseDevUsers(rest, usage);
  const values = parseOptions(
    [...rest],
    { ...help, org: { type: 'string' }, plan: { type: 'string' }, out: { type: 'string' } },
    usage,
  );
  if (values.help) return { command: 'help', text: usage };
  const { org, plan = 'enterprise', out } = values as { org?: string; plan?: string; out?: string };
  if (org === undefined) throw new UsageError('--org is required', usage);
  if (!ORGANIZATION_NAME.test(org)) {
    throw new UsageError(
      '--org must be 1–40 lowercase letters, digits or "-", not starting or ending with "-"',
      usage,
    );
  }
  if (!PLANS.includes(plan as Plan)) throw new UsageError(`--plan must be one of ${PLANS.join(', ')}`, usage);
  if (out === '') throw new UsageError('--out needs a file name', usage);
  return { command: 'bootstrap', org, plan: plan as Plan, ...(out !== undefined && { out }) };
}

function parseDevUsers(rest: readonly string[], usage: string): CommandLine {
  const [action, ...options] = rest;
  if (action === '--help' || action === '-h') return { command: 'help', text: usage };
  if (action !== 'add')
    throw new UsageError(action ? `unknown action "${action}"` : 'dev-users needs an action: add', usage);
  const values = parseOptions(
    [...options],
    {
      help: { type: 'boolean', short: 'h' },
      org: { type: 'string' },
      role: { type: 'string' },
      username: { type: 'string' },
    },
    usage,
  );
  if (values.help) return { command: 'help', text: usage };
  const { org, role, username } = values as { org?: string; role?: string; username?: string };
  if (org === undefined) throw new UsageError('--org is required', usage);
  if (!ORGANIZATION_NAME.test(org)) throw new UsageError(`--org "${org}" is not an organization name`, usage);
  if (role === undefined) throw new UsageError('--role is required', usage);
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`, usage);
  }
  return { command: 'dev-users', org, role: role as Role, ...(username !== undefined && { username }) };
}
