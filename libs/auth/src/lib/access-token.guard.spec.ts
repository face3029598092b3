import type { ExecutionContext } from '@nestjs/common';
import { GatehouseError, type UserPrincipal } from '@gatehouse/contracts';
import { AccessTokenGuard, bearerTokenOf, unverifiedIssuerOf } from './access-token.guard';
import type { JwtAuthGuard } from './jwt-auth.guard';
import type { UserTokenVerifier } from './user-token-verifier';

const GATEHOUSE_ISSUER = 'gatehouse';
const IDP_ISSUER = 'https://idp.example.com/';

/** An unsigned JWT-shaped string with this payload: the guard only reads it, it never trusts it. */
function tokenWith(payload: unknown): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'RS256', kid: 'k' })}.${encode(payload)}.c2lnbmF0dXJl`;
}

const user: UserPrincipal = {
  kind: 'user',
  userId: 'user-42',
  role: 'viewer',
  organizationId: '0b7d6d0e-6a43-4b8e-9f3c-3a3c0a6f1e11',
  permissions: ['read:keys', 'read:findings'],
  subject: 'user-42',
  tokenId: 'jti-1',
  expiresAt: new Date('2030-01-01T00:00:00Z'),
};

describe('AccessTokenGuard', () => {
  let gatehouse: { canActivate: jest.Mock };
  let users: { issuer: string; verify: jest.Mock };

  beforeEach(() => {
    gatehouse = { canActivate: jest.fn().mockResolvedValue(true) };
    users = { issuer: IDP_ISSUER, verify: jest.fn().mockResolvedValue(user) };
  });

  const contextFor = (authorization?: string) => {
    const request: { headers: Record<string, string>; user?: unknown } = {
      headers: authorization === undefined ? {} : { authorization },
    };
    const context = { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
    return { request, context };
  };

  const guard = (withUsers: boolean) =>
    new AccessTokenGuard(
      gatehouse as unknown as JwtAuthGuard,
      {
        issuer: GATEHOUSE_ISSUER,
        audience: 'gatehouse-api',
        jwksUrl: 'http://auth/jwks',
        clockToleranceSeconds: 5,
      },
      withUsers ? (users as unknown as UserTokenVerifier) : undefined,
    );

  describe('without a user verifier (findings-service)', () => {
    it.each([
      ['a Gatehouse token', tokenWith({ iss: GATEHOUSE_ISSUER })],
      ['an identity provider token', tokenWith({ iss: IDP_ISSUER })],
      ['a token of another issuer', tokenWith({ iss: 'https://evil.example.com/' })],
    ])('hands %s to the Gatehouse guard', async (_what, token) => {
      const { context } = contextFor(`Bearer ${token}`);
      await expect(guard(false).canActivate(context)).resolves.toBe(true);
      expect(gatehouse.canActivate).toHaveBeenCalledWith(context);
      expect(users.verify).not.toHaveBeenCalled();
    });
  });

  describe('with a user verifier (admin-api)', () => {
    it('verifies a token of the identity provider as a user and sets the principal', async () => {
      const token = tokenWith({ iss: IDP_ISSUER, sub: 'user-42' });
      const { context, request } = contextFor(`Bearer ${token}`);

      await expect(guard(true).canActivate(context)).resolves.toBe(true);
      expect(users.verify).toHaveBeenCalledWith(token);
      expect(request.user).toBe(user);
      expect(gatehouse.canActivate).not.toHaveBeenCalled();
    });

    it('accepts the scheme in any case, as passport-jwt does', async () => {
      const token = tokenWith({ iss: IDP_ISSUER });
      await expect(guard(true).canActivate(contextFor(`bearer ${token}`).context)).resolves.toBe(true);
      expect(users.verify).toHaveBeenCalledWith(token);
    });

    it('hands a Gatehouse token to the Gatehouse guard only', async () => {
      const { context } = contextFor(`Bearer ${tokenWith({ iss: GATEHOUSE_ISSUER })}`);
      await expect(guard(true).canActivate(context)).resolves.toBe(true);
      expect(gatehouse.canActivate).toHaveBeenCalledWith(context);
      expect(users.verify).not.toHaveBeenCalled();
    });

    it.each([
      ['no Authorization header', undefined],
      ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
      ['a token that is not a JWT', 'Bearer not-a-jwt'],
      ['a token whose payload is not JSON', 'Bearer eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln'],
      ['a token without iss', `Bearer ${tokenWith({ sub: 'x' })}`],
      ['a token whose iss is not a string', `Bearer ${tokenWith({ iss: 42 })}`],
    ])('leaves %s to the Gatehouse guard and its usual answer', async (_what, authorization) => {
      const { context } = contextFor(authorization);
      await expect(guard(true).canActivate(context)).resolves.toBe(true);
      expect(gatehouse.canActivate).toHaveBeenCalledWith(context);
      expect(users.verify).not.toHaveBeenCalled();
    });

    it('refuses a token of any other issuer with invalid_token, checking nothing else', () => {
      const { context } = contextFor(`Bearer ${tokenWith({ iss: 'https://evil.example.com/' })}`);
      let thrown: unknown;
      try {
        void guard(true).canActivate(context);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(GatehouseError);
      expect(thrown).toMatchObject({ code: 'invalid_token', status: 401 });
      expect(gatehouse.canActivate).not.toHaveBeenCalled();
      expect(users.verify).not.toHaveBeenCalled();
    });

    it('passes the user verifier’s refusal on unchanged and sets no principal', async () => {
      const refusal = new GatehouseError('forbidden', 'unknown organization');
      users.verify.mockRejectedValue(refusal);
      const { context, request } = contextFor(`Bearer ${tokenWith({ iss: IDP_ISSUER })}`);

      await expect(guard(true).canActivate(context)).rejects.toBe(refusal);
      expect(request.user).toBeUndefined();
    });
  });
});

describe('bearerTokenOf', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['Basic abc', null],
    ['Bearer', null],
    ['', null],
  ])('reads %j as %j', (header, expected) => {
    expect(bearerTokenOf(header)).toBe(expected);
  });

  it('ignores a missing or repeated header', () => {
    expect(bearerTokenOf(undefined)).toBeNull();
    expect(bearerTokenOf(['Bearer a', 'Bearer b'])).toBeNull();
  });
});

describe('unverifiedIssuerOf', () => {
  it('reads iss without checking the signature', () => {
    expect(unverifiedIssuerOf(tokenWith({ iss: IDP_ISSUER }))).toBe(IDP_ISSUER);
  });

  it.each([
    ['two parts', 'a.b'],
    ['a payload that is not JSON', 'a.bm90IGpzb24.c'],
    ['a payload that is not an object', `a.${Buffer.from('"iss"').toString('base64url')}.c`],
    ['a null payload', `a.${Buffer.from('null').toString('base64url')}.c`],
  ])('answers undefined for %s', (_what, token) => {
    expect(unverifiedIssuerOf(token)).toBeUndefined();
  });
});
