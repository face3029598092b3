import type { ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { GatehouseError, type KeyPrincipal, type UserPrincipal } from '@gatehouse/contracts';
import type { RevocationRegistry } from '@gatehouse/revocation';
import { JwtAuthGuard } from './jwt-auth.guard';

function contextFrom(ip: string | undefined, headers: Record<string, string> = {}): ExecutionContext {
  const request = { ip, headers };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

const OPTIONS = { issuer: 'i', audience: 'a', jwksUrl: 'http://127.0.0.1:1/jwks', clockToleranceSeconds: 5 };

function registry(state: { revoked?: boolean; disabled?: boolean } = {}): RevocationRegistry {
  return {
    isRevoked: () => state.revoked === true,
    isDisabled: () => state.disabled === true,
  } as unknown as RevocationRegistry;
}

const KEY: KeyPrincipal = {
  kind: 'api_key',
  organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
  permissions: ['write:findings'],
  subject: 'ci-runner',
  tokenId: 'jti',
  expiresAt: new Date('2030-01-01T12:30:00.000Z'),
  apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
  clientId: 'ci-runner',
  keyVersion: 1,
};

describe('JwtAuthGuard.handleRequest and the allowed_ips of a token', () => {
  const guard = new JwtAuthGuard(registry(), OPTIONS);

  function refusal(principal: KeyPrincipal | UserPrincipal, ip: string | undefined): unknown {
    try {
      guard.handleRequest(null, principal, undefined, contextFrom(ip));
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it('lets a token without a list through from anywhere', () => {
    expect(refusal(KEY, '198.51.100.1')).toBeUndefined();
  });

  it.each(['10.9.9.1', '::ffff:10.9.9.200', '2001:db8::1'])('lets %s through a list that holds it', (ip) => {
    expect(refusal({ ...KEY, allowedIps: ['10.9.9.0/24', '2001:db8::/32'] }, ip)).toBeUndefined();
  });

  it.each(['10.9.10.1', '::1', '2001:db9::1', '', undefined])(
    'refuses %p with 403 ip_not_allowed when the list leaves it out',
    (ip) => {
      const error = refusal({ ...KEY, allowedIps: ['10.9.9.0/24', '2001:db8::/32'] }, ip);
      expect(error).toBeInstanceOf(GatehouseError);
      expect(error).toMatchObject({ code: 'ip_not_allowed', status: 403 });
    },
  );

  it('never restricts a dashboard user, whose token carries no list', () => {
    const user: UserPrincipal = {
      kind: 'user',
      organizationId: KEY.organizationId,
      permissions: ['read:keys'],
      subject: 'alice',
      tokenId: 'jti',
      expiresAt: KEY.expiresAt,
      userId: 'alice',
      role: 'viewer',
    };
    expect(refusal(user, '198.51.100.1')).toBeUndefined();
  });
});

describe('JwtAuthGuard and the tokens it verified before', () => {
  const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl';
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const principal: KeyPrincipal = { ...KEY, expiresAt: new Date(Date.now() + 600_000) };
  // passport's guard, standing in for the full verification: admits and sets the principal, counting its calls.
  const passportGuard = Object.getPrototypeOf(JwtAuthGuard.prototype) as InstanceType<
    ReturnType<typeof AuthGuard>
  >;
  let verifications: jest.SpyInstance;

  beforeEach(() => {
    verifications = jest
      .spyOn(passportGuard, 'canActivate')
      .mockImplementation((context: ExecutionContext) => {
        context.switchToHttp().getRequest<{ user?: KeyPrincipal }>().user = principal;
        return Promise.resolve(true);
      });
  });

  afterEach(() => verifications.mockRestore());

  it('verifies a token once, then admits it from the cache with the same principal', async () => {
    const guard = new JwtAuthGuard(registry(), OPTIONS);
    const second = contextFrom('198.51.100.1', bearer);

    await expect(guard.canActivate(contextFrom('198.51.100.1', bearer))).resolves.toBe(true);
    await expect(guard.canActivate(second)).resolves.toBe(true);

    expect(verifications).toHaveBeenCalledTimes(1);
    expect(second.switchToHttp().getRequest<{ user?: KeyPrincipal }>().user).toEqual(principal);
  });

  it.each([
    ['revoked', { revoked: true }, 'token_revoked'],
    ['disabled', { disabled: true }, 'api_key_disabled'],
  ])('refuses a cached token whose key was %s since', async (_case, later, code) => {
    const state: { revoked?: boolean; disabled?: boolean } = {};
    const guard = new JwtAuthGuard(registry(state), OPTIONS);
    await guard.canActivate(contextFrom('198.51.100.1', bearer));
    Object.assign(state, later);

    await expect(guard.canActivate(contextFrom('198.51.100.1', bearer))).rejects.toMatchObject({ code });
  });

  it("still applies a cached token's IP allowlist to each request", async () => {
    const restricted: KeyPrincipal = { ...principal, allowedIps: ['10.9.9.0/24'] };
    verifications.mockImplementation((context: ExecutionContext) => {
      context.switchToHttp().getRequest<{ user?: KeyPrincipal }>().user = restricted;
      return Promise.resolve(true);
    });
    const guard = new JwtAuthGuard(registry(), OPTIONS);
    await guard.canActivate(contextFrom('10.9.9.1', bearer));

    await expect(guard.canActivate(contextFrom('10.9.10.1', bearer))).rejects.toMatchObject({
      code: 'ip_not_allowed',
    });
  });

  it('keeps nothing of a request without a token', async () => {
    const guard = new JwtAuthGuard(registry(), OPTIONS);
    await guard.canActivate(contextFrom('198.51.100.1'));
    await guard.canActivate(contextFrom('198.51.100.1'));

    expect(verifications).toHaveBeenCalledTimes(2);
  });
});
