import { API_KEY_PATTERN, generateApiKey } from '@gatehouse/crypto';
import { insecureTransportWarning, keyOnCommandLine, resolveConfig } from './config';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import type { Runtime } from './runtime';

const key = generateApiKey('live').secret;

function runtime(env: Record<string, string | undefined>, stdin = ''): Runtime {
  const output = { write: () => undefined, isTTY: false };
  return {
    env,
    stdout: output,
    stderr: output,
    readStdin: () => Promise.resolve(stdin),
    fetch: () => Promise.reject(new Error('no network in unit tests')),
    now: () => 0,
    sleep: () => Promise.resolve(),
    random: () => 0,
    homeDirectory: '/home/test',
  };
}

describe('keyOnCommandLine', () => {
  it.each([
    [['whoami', '--api-key', key]],
    [['whoami', `--api-key=${key}`]],
    [['upload', '--apikey', 'anything']],
    [['upload', '--key=x', 'a.sarif']],
    [['upload', key]],
    [['upload', `X-API-Key: ${key}`]],
    [['upload', 'gth_test_0123456789abc']],
  ])('refuses %j, never quoting the key', (args) => {
    const refusal = keyOnCommandLine(args);
    expect(refusal).toContain('never taken from the command line');
    expect(refusal).toContain('--api-key-stdin');
    expect(refusal).not.toContain(key);
  });

  it('lets everything else through, --api-key-stdin included', () => {
    expect(
      keyOnCommandLine(['upload', 'results.sarif', '--api-key-stdin', '--fail-on', 'high']),
    ).toBeUndefined();
    expect(
      keyOnCommandLine(['keys', 'create', '--name', 'gth ci', '--key-client-id', 'gth_live']),
    ).toBeUndefined();
  });

  it('catches everything the secret scanners’ pattern matches', () => {
    for (let index = 0; index < 50; index += 1) {
      const secret = generateApiKey(index % 2 ? 'live' : 'test').secret;
      expect(API_KEY_PATTERN.test(secret)).toBe(true);
      expect(keyOnCommandLine([secret])).toBeDefined();
    }
  });
});

describe('resolveConfig', () => {
  const complete = {
    GATEHOUSE_API_URL: 'https://gatehouse.example.com/',
    GATEHOUSE_API_KEY: key,
    GATEHOUSE_CLIENT_ID: 'ci-main',
  };

  it('reads the three variables, flags first, the URL without a trailing / or /api/v1', async () => {
    const config = await resolveConfig({}, runtime(complete));
    expect(config).toMatchObject({
      apiUrl: 'https://gatehouse.example.com',
      clientId: 'ci-main',
      apiKey: key,
    });
    const flags = await resolveConfig(
      { apiUrl: 'http://127.0.0.1:8080/api/v1', clientId: 'other-client' },
      runtime(complete),
    );
    expect(flags).toMatchObject({ apiUrl: 'http://127.0.0.1:8080', clientId: 'other-client' });
  });

  it('reads the key from standard input with --api-key-stdin, over the variable', async () => {
    const config = await resolveConfig(
      { apiKeyStdin: true },
      runtime({ ...complete, GATEHOUSE_API_KEY: 'ignored' }, `${key}\n`),
    );
    expect(config.apiKey).toBe(key);
  });

  it.each([
    [{ GATEHOUSE_API_URL: undefined }, 'GATEHOUSE_API_URL'],
    [{ GATEHOUSE_API_URL: 'gatehouse.example.com' }, 'not a URL'],
    [{ GATEHOUSE_API_URL: 'ftp://gatehouse.example.com' }, 'http(s)'],
    [{ GATEHOUSE_API_KEY: '' }, 'GATEHOUSE_API_KEY'],
    [{ GATEHOUSE_API_KEY: `${key} ${key}` }, 'white space'],
    [{ GATEHOUSE_CLIENT_ID: undefined }, 'GATEHOUSE_CLIENT_ID'],
    [{ GATEHOUSE_CLIENT_ID: 'a b' }, 'client id'],
  ])('a usage error (2) for %j', async (override, message) => {
    const error = await resolveConfig({}, runtime({ ...complete, ...override })).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(ExitCode.Usage);
    expect((error as CliError).message).toContain(message);
    expect((error as CliError).message).not.toContain(key);
  });

  it('prints tables on a terminal only, and JSON when asked or piped', async () => {
    const piped = await resolveConfig({}, runtime(complete));
    expect(piped).toMatchObject({ json: false, machine: true });
    const terminal = runtime(complete);
    terminal.stdout = { write: () => undefined, isTTY: true };
    expect(await resolveConfig({}, terminal)).toMatchObject({ json: false, machine: false });
    expect(await resolveConfig({ json: true }, terminal)).toMatchObject({ json: true, machine: true });
  });

  it('turns --retries and --retry-max-time into the policy', async () => {
    const config = await resolveConfig({ retries: 0, retryMaxTime: 30, timeout: 5 }, runtime(complete));
    expect(config.retry).toMatchObject({ maxAttempts: 1, maxElapsedMs: 30_000 });
    expect(config.requestTimeoutMs).toBe(5000);
  });
});

describe('insecureTransportWarning', () => {
  it('warns about plain http to another machine only', () => {
    expect(insecureTransportWarning('https://gatehouse.example.com')).toBeUndefined();
    expect(insecureTransportWarning('http://127.0.0.1:8080')).toBeUndefined();
    expect(insecureTransportWarning('http://localhost:8080')).toBeUndefined();
    expect(insecureTransportWarning('http://[::1]:8080')).toBeUndefined();
    expect(insecureTransportWarning('http://gatehouse.internal')).toContain('unencrypted');
  });
});
