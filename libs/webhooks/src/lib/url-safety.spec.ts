import { GatehouseError } from '@gatehouse/contracts';
import { assertDeliverableUrl, isPrivateAddress, publicOnlyLookup } from './url-safety';

const strict = { allowPrivate: false, requireHttps: false };

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    'not an address',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('assertDeliverableUrl', () => {
  const resolvesTo =
    (...addresses: string[]) =>
    () =>
      Promise.resolve(addresses);

  it('accepts a public host', async () => {
    const url = await assertDeliverableUrl(
      'https://hooks.example.com/x',
      strict,
      resolvesTo('93.184.216.34'),
    );
    expect(url.hostname).toBe('hooks.example.com');
  });

  it('refuses hosts that are or resolve to internal addresses, even one address among several', async () => {
    for (const raw of [
      'http://127.0.0.1/',
      'http://[::1]:8080/',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      await expect(assertDeliverableUrl(raw, strict)).rejects.toThrow(GatehouseError);
    }
    await expect(
      assertDeliverableUrl('https://sneaky.example.com/', strict, resolvesTo('93.184.216.34', '10.0.0.5')),
    ).rejects.toThrow(/public address/);
  });

  it('refuses other schemes, credentials, and http where https is required', async () => {
    await expect(assertDeliverableUrl('ftp://example.com/', strict)).rejects.toThrow(/http or https/);
    await expect(assertDeliverableUrl('not a url', strict)).rejects.toThrow(/http or https/);
    await expect(
      assertDeliverableUrl('https://u:p@example.com/', strict, resolvesTo('93.184.216.34')),
    ).rejects.toThrow(/credentials/);
    await expect(
      assertDeliverableUrl('http://example.com/', { allowPrivate: false, requireHttps: true }),
    ).rejects.toThrow(/https/);
  });

  it('allows loopback receivers when WEBHOOK_ALLOW_PRIVATE_URLS is set (tests)', async () => {
    const url = await assertDeliverableUrl('http://127.0.0.1:4000/hook', {
      allowPrivate: true,
      requireHttps: false,
    });
    expect(url.port).toBe('4000');
  });
});

describe('publicOnlyLookup (the delivery sockets)', () => {
  it('refuses to connect to a name that resolves to loopback, whatever the URL check said before', async () => {
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      publicOnlyLookup('localhost', {}, (failure) => resolve(failure)),
    );
    expect(error).toMatchObject({ code: 'EADDRNOTAVAIL' });
    expect(error?.message).toMatch(/^localhost resolved to (127\.0\.0\.1|::1), a private/);
  });

  it('passes a lookup failure through', async () => {
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      publicOnlyLookup('no-such-host.invalid', {}, (failure) => resolve(failure)),
    );
    expect(error?.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
