import { OrganizationDirectory, type OrganizationLookup } from './organization-directory';

describe('OrganizationDirectory', () => {
  const ACME_ID = '6f1c1a52-8a47-4f43-9a51-0a8f5f1f3b01';

  const fakeLookup = (organizations: Record<string, string>) =>
    jest.fn<ReturnType<OrganizationLookup>, Parameters<OrganizationLookup>>(async (name) =>
      Object.hasOwn(organizations, name) ? organizations[name] : null,
    );

  it('resolves a name to its id once and answers later calls from memory', async () => {
    const lookup = fakeLookup({ acme: ACME_ID });
    const directory = new OrganizationDirectory(lookup);

    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith('acme');
  });

  it('does not remember an unknown name, so an organization created later is found', async () => {
    const organizations: Record<string, string> = {};
    const lookup = fakeLookup(organizations);
    const directory = new OrganizationDirectory(lookup);

    await expect(directory.idOf('acme')).resolves.toBeNull();
    organizations['acme'] = ACME_ID;
    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('shares one lookup between concurrent requests for the same name', async () => {
    let release: (id: string) => void = () => undefined;
    const lookup = jest.fn<ReturnType<OrganizationLookup>, Parameters<OrganizationLookup>>(
      () => new Promise((resolve) => (release = resolve)),
    );
    const directory = new OrganizationDirectory(lookup);

    const answers = Promise.all([directory.idOf('acme'), directory.idOf('acme'), directory.idOf('acme')]);
    release(ACME_ID);
    await expect(answers).resolves.toEqual([ACME_ID, ACME_ID, ACME_ID]);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('lets a failed lookup fail its callers and retries on the next call', async () => {
    const lookup = jest
      .fn<ReturnType<OrganizationLookup>, Parameters<OrganizationLookup>>()
      .mockRejectedValueOnce(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
      .mockResolvedValueOnce(ACME_ID);
    const directory = new OrganizationDirectory(lookup);

    await expect(directory.idOf('acme')).rejects.toThrow('ECONNREFUSED');
    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('answers null without a query for names no organization can have', async () => {
    const lookup = fakeLookup({});
    const directory = new OrganizationDirectory(lookup);

    await expect(directory.idOf('')).resolves.toBeNull();
    await expect(directory.idOf('a'.repeat(41))).resolves.toBeNull();
    expect(lookup).not.toHaveBeenCalled();
  });

  it('keeps names apart, case included', async () => {
    const lookup = fakeLookup({ acme: ACME_ID, globex: 'b5d2c7a0-1111-4c1e-9d7e-2f9f0e6a7c22' });
    const directory = new OrganizationDirectory(lookup);

    await expect(directory.idOf('globex')).resolves.toBe('b5d2c7a0-1111-4c1e-9d7e-2f9f0e6a7c22');
    await expect(directory.idOf('acme')).resolves.toBe(ACME_ID);
    await expect(directory.idOf('ACME')).resolves.toBeNull();
  });
});
