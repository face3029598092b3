import { loadConfig } from '@gatehouse/config';
import { refuseDevIdentityInProduction } from './dev-identity-host';
import { StandaloneConfig } from './standalone.config';
import { StartupRefusal } from './startup';

describe('the development identity provider in standalone mode', () => {
  const config = (env: Record<string, string>) => loadConfig(StandaloneConfig, env);

  it('is on by default, on port 8090', () => {
    const defaults = config({});
    expect(defaults.devIdentityOn).toBe(true);
    expect(defaults.DEV_IDENTITY_PORT).toBe(8090);
  });

  it('is off with DEV_IDENTITY=off, or when OIDC_ISSUER names a real identity provider', () => {
    expect(config({ DEV_IDENTITY: 'off' }).devIdentityOn).toBe(false);
    expect(config({ OIDC_ISSUER: 'https://idp.example.com' }).devIdentityOn).toBe(false);
  });

  it('refuses a DEV_IDENTITY other than on or off, naming it', () => {
    expect(() => config({ DEV_IDENTITY: 'yes' })).toThrow(/DEV_IDENTITY must be on or off/);
  });

  it('refuses NODE_ENV=production in one line naming the reason, while the provider would be on', () => {
    const refusal = (() => {
      try {
        refuseDevIdentityInProduction(config({ NODE_ENV: 'production' }));
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(StartupRefusal);
    expect((refusal as Error).message).toMatch(/refuses to start with NODE_ENV=production/);
    expect(() =>
      refuseDevIdentityInProduction(config({ NODE_ENV: 'production', DEV_IDENTITY: 'off' })),
    ).not.toThrow();
    expect(() =>
      refuseDevIdentityInProduction(
        config({ NODE_ENV: 'production', OIDC_ISSUER: 'https://idp.example.com' }),
      ),
    ).not.toThrow();
  });
});
