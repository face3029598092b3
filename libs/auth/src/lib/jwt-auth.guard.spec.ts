import type { ExecutionContext } from '@nestjs/common';
import { GatehouseError, type KeyPrincipal, type UserPrincipal } from '@gatehouse/contracts';
import { JwtAuthGuard } from './jwt-auth.guard';

function contextFrom(ip: string | undefined): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => ({ ip }) }) } as unknown as ExecutionContext;
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
  const guard = new JwtAuthGuard();

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
