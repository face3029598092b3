import { lookup as lookupCallback, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { GatehouseError } from '@gatehouse/contracts';

/** Addresses a webhook must not reach: a receiver URL is chosen by a tenant, the request made from inside. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
// IPv4-mapped addresses (::ffff:0:0/96) are not listed: BlockList would match every IPv4 address against them;
// isPrivateAddress judges a mapped address as the IPv4 address it carries.
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    // An IPv4-mapped address is judged as the IPv4 address it is.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return PRIVATE.check(mapped[1], 'ipv4');
  }
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface UrlPolicy {
  /** Tests only: receivers on loopback. */
  allowPrivate: boolean;
  /** Production: plain http is refused. */
  requireHttps: boolean;
}

type Resolve = (host: string) => Promise<string[]>;

const resolveAll: Resolve = async (host) => (await lookup(host, { all: true })).map((entry) => entry.address);

/**
 * Refuses (400 validation_failed) a URL that is not http(s), carries credentials, or whose host is or resolves to
 * a private, loopback, link-local or otherwise internal address. Checked when an endpoint is saved and again
 * before each delivery, since DNS may change in between.
 */
export async function assertDeliverableUrl(
  raw: string,
  policy: UrlPolicy,
  resolve: Resolve = resolveAll,
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new GatehouseError('validation_failed', 'url must be an absolute http or https URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new GatehouseError('validation_failed', 'url must be an absolute http or https URL');
  }
  if (policy.requireHttps && url.protocol !== 'https:') {
    throw new GatehouseError('validation_failed', 'url must use https');
  }
  if (url.username || url.password) {
    throw new GatehouseError('validation_failed', 'url must not carry credentials');
  }
  if (policy.allowPrivate) return url;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch {
    throw new GatehouseError('validation_failed', `url host ${host} does not resolve`);
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw new GatehouseError(
      'validation_failed',
      'url must reach a public address (private, loopback and link-local addresses are refused)',
    );
  }
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for the sockets of deliveries: the address the request actually connects to is checked, so a name that
 * resolved to a public address when the URL was checked and to an internal one a moment later (DNS rebinding) is
 * refused too.
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  lookupCallback(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((entry) => isPrivateAddress(entry.address));
    if (refused) {
      const blocked: NodeJS.ErrnoException = new Error(
        `${hostname} resolved to ${refused.address}, a private, loopback or link-local address`,
      );
      blocked.code = 'EADDRNOTAVAIL';
      return callback(blocked, []);
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
}
