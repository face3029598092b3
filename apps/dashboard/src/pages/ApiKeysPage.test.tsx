import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CreateApiKeyBody } from '../api/types';
import { apiKey, fakeApi, json, renderAt, user } from '../test-support';
import { ApiKeysPage } from './ApiKeysPage';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const now = () => NOW;

afterEach(cleanup);

function page(routes: Parameters<typeof fakeApi>[0], role: Parameters<typeof user>[0] = 'owner') {
  const fake = fakeApi(routes);
  renderAt('/keys', '/keys', <ApiKeysPage api={fake.api} me={user(role)} now={now} />);
  return fake;
}

describe('ApiKeysPage', () => {
  it('lists the keys with the bearer token, and pages forward and back by cursor', async () => {
    const { fetchImpl } = page({
      'GET /api/v1/api-keys': (url) =>
        url.searchParams.get('cursor') === 'c2'
          ? json({
              data: [
                apiKey({
                  id: '2',
                  name: 'key 2',
                  last_used_at: '2026-12-01T08:15:00.000Z',
                  last_used_ip: '203.0.113.7',
                }),
              ],
              next_cursor: null,
            })
          : json({
              data: [apiKey({ id: '1', name: 'key 1', preview: 'gth_live_…1abc' })],
              next_cursor: 'c2',
            }),
    });

    const first = await screen.findByRole('rowheader', { name: 'key 1' });
    const firstRow = first.closest('tr')!;
    expect(within(firstRow).getByText('gth_live_…1abc')).toBeDefined();
    expect(within(firstRow).getAllByText('Never')).toHaveLength(2);
    expect(within(firstRow).getByText('1000/min, burst 100 (plan)')).toBeDefined();
    const [, init] = fetchImpl.mock.calls[0];
    expect((init.headers as Record<string, string>)['authorization']).toBe('Bearer token-1');
    expect(screen.getByRole('button', { name: 'Previous page' })).toHaveProperty('disabled', true);

    fireEvent.click(screen.getByRole('button', { name: 'Next page' }));
    const second = await screen.findByRole('rowheader', { name: 'key 2' });
    expect(within(second.closest('tr')!).getByText('1 Dec 2026, 08:15 UTC')).toBeDefined();
    expect(within(second.closest('tr')!).getByText('from 203.0.113.7')).toBeDefined();
    expect(screen.getByRole('button', { name: 'Next page' })).toHaveProperty('disabled', true);

    fireEvent.click(screen.getByRole('button', { name: 'Previous page' }));
    expect(await screen.findByRole('rowheader', { name: 'key 1' })).toBeDefined();
  });

  it('asks the API to search, filter and sort, from the first page', async () => {
    const { fetchImpl } = page({
      'GET /api/v1/api-keys': () => json({ data: [apiKey()], next_cursor: null }),
    });
    await screen.findByRole('rowheader', { name: 'ci-main' });

    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'disabled' } });
    fireEvent.change(screen.getByLabelText('Environment'), { target: { value: 'test' } });
    fireEvent.change(screen.getByLabelText('Sort by'), { target: { value: 'name' } });
    fireEvent.change(screen.getByLabelText('Order'), { target: { value: 'asc' } });
    fireEvent.change(screen.getByRole('searchbox', { name: 'Search' }), { target: { value: ' ci ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));

    await vi.waitFor(() => {
      const last = new URL(fetchImpl.mock.calls.at(-1)![0], 'http://dashboard.test');
      expect(Object.fromEntries(last.searchParams)).toEqual({
        limit: '20',
        status: 'disabled',
        environment: 'test',
        sort: 'name',
        order: 'asc',
        q: 'ci',
      });
    });
  });

  it("shows the server's message, an explanation and the request id when the role may not list keys", async () => {
    page({
      'GET /api/v1/api-keys': () =>
        json({ error: 'forbidden', message: 'Missing permission read:keys', request_id: 'req-42' }, 403),
    });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Missing permission read:keys');
    expect(alert.textContent).toContain('does not allow this');
    expect(alert.textContent).toContain('req-42');
    expect(screen.queryByRole('table')).toBeNull();
  });

  it('says when the gateway cannot be reached', async () => {
    const fetchImpl = vi.fn(() => Promise.reject(new TypeError('Failed to fetch')));
    const { ApiClient } = await import('../api/api-client');
    renderAt('/keys', '/keys', <ApiKeysPage api={new ApiClient(() => null, fetchImpl)} me={user('owner')} />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The gateway could not be reached: Failed to fetch');
  });

  it('says what was deleted, with focus on the heading, when a key page sends the user back', async () => {
    const fake = fakeApi({ 'GET /api/v1/api-keys': () => json({ data: [], next_cursor: null }) });
    render(
      <MemoryRouter initialEntries={[{ pathname: '/keys', state: { notice: 'Key ci-main deleted.' } }]}>
        <ApiKeysPage api={fake.api} me={user('owner')} now={now} />
      </MemoryRouter>,
    );
    expect(screen.getByText('Key ci-main deleted.').getAttribute('role')).toBe('status');
    await vi.waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'API keys' })),
    );
  });

  it('offers a viewer no way to create a key, and says why', async () => {
    page({ 'GET /api/v1/api-keys': () => json({ data: [apiKey()], next_cursor: null }) }, 'viewer');
    await screen.findByRole('rowheader', { name: 'ci-main' });
    expect(screen.queryByRole('button', { name: 'Create key' })).toBeNull();
    expect(screen.getByText('Your role (viewer) may read keys but not change them.')).toBeDefined();
  });
});

describe('creating a key', () => {
  const created = {
    ...apiKey({ id: 'k-9', name: 'deploy', client_id: 'deploy-bot' }),
    api_key: 'gth_live_SECRET',
  };

  it('checks the client id as it is typed, offers only what the user holds, and suggests 90 days', async () => {
    const fake = fakeApi({ 'GET /api/v1/api-keys': () => json({ data: [], next_cursor: null }) });
    // An automation key with write:keys but without write:findings: the one permission it cannot grant.
    const me = { ...user('owner'), kind: 'api_key' as const, role: undefined };
    me.permissions = ['read:keys', 'write:keys', 'read:findings'];
    renderAt('/keys', '/keys', <ApiKeysPage api={fake.api} me={me} now={now} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Create key' }));
    const dialog = screen.getByRole('dialog', { name: 'Create an API key' });

    const clientId = within(dialog).getByLabelText('Client ID');
    fireEvent.change(clientId, { target: { value: 'ci' } });
    expect(within(dialog).getByText('A client ID has at least 3 characters.')).toBeDefined();
    fireEvent.change(clientId, { target: { value: 'ci main' } });
    expect(within(dialog).getByText('Use only letters, digits, ".", "-" and "_".')).toBeDefined();
    expect(clientId.getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(clientId, { target: { value: 'ci-main' } });
    expect(clientId.getAttribute('aria-invalid')).toBe('false');

    const permissions = within(within(dialog).getByRole('group', { name: 'Permissions' })).getAllByRole(
      'checkbox',
    );
    expect(permissions.map((box) => box.parentElement!.textContent)).toEqual([
      'read:keys',
      'write:keys',
      'read:findings',
    ]);
    expect(within(dialog).getByLabelText<HTMLInputElement>('Expires').value).toBe('2027-03-04');
    expect(within(dialog).getByText(/90 days \(2027-03-04\) is the recommended/)).toBeDefined();
  });

  it('sends the form, then shows the secret once with a copy button, and forgets it when closed', async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    const fake = page({
      'GET /api/v1/api-keys': () => json({ data: [], next_cursor: null }),
      'POST /api/v1/api-keys': () => json(created, 201),
    });
    const opener = await screen.findByRole('button', { name: 'Create key' });
    opener.focus();
    fireEvent.click(opener);
    const dialog = screen.getByRole('dialog', { name: 'Create an API key' });
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'deploy' } });
    fireEvent.change(within(dialog).getByLabelText('Description'), {
      target: { value: 'Deploys the test stack' },
    });
    fireEvent.change(within(dialog).getByLabelText('Client ID'), { target: { value: 'deploy-bot' } });
    fireEvent.change(within(dialog).getByLabelText('Environment'), { target: { value: 'test' } });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'write:findings' }));
    fireEvent.change(within(dialog).getByLabelText('Expires'), { target: { value: '2027-01-31' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save key' }));

    const secretDialog = await screen.findByRole('dialog', { name: 'Key deploy created' });
    const [[, init]] = fake.calls('POST', '/api/v1/api-keys');
    expect(JSON.parse(init.body as string) as CreateApiKeyBody).toEqual({
      name: 'deploy',
      client_id: 'deploy-bot',
      environment: 'test',
      permissions: ['write:findings'],
      expires_at: '2027-01-31T00:00:00.000Z',
      description: 'Deploys the test stack',
    });
    const field = within(secretDialog).getByLabelText<HTMLInputElement>('Secret');
    expect(field.value).toBe('gth_live_SECRET');
    expect(field.readOnly).toBe(true);
    expect(within(secretDialog).getByText('You will not see this secret again.')).toBeDefined();
    fireEvent.click(within(secretDialog).getByRole('button', { name: 'Copy' }));
    expect(await within(secretDialog).findByText('Copied')).toBeDefined();
    expect(writeText).toHaveBeenCalledWith('gth_live_SECRET');

    fireEvent.click(within(secretDialog).getByRole('button', { name: 'Done' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.queryByDisplayValue('gth_live_SECRET')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('does not send a form the API would refuse, and shows what the API refused', async () => {
    const fake = page({
      'GET /api/v1/api-keys': () => json({ data: [], next_cursor: null }),
      'POST /api/v1/api-keys': () =>
        json({ error: 'conflict', message: 'client_id ci-main is taken', request_id: 'req-7' }, 409),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Create key' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save key' }));
    expect(within(dialog).getByText('Enter a name.')).toBeDefined();
    expect(within(dialog).getByText('Choose at least one permission.')).toBeDefined();
    expect(fake.calls('POST', '/api/v1/api-keys')).toHaveLength(0);

    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'ci' } });
    fireEvent.change(within(dialog).getByLabelText('Client ID'), { target: { value: 'ci-main' } });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'read:keys' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save key' }));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toContain('client_id ci-main is taken');
    expect(alert.textContent).toContain('req-7');
  });
});
