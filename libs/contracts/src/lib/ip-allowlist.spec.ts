import { IpAllowlist, isIpAllowed, normalizeAllowedIps, normalizeIpEntry } from './ip-allowlist';

describe('normalizeIpEntry', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7/32'],
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['10.9.9.0/24', '10.9.9.0/24'],
    ['10.9.9.77/24', '10.9.9.0/24'],
    ['10.255.255.255/9', '10.128.0.0/9'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    [' 192.0.2.1 ', '192.0.2.1/32'],
    ['::1', '::1/128'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1/128'],
    ['2001:db8:0000:0000:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1/128'],
    ['2001:db8::abcd/32', '2001:db8::/32'],
    ['2001:db8:1234:5678::/63', '2001:db8:1234:5678::/63'],
    ['2001:db8:1234:5679::/63', '2001:db8:1234:5678::/63'],
    ['fe80::/10', 'fe80::/10'],
    ['::/0', '::/0'],
    ['::ffff:1.2.3.4', '1.2.3.4/32'],
    ['::ffff:1.2.3.0/120', '1.2.3.0/24'],
    ['::FFFF:0102:0304', '1.2.3.4/32'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:0:0/80', '::/80'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221/128'],
  ])('normalizes %j to %j', (entry, expected) => {
    expect(normalizeIpEntry(entry)).toBe(expected);
  });

  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '010.1.1.1',
    '1.2.3.4/33',
    '1.2.3.4/-1',
    '1.2.3.4/',
    '1.2.3.4/ 8',
    '1.2.3.4/08x',
    '1.2.3.4/1/2',
    '1.2.3.4/1234',
    '::1/129',
    '::ffff:1.2.3.4/129',
    '2001:db8::1::1',
    'fe80::1%eth0',
    '1.2.3.4\u0000',
    '/24',
  ])('refuses %j', (entry) => {
    expect(normalizeIpEntry(entry)).toBeNull();
  });
});

describe('normalizeAllowedIps', () => {
  it('normalizes every entry and drops duplicates, keeping the order', () => {
    expect(normalizeAllowedIps(['10.0.0.1/8', '::1', '10.1.2.3/8', '192.0.2.1'])).toEqual({
      ok: true,
      cidrs: ['10.0.0.0/8', '::1/128', '192.0.2.1/32'],
    });
  });

  it('names the first entry that is not valid', () => {
    expect(normalizeAllowedIps(['10.0.0.0/8', 'nope', '1.2.3.4/99'])).toEqual({ ok: false, invalid: 'nope' });
  });

  it('takes an empty list as it is', () => {
    expect(normalizeAllowedIps([])).toEqual({ ok: true, cidrs: [] });
  });
});

describe('IpAllowlist', () => {
  const list = IpAllowlist.of(['10.9.9.0/24', '203.0.113.7/32', '2001:db8::/32']);

  it.each([
    ['10.9.9.0', true],
    ['10.9.9.255', true],
    ['10.9.10.0', false],
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['2001:db8::1', true],
    ['2001:DB8:ffff::1', true],
    ['2001:db9::1', false],
    ['::1', false],
    // How a dual-stack socket shows an IPv4 client.
    ['::ffff:10.9.9.9', true],
    ['::ffff:10.9.8.9', false],
    ['', false],
    ['not-an-ip', false],
    ['fe80::1%eth0', false],
  ])('for %j answers %s', (ip, allowed) => {
    expect(list.allows(ip)).toBe(allowed);
  });

  it('allows an IPv4-mapped client through an IPv4 entry stored from its mapped form', () => {
    const mapped = IpAllowlist.of([normalizeIpEntry('::ffff:127.0.0.1') as string]);
    expect(mapped.cidrs).toEqual(['127.0.0.1/32']);
    expect(mapped.allows('127.0.0.1')).toBe(true);
    expect(mapped.allows('::ffff:127.0.0.1')).toBe(true);
    expect(mapped.allows('127.0.0.2')).toBe(false);
  });

  it('allows every address, even one it cannot read, when empty', () => {
    const open = IpAllowlist.of([]);
    expect(open.unrestricted).toBe(true);
    expect(open.allows('198.51.100.1')).toBe(true);
    expect(open.allows('garbage')).toBe(true);
  });

  it('refuses to compile an entry that is not a CIDR', () => {
    expect(() => IpAllowlist.of(['10.0.0.0/40'])).toThrow('not a CIDR');
  });
});

describe('isIpAllowed', () => {
  it('checks an address against a list, the same answer every time', () => {
    const cidrs = ['127.0.0.1/32', '::1/128'];
    for (let round = 0; round < 3; round += 1) {
      expect(isIpAllowed(cidrs, '127.0.0.1')).toBe(true);
      expect(isIpAllowed(cidrs, '::1')).toBe(true);
      expect(isIpAllowed(cidrs, '::ffff:127.0.0.1')).toBe(true);
      expect(isIpAllowed(cidrs, '10.0.0.1')).toBe(false);
    }
  });

  it('allows every address with an empty list', () => {
    expect(isIpAllowed([], '10.0.0.1')).toBe(true);
  });
});
