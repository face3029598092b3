import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Most entries a key's `allowed_ips` may hold. */
export const ALLOWED_IPS_MAX = 100;

type Family = 'ipv4' | 'ipv6';

interface Network {
  family: Family;
  bytes: number[];
  prefix: number;
}

const PREFIX = /^\d{1,3}$/;
const MAPPED_IPV4_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/** Sixteen bytes of an address `isIPv6` accepted, a dotted IPv4 tail included. */
function ipv6Bytes(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groupsOf = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((group) => {
      if (group.includes('.')) {
        const [a, b, c, d] = ipv4Bytes(group);
        return [(a << 8) | b, (c << 8) | d];
      }
      return [parseInt(group, 16)];
    });
  };
  const left = groupsOf(head);
  const right = groupsOf(tail);
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups (the first on a tie) as `::`. */
function formatIpv6(bytes: readonly number[]): string {
  const groups = Array.from({ length: 8 }, (_, index) => (bytes[2 * index] << 8) | bytes[2 * index + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function format(network: Network): string {
  const address = network.family === 'ipv4' ? network.bytes.join('.') : formatIpv6(network.bytes);
  return `${address}/${network.prefix}`;
}

function isMappedIpv4(bytes: readonly number[]): boolean {
  return MAPPED_IPV4_PREFIX.every((byte, index) => bytes[index] === byte);
}

function parse(entry: string): Network | null {
  const parts = entry.trim().split('/');
  if (parts.length > 2) return null;
  const [address, prefixText] = parts;
  // A zone (fe80::1%eth0) names an interface of one host; it means nothing to a server elsewhere.
  if (address.includes('%')) return null;
  if (prefixText !== undefined && !PREFIX.test(prefixText)) return null;
  let network: Network;
  if (isIPv4(address)) {
    network = { family: 'ipv4', bytes: ipv4Bytes(address), prefix: Number(prefixText ?? 32) };
  } else if (isIPv6(address)) {
    network = { family: 'ipv6', bytes: ipv6Bytes(address), prefix: Number(prefixText ?? 128) };
    // ::ffff:1.2.3.4 is how a dual-stack socket shows an IPv4 client: stored as the IPv4 address it is.
    if (isMappedIpv4(network.bytes) && network.prefix >= 96) {
      network = { family: 'ipv4', bytes: network.bytes.slice(12), prefix: network.prefix - 96 };
    }
  } else {
    return null;
  }
  if (network.prefix > network.bytes.length * 8) return null;
  network.bytes = network.bytes.map((byte, index) => {
    const bitsKept = Math.min(8, Math.max(0, network.prefix - index * 8));
    return byte & ((0xff << (8 - bitsKept)) & 0xff);
  });
  return network;
}

/**
 * One entry of an allowlist in its one stored form, or null when it is neither an address nor a CIDR with a
 * valid prefix length: `address/prefix`, a bare address getting /32 (IPv4) or /128 (IPv6), host bits cleared
 * (`10.1.2.3/24` → `10.1.2.0/24`), IPv6 in RFC 5952 form, and IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4.
 */
export function normalizeIpEntry(entry: string): string | null {
  const network = parse(entry);
  return network ? format(network) : null;
}

export type AllowedIpsNormalization = { ok: true; cidrs: string[] } | { ok: false; invalid: string };

/** Every entry normalized, duplicates dropped, order kept; or the first entry that is not valid. */
export function normalizeAllowedIps(entries: readonly string[]): AllowedIpsNormalization {
  const cidrs: string[] = [];
  for (const entry of entries) {
    const normalized = normalizeIpEntry(entry);
    if (normalized === null) return { ok: false, invalid: entry };
    if (!cidrs.includes(normalized)) cidrs.push(normalized);
  }
  return { ok: true, cidrs };
}

/** Matches client addresses against normalized CIDRs (node's BlockList); an empty list allows everyone. */
export class IpAllowlist {
  private readonly list = new BlockList();

  private constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const network = parse(cidr);
      if (!network) throw new Error(`not a CIDR: ${cidr}`);
      const address = network.family === 'ipv4' ? network.bytes.join('.') : formatIpv6(network.bytes);
      this.list.addSubnet(address, network.prefix, network.family);
    }
  }

  /** Throws on an entry that is not an address or CIDR: give it what `normalizeAllowedIps` returned. */
  static of(cidrs: readonly string[]): IpAllowlist {
    return new IpAllowlist(cidrs);
  }

  get unrestricted(): boolean {
    return this.cidrs.length === 0;
  }

  /** A client address that is not a valid address is allowed only by an unrestricted list. */
  allows(ip: string): boolean {
    if (this.unrestricted) return true;
    // BlockList matches ::ffff:1.2.3.4 against IPv4 subnets (and 1.2.3.4 against ::ffff:0:0/96) by itself.
    if (isIPv4(ip)) return this.list.check(ip, 'ipv4');
    if (isIPv6(ip) && !ip.includes('%')) return this.list.check(ip, 'ipv6');
    return false;
  }
}

const MEMO_MAX = 1000;
const memo = new Map<string, IpAllowlist>();

/**
 * Whether `ip` may use a credential restricted to `cidrs` (normalized, as tokens carry them); an empty list allows
 * every address. Lists are compiled once and remembered, since a token's list is checked on each of its requests.
 */
export function isIpAllowed(cidrs: readonly string[], ip: string): boolean {
  if (cidrs.length === 0) return true;
  const id = cidrs.join(',');
  let allowlist = memo.get(id);
  if (!allowlist) {
    // Bounded: many distinct lists only cost recompiling them, never memory.
    if (memo.size >= MEMO_MAX) memo.clear();
    allowlist = IpAllowlist.of(cidrs);
    memo.set(id, allowlist);
  }
  return allowlist.allows(ip);
}
