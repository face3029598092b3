import { describe, expect, it } from 'vitest';
import { loadSignInSettings } from './dashboard-config';

const answer =
  (body: unknown, status = 200) =>
  () =>
    Promise.resolve(new Response(JSON.stringify(body), { status }));

describe('loadSignInSettings', () => {
  it("reads the gateway's issuer, client id and scope", async () => {
    const settings = await loadSignInSettings(
      answer({ issuer: 'https://idp.test/realms/acme', client_id: 'dashboard', scope: 'openid email' }),
    );
    expect(settings).toEqual({
      issuer: 'https://idp.test/realms/acme',
      clientId: 'dashboard',
      scope: 'openid email',
    });
  });

  it('is null while the gateway has no issuer', async () => {
    expect(await loadSignInSettings(answer({ issuer: null, client_id: null, scope: null }))).toBeNull();
  });

  it('fails with the status when the gateway does not answer it', async () => {
    await expect(loadSignInSettings(answer({}, 404))).rejects.toThrow('answered HTTP 404');
  });
});
