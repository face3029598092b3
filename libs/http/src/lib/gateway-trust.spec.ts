import Fastify from 'fastify';
import {
  GATEWAY_SECRET_HEADER,
  gatewayIdentityOf,
  isClientAddress,
  isGatewaySecret,
  registerForwardedAddressCheck,
  registerGatewayTrust,
  serviceTrustProxy,
  trustedProxySet,
} from './gateway-trust';

const SECRET = 's'.repeat(40);

/** A service as createHttpApp builds one behind the gateway, answering what it believes of each request. */
async function service(secret: string | undefined, trustedProxies = '') {
  const app = Fastify({ trustProxy: serviceTrustProxy(trustedProxies) });
  registerGatewayTrust(app, secret);
  app.get('/', (request) => ({
    ip: request.ip,
    protocol: request.protocol,
    identity: gatewayIdentityOf(request),
    secretSeen: request.headers[GATEWAY_SECRET_HEADER] ?? null,
  }));
  await app.ready();
  return app;
}

describe('gateway trust (services)', () => {
  it('believes X-Forwarded-For on a request carrying the gateway secret', async () => {
    const app = await service(SECRET);
    const response = await app.inject({
      url: '/',
      remoteAddress: '10.1.2.3',
      headers: {
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        [GATEWAY_SECRET_HEADER]: SECRET,
      },
    });
    expect(response.json()).toEqual({
      ip: '203.0.113.7',
      protocol: 'https',
      identity: 'gateway',
      secretSeen: null,
    });
  });

  it.each([
    ['no secret', {}, 'absent'],
    ['a wrong secret', { [GATEWAY_SECRET_HEADER]: 'w'.repeat(40) }, 'wrong_secret'],
    ['an empty secret', { [GATEWAY_SECRET_HEADER]: '' }, 'wrong_secret'],
  ])(
    'takes the TCP peer for the client with %s, even from a private address',
    async (_case, headers, identity) => {
      const app = await service(SECRET, 'loopback,uniquelocal');
      const response = await app.inject({
        url: '/',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.7', ...headers },
      });
      expect(response.json()).toEqual({ ip: '10.1.2.3', protocol: 'http', identity, secretSeen: null });
    },
  );

  it('believes no request at all without a configured secret', async () => {
    const app = await service(undefined);
    const response = await app.inject({
      url: '/',
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-for': '203.0.113.7', [GATEWAY_SECRET_HEADER]: SECRET },
    });
    expect(response.json()).toMatchObject({ ip: '10.1.2.3', identity: 'wrong_secret' });
  });

  it("with the secret, also trusts the operator's TRUSTED_PROXIES between the gateway and the service", async () => {
    const app = await service(SECRET, '10.0.0.0/8');
    const response = await app.inject({
      url: '/',
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '203.0.113.7, 10.9.9.9', [GATEWAY_SECRET_HEADER]: SECRET },
    });
    expect(response.json()).toMatchObject({ ip: '203.0.113.7' });
  });
});

describe('client addresses forwarded by a trusted proxy', () => {
  it.each(['203.0.113.7', '::1', '2001:db8::1', '::ffff:192.0.2.10'])('%p is a client address', (ip) => {
    expect(isClientAddress(ip)).toBe(true);
  });

  it.each([
    'x'.repeat(100),
    'not-an-ip',
    'unknown',
    '1.2.3.4\u00ff',
    '1.2.3.4:80',
    'fe80::1%eth0',
    '',
    undefined,
  ])('%p is not', (ip) => {
    expect(isClientAddress(ip)).toBe(false);
  });

  /** The gateway as createHttpApp builds it with TRUSTED_PROXIES=10.0.0.0/8. */
  async function gateway() {
    const app = Fastify({ trustProxy: ['10.0.0.0/8'] });
    registerForwardedAddressCheck(app, { 'x-frame-options': 'DENY' });
    app.get('/', (request) => ({ ip: request.ip }));
    await app.ready();
    return app;
  }

  it.each(['x'.repeat(100), 'not-an-ip', 'unknown', '1.2.3.4\u00ff', 'fe80::1%eth0', '203.0.113.7, garbage'])(
    'the gateway refuses X-Forwarded-For %p from a trusted proxy with 400 in the error shape',
    async (forwarded) => {
      const app = await gateway();
      const response = await app.inject({
        url: '/',
        remoteAddress: '10.0.0.5',
        headers: { 'x-forwarded-for': forwarded },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: 'bad_request',
        message: 'the client address forwarded by a trusted proxy is not an IP address',
        request_id: expect.any(String),
      });
      expect(response.headers['x-frame-options']).toBe('DENY');
      await app.close();
    },
  );

  it('the gateway serves a valid forwarded address, and ignores what an untrusted peer forwards', async () => {
    const app = await gateway();
    const trusted = await app.inject({
      url: '/',
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': 'garbage, 2001:db8::7' },
    });
    expect(trusted.json()).toEqual({ ip: '2001:db8::7' });
    const untrusted = await app.inject({
      url: '/',
      remoteAddress: '198.51.100.1',
      headers: { 'x-forwarded-for': 'not-an-ip' },
    });
    expect(untrusted.json()).toEqual({ ip: '198.51.100.1' });
    await app.close();
  });

  it('a service takes the peer as the client when the gateway forwards something that is not an address', async () => {
    const app = await service(SECRET);
    for (const forwarded of ['x'.repeat(100), 'not-an-ip', 'fe80::1%eth0']) {
      const response = await app.inject({
        url: '/',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-for': forwarded, [GATEWAY_SECRET_HEADER]: SECRET },
      });
      expect(response.json()).toEqual(expect.objectContaining({ ip: '10.1.2.3', identity: 'gateway' }));
    }
    await app.close();
  });
});

describe('isGatewaySecret', () => {
  it('compares exactly, and never matches without a configured secret', () => {
    expect(isGatewaySecret(SECRET, SECRET)).toBe(true);
    expect(isGatewaySecret(SECRET, `${SECRET}x`)).toBe(false);
    expect(isGatewaySecret(SECRET, SECRET.toUpperCase())).toBe(false);
    expect(isGatewaySecret(SECRET, undefined)).toBe(false);
    expect(isGatewaySecret(undefined, '')).toBe(false);
    expect(isGatewaySecret('', '')).toBe(false);
  });
});

describe('trustedProxySet', () => {
  it('reads names, addresses and CIDRs, and names the entry it cannot read', () => {
    const set = trustedProxySet('loopback, 192.0.2.1, 2001:db8::/32');
    expect(set.has('127.0.0.5')).toBe(true);
    expect(set.has('::ffff:127.0.0.5')).toBe(true);
    expect(set.has('192.0.2.1')).toBe(true);
    expect(set.has('2001:db8::1')).toBe(true);
    expect(set.has('10.0.0.1')).toBe(false);
    expect(trustedProxySet('').has('127.0.0.1')).toBe(false);
    expect(() => trustedProxySet('gateway.local')).toThrow(
      'TRUSTED_PROXIES: not an address, CIDR or range name: gateway.local',
    );
  });
});
