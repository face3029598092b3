import { COMMAND_USAGE, parseCommandLine, USAGE, UsageError } from './command-line';

const usageError = (argv: string[]): UsageError => {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('gatehouse-cli command line', () => {
  it.each([[['--help']], [['-h']], [['help']]])('%j prints the whole usage', (argv) => {
    expect(parseCommandLine(argv)).toEqual({ command: 'help', text: USAGE });
  });

  it('lists every command and the exit codes in the usage', () => {
    for (const command of ['migrate', 'revert', 'bootstrap --org <name>', 'help [command]']) {
      expect(USAGE).toContain(command);
    }
    expect(USAGE).toContain('npm run bootstrap -- <options>');
    expect(USAGE).toContain('2 usage error');
  });

  it.each(['migrate', 'revert', 'bootstrap'] as const)(
    'gives %s its own help, as an option or a topic',
    (command) => {
      expect(parseCommandLine([command, '--help'])).toEqual({
        command: 'help',
        text: COMMAND_USAGE[command],
      });
      expect(parseCommandLine([command, '-h'])).toEqual({ command: 'help', text: COMMAND_USAGE[command] });
      expect(parseCommandLine(['help', command])).toEqual({ command: 'help', text: COMMAND_USAGE[command] });
    },
  );

  it('documents every bootstrap option, and that --out never overwrites', () => {
    for (const option of ['--org <name>', '--plan <plan>', '--out <file>', 'starter | pro | enterprise']) {
      expect(COMMAND_USAGE.bootstrap).toContain(option);
    }
    expect(COMMAND_USAGE.bootstrap).toContain('never\n                   overwritten');
  });

  it('parses the commands', () => {
    expect(parseCommandLine(['migrate'])).toEqual({ command: 'migrate' });
    expect(parseCommandLine(['revert'])).toEqual({ command: 'revert' });
    expect(parseCommandLine(['bootstrap', '--org', 'acme'])).toEqual({
      command: 'bootstrap',
      org: 'acme',
      plan: 'enterprise',
    });
    expect(parseCommandLine(['bootstrap', '--org=acme', '--plan', 'pro', '--out', 'owner.json'])).toEqual({
      command: 'bootstrap',
      org: 'acme',
      plan: 'pro',
      out: 'owner.json',
    });
  });

  it.each([
    [[], 'no command given', USAGE],
    [['migrat'], 'unknown command "migrat"', USAGE],
    [['--verbose'], 'unknown option --verbose', USAGE],
    [['help', 'nothing'], 'no help on "nothing"', USAGE],
    [['migrate', '--force'], 'unknown option --force', COMMAND_USAGE.migrate],
    [['revert', 'all'], 'unexpected argument "all"', COMMAND_USAGE.revert],
    [['bootstrap'], '--org is required', COMMAND_USAGE.bootstrap],
    [['bootstrap', '--org'], '--org needs a value', COMMAND_USAGE.bootstrap],
    [['bootstrap', '--org', 'Acme'], '--org must be 1–40 lowercase letters', COMMAND_USAGE.bootstrap],
    [
      ['bootstrap', '--org', 'acme', '--plan', 'gold'],
      '--plan must be one of starter, pro, enterprise',
      COMMAND_USAGE.bootstrap,
    ],
    [['bootstrap', '--org', 'acme', '--out', ''], '--out needs a file name', COMMAND_USAGE.bootstrap],
    [['bootstrap', '--org', 'acme', '--output', 'x'], 'unknown option --output', COMMAND_USAGE.bootstrap],
    [['bootstrap', '--org', 'acme', 'extra'], 'unexpected argument "extra"', COMMAND_USAGE.bootstrap],
  ])('refuses %j: %s, with the usage that applies', (argv, message, usage) => {
    const error = usageError(argv);
    expect(error.message).toContain(message);
    expect(error.usage).toBe(usage);
  });

  it('parses dev-users add, and refuses an unknown role or a missing option with the usage', () => {
    expect(parseCommandLine(['dev-users', 'add', '--org', 'acme', '--role', 'viewer'])).toEqual({
      command: 'dev-users',
      org: 'acme',
      role: 'viewer',
    });
    expect(
      parseCommandLine(['dev-users', 'add', '--org', 'acme', '--role', 'admin', '--username', 'ada@acme']),
    ).toEqual({ command: 'dev-users', org: 'acme', role: 'admin', username: 'ada@acme' });
    expect(parseCommandLine(['help', 'dev-users'])).toEqual({
      command: 'help',
      text: COMMAND_USAGE['dev-users'],
    });
    const usage = COMMAND_USAGE['dev-users'];
    expect(usageError(['dev-users', 'add', '--org', 'acme', '--role', 'root'])).toMatchObject({
      message: '--role must be one of owner, admin, member, viewer',
      usage,
    });
    expect(usageError(['dev-users', 'add', '--role', 'viewer']).message).toBe('--org is required');
    expect(usageError(['dev-users', 'remove']).message).toBe('unknown action "remove"');
    expect(usageError(['dev-users']).message).toBe('dev-users needs an action: add');
  });
});
