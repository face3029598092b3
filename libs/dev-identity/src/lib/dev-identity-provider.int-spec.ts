import { createUserKeyResolver, OrganizationDirectory, UserTokenVerifier } from '@gatehouse/auth';
import { signInLikeABrowser } from '@gatehouse/testing';
import { DevIdentityInProductionError } from './dev-identity.errors';
import {
  DEV_IDENTITY_CLIENT_ID,
  startDevIdentityProvider,
  type DevIdentityProvider,
} from './dev-identity-provider';
import { MemoryDevUserStore, type DevUserCredentials } from './dev-user-store';

/**
 * The provider as a test of the servers mode runs it: in the test process, users in memory, the dashboard's origin
 * given. What a browser does, then admin-api's own verifier on the access token.
 */
describe('the development identity provider', () => {
  const DASHBOARD = 'http://127.0.0.1:18080';
  const AUDIENCE = 'https://gatehouse.test/api';
  const users = new MemoryDevUserStore();
  const logged: string[] = [];
  let provider: DevIdentityProvider;
  let owner: DevUserCredentials;
  let verifier: UserTokenVerifier;

  beforeAll(async () => {
    owner = await users.create({ org: 'acme', role: 'owner', username: 'owner@acme' });
    provider = await startDevIdentityProvider({
      port: 0,
      dashboardOrigins: [DASHBOARD],
      audience: AUDIENCE,
      users,
      env: { NODE_ENV: 'test' },
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    verifier = new UserTokenVerifier(
      {
        issuer: provider.issuer,
        jwksUrl: provider.jwksUrl,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        userClaim: 'sub',
        organizationClaim: 'org',
        roleClaim: 'role',
        clockToleranceSeconds: 5,
      },
      new OrganizationDirectory(async (name) => (name === 'acme' ? 'org-acme' : null)),
      createUserKeyResolver(provider.jwksUrl),
    );
  });

  afterAll(async () => {
    await provider?.close();
  });

  const signIn = (username: string, password: string) =>
    signInLikeABrowser({
      issuer: provider.issuer,
      clientId: provider.clientId,
      redirectUri: `${DASHBOARD}/callback`,
      username,
      password,
    });

  it('says loudly that it is on', () => {
    expect(logged.join('\n')).toMatch(/^warn DEVELOPMENT IDENTITY PROVIDER ON at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("signs a user in with the code flow and PKCE; admin-api's verifier accepts the access token as it is", async () => {
    const result = await signIn('owner@acme', owner.password);
    if (!result.signedIn) throw new Error(`not signed in: ${result.status} ${result.answer}`);
    expect(result.loginPage).toContain('Development identity provider — not for production');
    expect(result.loginPage).toMatch(/<label for="username">Username<\/label>/);
    expect(result.loginPage).toMatch(/<label for="password">Password<\/label>/);
    expect(result.loginPage).toContain('<button type="submit">Sign in</button>');
    expect(result.idToken.split('.')).toHaveLength(3);
    expect(result.refreshToken).toEqual(expect.any(String));

    const principal = await verifier.verify(result.accessToken);
    expect(principal).toMatchObject({
      kind: 'user',
      userId: owner.id,
      role: 'owner',
      organizationId: 'org-acme',
    });
    const header = JSON.parse(
      Buffer.from(result.accessToken.split('.')[0] ?? '', 'base64url').toString(),
    ) as {
      alg: string;
    };
    expect(header.alg).toBe('RS256');
  });

  it('gives each user their own role', async () => {
    const viewer = await users.create({ org: 'acme', role: 'viewer' });
    const result = await signIn(viewer.username, viewer.password);
    if (!result.signedIn) throw new Error(`not signed in: ${result.status}`);
    expect(await verifier.verify(result.accessToken)).toMatchObject({ role: 'viewer', userId: viewer.id });
  });

  it('serves the form again with one message for a wrong password and for an unknown user alike', async () => {
    const wrong = await signIn('owner@acme', 'not-the-password');
    const unknown = await signIn('nobody@acme', 'not-the-password');
    for (const result of [wrong, unknown]) {
      expect(result).toMatchObject({ signedIn: false, status: 401 });
      if (result.signedIn) continue;
      expect(result.answer).toContain('Wrong username or password.');
      expect(result.answer).toContain('<label for="password">Password</label>');
    }
  });

  it('only sends codes to the dashboard it was given', async () => {
    await expect(
      signInLikeABrowser({
        issuer: provider.issuer,
        clientId: DEV_IDENTITY_CLIENT_ID,
        redirectUri: 'http://evil.example/callback',
        username: 'owner@acme',
        password: owner.password,
      }),
    ).rejects.toThrow(/expected a redirect/);
  });

  it("answers a browser's /favicon.ico with 204 No Content, not a 404 that a browser reports as an error", async () => {
    const response = await fetch(`${provider.issuer}/favicon.ico`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('refuses to start with NODE_ENV=production, naming it', async () => {
    const starting = startDevIdentityProvider({
      port: 0,
      dashboardOrigins: [DASHBOARD],
      audience: AUDIENCE,
      users,
      env: { NODE_ENV: 'production' },
    });
    await expect(starting).rejects.toThrow(DevIdentityInProductionError);
    await expect(starting).rejects.toThrow(/NODE_ENV=production/);
  });
});
