import { portRefusal, readyBanner, shellQuote, StartupRefusal } from './startup';

describe('the ready banner', () => {
  const banner = (dataDir: string) =>
    readyBanner({
      gateway: 'http://127.0.0.1:8080',
      metrics: 'http://127.0.0.1:9080/metrics',
      dataDir,
      defaultDataDir: '/repo/.data',
      startupMs: 4_240,
    });

  it('gives the URLs, where the data is and the next command', () => {
    const text = banner('/repo/.data');
    expect(text).toContain('Gatehouse is ready (standalone, started in 4.2 s)');
    expect(text).toMatch(/gateway +http:\/\/127\.0\.0\.1:8080\n/);
    expect(text).toMatch(/API reference +http:\/\/127\.0\.0\.1:8080\/api\/docs\n/);
    expect(text).toMatch(/JWKS +http:\/\/127\.0\.0\.1:8080\/api\/v1\/auth\/jwks\n/);
    expect(text).toMatch(/metrics +http:\/\/127\.0\.0\.1:9080\/metrics /);
    expect(text).toMatch(/data +\/repo\/\.data /);
    expect(text).toContain('\n    npm run bootstrap -- --org acme --out owner.json\n');
  });

  it('repeats a data directory other than the default in the command, quoted for the shell', () => {
    expect(banner('/tmp/gatehouse data')).toContain(
      "GATEHOUSE_DATA_DIR='/tmp/gatehouse data' npm run bootstrap -- --org acme --out owner.json",
    );
    expect(banner('/tmp/gh-1')).toContain('GATEHOUSE_DATA_DIR=/tmp/gh-1 npm run bootstrap');
  });

  it('names the development identity provider when it runs, as not for production', () => {
    const text = readyBanner({
      gateway: 'http://127.0.0.1:8080',
      metrics: 'http://127.0.0.1:9080/metrics',
      dataDir: '/repo/.data',
      defaultDataDir: '/repo/.data',
      startupMs: 4_240,
      devIdentity: 'http://127.0.0.1:8090',
    });
    expect(text).toMatch(
      /sign-in +http:\/\/127\.0\.0\.1:8090 +\(development identity provider — not for production\)\n/,
    );
    expect(text).toContain('owner key and dashboard sign-in');
    expect(banner('/repo/.data')).not.toContain('sign-in');
  });
});

describe('shellQuote', () => {
  it.each([
    ['/tmp/gh-1', '/tmp/gh-1'],
    ['/tmp/a b', "'/tmp/a b'"],
    ["/tmp/it's", "'/tmp/it'\\''s'"],
    ['/tmp/$HOME', "'/tmp/$HOME'"],
  ])('%s → %s', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});

describe('portRefusal', () => {
  it('names the port and the variable that moves it, in one line', () => {
    const refusal = portRefusal(8080, 'in use', 'API_GATEWAY_PORT (or PORT)');
    expect(refusal).toBeInstanceOf(StartupRefusal);
    expect(refusal.message).toBe(
      'port 8080 is in use: set API_GATEWAY_PORT (or PORT) to a free port (0 picks one)',
    );
    expect(portRefusal(80, 'not permitted', 'AUTH_SERVICE_PORT').message).toBe(
      'port 80 needs privileges this process lacks: set AUTH_SERVICE_PORT to a port above 1023',
    );
  });
});
