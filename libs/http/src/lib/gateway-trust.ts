import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { GatehouseError, IpAllowlist, normalizeAllowedIps } from '@gatehouse/contracts';
import { toErrorResponse } from './error-response';
import type { AnswerHeaders } from './framework-errors';

/**
 * The header carrying the gateway's shared secret (GATEWAY_SECRET) to the services. Under the reserved
 * `X-Gatehouse-` prefix: the gateway drops every such header a client sends, so only the gateway ever sets it.
 */
export const GATEWAY_SECRET_HEADER = 'x-gatehouse-gateway-secret';

/**
 * What a proxy writes about the client: believed by a service only on a request from the gateway, and never taken
 * from a client by the gateway.
 */
export const FORWARDING_HEADERS: readonly string[] = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
];

/**
 * Whether a client address (`request.ip`) is an IP address that may be stored and compared: IPv4 or IPv6, no
 * zone id (`fe80::1%eth0` names an interface of one host). Only a trusted proxy's X-Forwarded-For can make it
 * anything else; the audit trail's column holds 64 characters, and allowlists and the IP block match addresses.
 */
export function isClientAddress(ip: string | undefined): ip is string {
  return ip !== undefined && isIP(ip) !== 0 && !ip.includes('%');
}

/**
 * On an app that believes X-Forwarded-For from TRUSTED_PROXIES (the gateway), a client address that is not an IP
 * address is refused with 400 `bad_request` before anything else uses it. Refused rather than replaced by the
 * peer's: the peer is the proxy, whose address many clients share, so refused credentials would count against
 * (and block) all of them, and the proxy's address could satisfy a key's IP allowlist meant for the proxy's
 * network. A proxy that forwards such a value is misconfigured; a refusal says so.
 */
export function registerForwardedAddressCheck(fastify: FastifyInstance, answerHeaders: AnswerHeaders): void {
  fastify.addHook('onRequest', async (request, reply) => {
    const ip = request.ip;
    // No address at all: the socket is already gone, and nothing will be answered.
    if (ip === undefined || isClientAddress(ip)) return;
    const response = toErrorResponse(
      new GatehouseError(
        'bad_request',
        'the client address forwarded by a trusted proxy is not an IP address',
      ),
      request.id,
    );
    return reply
      .status(response.status)
      .headers({ ...answerHeaders, ...response.headers })
      .send(response.body);
  });
}

/** The names TRUSTED_PROXIES accepts besides addresses and CIDRs, as proxy-addr (Fastify's default) reads them. */
const RANGE_NAMES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * TRUSTED_PROXIES (addresses, CIDRs, or loopback/linklocal/uniquelocal) as a set that can be asked; the same
 * matcher as the per-key IP allowlists, IPv4-mapped IPv6 peers included. Empty: no proxy is trusted.
 */
export function trustedProxySet(trustedProxies: string): { has(address: string): boolean } {
  const cidrs: string[] = [];
  for (const entry of trustedProxies.split(',').map((part) => part.trim())) {
    if (!entry) continue;
    const named = RANGE_NAMES[entry];
    const normalized = normalizeAllowedIps(named ?? [entry]);
    if (!normalized.ok) throw new Error(`TRUSTED_PROXIES: not an address, CIDR or range name: ${entry}`);
    cidrs.push(...normalized.cidrs);
  }
  const allowlist = IpAllowlist.of(cidrs);
  return { has: (address) => !allowlist.unrestricted && allowlist.allows(address) };
}

const sha256 = (value: string): Buffer => hash('sha256', value, 'buffer');

/**
 * Constant-time comparison of a presented secret with the configured one (digests, so lengths leak nothing); the
 * configured one's digest is computed once, here, not on every request.
 */
export function gatewaySecretCheck(expected: string | undefined): (presented: unknown) => boolean {
  if (!expected) return () => false;
  const expectedDigest = sha256(expected);
  return (presented) =>
    typeof presented === 'string' &&
    presented.length > 0 &&
    timingSafeEqual(expectedDigest, sha256(presented));
}

/** {@link gatewaySecretCheck} for one comparison. */
export function isGatewaySecret(expected: string | undefined, presented: unknown): boolean {
  return gatewaySecretCheck(expected)(presented);
}

/** The secret header of a request, if it carries exactly one. */
export function presentedGatewaySecret(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[GATEWAY_SECRET_HEADER];
  return typeof value === 'string' ? value : undefined;
}

/** What a request said about being the gateway's: the right secret, a wrong one, or none. */
export type GatewayIdentity = 'gateway' | 'wrong_secret' | 'absent';

const FROM_GATEWAY = Symbol('gatehouse.fromGateway');
type MarkedRequest = IncomingMessage & { [FROM_GATEWAY]?: GatewayIdentity };

/**
 * Fastify's `trustProxy` of a service behind the gateway. The client address is `request.ip` everywhere (the
 * `ClientIp` decorator, audit actors, usage logs); what makes it right is {@link registerGatewayTrust}, which
 * leaves forwarding headers only on requests carrying the gateway's secret. On those, the peer (the gateway, or
 * the last of the operator's TRUSTED_PROXIES) is trusted, so the address the gateway wrote is the client; on any
 * other request there is no X-Forwarded-For left, and the client is the TCP peer.
 */
export function serviceTrustProxy(trustedProxies: string): FastifyServerOptions['trustProxy'] {
  const trusted = trustedProxySet(trustedProxies);
  return (address: string, hop: number) => hop === 0 || trusted.has(address);
}

/**
 * First hook of a service behind the gateway: a request without the gateway's secret (or with a wrong one) loses
 * its forwarding headers before anything reads the client address; the secret header itself is removed, so no
 * later code, log or error echoes it. Without a configured secret, no request is believed.
 */
export function registerGatewayTrust(fastify: FastifyInstance, secret: string | undefined): void {
  const isSecret = gatewaySecretCheck(secret);
  fastify.addHook('onRequest', (request, _reply, done) => {
    const headers = request.raw.headers;
    const presented = presentedGatewaySecret(headers);
    const identity: GatewayIdentity =
      headers[GATEWAY_SECRET_HEADER] === undefined
        ? 'absent'
        : isSecret(presented)
          ? 'gateway'
          : 'wrong_secret';
    delete headers[GATEWAY_SECRET_HEADER];
    (request.raw as MarkedRequest)[FROM_GATEWAY] = identity;
    if (identity !== 'gateway') for (const name of FORWARDING_HEADERS) delete headers[name];
    // The gateway forwards only IP addresses; should anything else come through (a proxy of TRUSTED_PROXIES
    // between them writing it), the client is the peer: what is stored as a client address is always one.
    else if (request.ip !== undefined && !isClientAddress(request.ip)) {
      for (const name of FORWARDING_HEADERS) delete headers[name];
    }
    done();
  });
}

/** Whether the request carried the gateway's secret (see {@link registerGatewayTrust}). */
export function gatewayIdentityOf(request: { raw: IncomingMessage }): GatewayIdentity {
  return (request.raw as MarkedRequest)[FROM_GATEWAY] ?? 'absent';
}
