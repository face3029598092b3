import { failureKeyOf } from './gateway-access.hook';

describe('failureKeyOf (what refused credentials are counted and blocked under)', () => {
  it('counts an IPv4 address alone, in whichever spelling it arrives', () => {
    expect(failureKeyOf('192.0.2.10')).toBe('192.0.2.10');
    expect(failureKeyOf('192.0.2.11')).toBe('192.0.2.11');
    expect(failureKeyOf('::ffff:192.0.2.10')).toBe('192.0.2.10');
    expect(failureKeyOf('::ffff:c000:20a')).toBe('192.0.2.10');
    expect(failureKeyOf('0:0:0:0:0:ffff:192.0.2.10')).toBe('192.0.2.10');
  });

  it('counts every address of an IPv6 /64 together', () => {
    const keys = new Set(
      ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:abcd::9'].map(
        failureKeyOf,
      ),
    );
    expect([...keys]).toEqual(['2001:db8:1:2::/64']);
  });

  it('keeps neighbouring /64s apart', () => {
    expect(failureKeyOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(failureKeyOf('::1')).toBe('::/64');
  });

  it('keeps what is not an address as it is', () => {
    expect(failureKeyOf('unknown')).toBe('unknown');
  });
});
