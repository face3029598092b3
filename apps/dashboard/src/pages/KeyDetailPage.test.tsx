import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Me } from '../api/types';
import { apiKey, fakeApi, json, renderAt, user } from '../test-support';
import { KeyDetailPage } from './KeyDetailPage';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const key = apiKey({ id: 'k-1', name: 'ci-main', permissions: ['read:findings'] });

function detail(routes: Parameters<typeof fakeApi>[0], me: Me = user('owner'), now = () => new Date()) {
  const fake = fakeApi({
    'GET /api/v1/api-keys/k-1/usage': () => json({ data: [], next_cursor: null }),
    ...routes,
  });
  renderAt('/keys/k-1', '/keys/:id', <KeyDetailPage api={fake.api} me={me} now={now} />);
  return fake;
}

const WRITE_ACTIONS = [
  'Edit',
  'Rotate',
  'Disable',
  'Enable',
  'Revoke',
  'Delete',
  'Finish rotation',
  'Set rate limit',
];

describe('KeyDetailPage', () => {
  it('shows a viewer the key and its usage log, and no write action', async () => {
    detail(
      {
        'GET /api/v1/api-keys/k-1': () =>
          json(
            apiKey({
              ...key,
              rotation: {
                previous_preview: 'gth_live_…old1',
                previous_retires_at: '2030-01-01T00:00:00Z',
                rotated_at: '2026-12-01T00:00:00Z',
              },
            }),
          ),
        'GET /api/v1/api-keys/k-1/usage': () =>
          json({
            data: [
              {
                occurred_at: '2026-12-04T09:00:00Z',
                outcome: 'success',
                ip: '203.0.113.7',
                user_agent: 'curl/8',
                request_id: 'r-1',
              },
            ],
            next_cursor: null,
          }),
      },
      user('viewer'),
    );
    expect(await screen.findByRole('heading', { level: 1, name: 'ci-main' })).toBeDefined();
    const usage = await screen.findByRole('table', { name: 'Authentication attempts, newest first' });
    expect(within(usage).getByText('203.0.113.7')).toBeDefined();
    for (const name of WRITE_ACTIONS) expect(screen.queryByRole('button', { name })).toBeNull();
    expect(screen.getByText('Your role (viewer) may read keys but not change them.')).toBeDefined();
  });

  it('offers no write action on a key stronger than the caller', async () => {
    const me = {
      ...user('owner'),
      kind: 'api_key' as const,
      role: undefined,
      permissions: ['read:keys', 'write:keys'] as Me['permissions'],
    };
    detail({ 'GET /api/v1/api-keys/k-1': () => json(key) }, me);
    await screen.findByRole('heading', { level: 1, name: 'ci-main' });
    for (const name of WRITE_ACTIONS) expect(screen.queryByRole('button', { name })).toBeNull();
    expect(
      screen.getByText('This key holds read:findings, which you do not: you may not change it.'),
    ).toBeDefined();
  });

  it('asks before revoking, naming the key; Cancel changes nothing and gives focus back to Revoke', async () => {
    const fake = detail({
      'GET /api/v1/api-keys/k-1': () => json(key),
      'POST /api/v1/api-keys/k-1/revoke': () => json({ ...key, state: 'revoked', status: 'revoked' }),
    });
    const revoke = await screen.findByRole('button', { name: 'Revoke' });
    revoke.focus();
    fireEvent.click(revoke);
    const dialog = screen.getByRole('dialog', { name: 'Revoke key ci-main?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(revoke);
    expect(fake.calls('POST', '/api/v1/api-keys/k-1/revoke')).toHaveLength(0);

    fireEvent.click(revoke);
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Revoke key' }));
    expect(await screen.findByText('Key ci-main revoked.')).toBeDefined();
    expect(fake.calls('POST', '/api/v1/api-keys/k-1/revoke')).toHaveLength(1);
    expect(screen.getByText('Revoked')).toBeDefined();
    expect(screen.queryByRole('button', { name: 'Revoke' })).toBeNull();
    const heading = screen.getByRole('heading', { level: 1, name: 'ci-main' });
    await vi.waitFor(() => expect(document.activeElement).toBe(heading));
  });

  it('closes a confirmation on Escape (the dialog closing) without acting', async () => {
    const fake = detail({ 'GET /api/v1/api-keys/k-1': () => json(key) });
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    const dialog = screen.getByRole<HTMLDialogElement>('dialog', { name: 'Delete key ci-main?' });
    act(() => dialog.close());
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(fake.calls('DELETE', '/api/v1/api-keys/k-1')).toHaveLength(0);
  });

  it('deletes after confirmation and goes back to the list', async () => {
    const fake = detail({
      'GET /api/v1/api-keys/k-1': () => json(key),
      'DELETE /api/v1/api-keys/k-1': () => json(null, 204),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    fireEvent.click(
      within(screen.getByRole('dialog', { name: 'Delete key ci-main?' })).getByRole('button', {
        name: 'Delete key',
      }),
    );
    expect(await screen.findByText('Elsewhere')).toBeDefined();
    expect(fake.calls('DELETE', '/api/v1/api-keys/k-1')).toHaveLength(1);
  });

  it('disables and enables with what the API answers', async () => {
    detail({
      'GET /api/v1/api-keys/k-1': () => json(key),
      'POST /api/v1/api-keys/k-1/disable': () =>
        json({ ...key, enabled: false, state: 'disabled', status: 'disabled' }),
      'POST /api/v1/api-keys/k-1/enable': () => json(key),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Disable' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Enable' }));
    expect(await screen.findByRole('button', { name: 'Disable' })).toBeDefined();
    expect(screen.getByText('Key ci-main enabled.')).toBeDefined();
  });

  it('rotates: shows the new secret once, then counts down the grace period until Finish rotation', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let clock = new Date('2026-12-04T12:00:00Z').getTime();
    const rotated = {
      ...key,
      state: 'rotating',
      status: 'rotating',
      key_version: 2,
      rotation: {
        previous_preview: 'gth_live_…abcd',
        previous_retires_at: '2026-12-04T13:00:00Z',
        rotated_at: '2026-12-04T12:00:00Z',
      },
    };
    const fake = detail(
      {
        'GET /api/v1/api-keys/k-1': () => json(key),
        'POST /api/v1/api-keys/k-1/rotate': () => json({ ...rotated, api_key: 'gth_live_NEWSECRET' }),
        'POST /api/v1/api-keys/k-1/rotate/finish': () => json({ ...key, key_version: 2 }),
      },
      user('admin'),
      () => new Date(clock),
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Rotate' }));
    const dialog = screen.getByRole('dialog', { name: 'Rotate key ci-main?' });
    fireEvent.change(within(dialog).getByLabelText('Grace period'), { target: { value: '3600' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Rotate key' }));

    const secret = await screen.findByRole('dialog', { name: 'Key ci-main rotated' });
    expect(within(secret).getByLabelText<HTMLInputElement>('New secret').value).toBe('gth_live_NEWSECRET');
    const [[, init]] = fake.calls('POST', '/api/v1/api-keys/k-1/rotate');
    expect(JSON.parse(init.body as string)).toEqual({ grace_period_seconds: 3600 });
    fireEvent.click(within(secret).getByRole('button', { name: 'Done' }));
    expect(document.body.textContent).not.toContain('gth_live_NEWSECRET');
    expect(screen.queryByDisplayValue('gth_live_NEWSECRET')).toBeNull();

    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Finish rotation' }));
    expect(screen.getByRole('timer').textContent).toBe('1h 0m 0s');
    clock += 61_000;
    act(() => {
      vi.advanceTimersByTime(1000);
    });
    expect(screen.getByRole('timer').textContent).toBe('58m 59s');

    fireEvent.click(screen.getByRole('button', { name: 'Finish rotation' }));
    const confirm = screen.getByRole('dialog', { name: 'Finish the rotation of key ci-main?' });
    fireEvent.click(within(confirm).getByRole('button', { name: 'Retire the previous secret' }));
    expect(await screen.findByText('Rotation finished.')).toBeDefined();
    expect(screen.queryByRole('timer')).toBeNull();
  });

  it("shows a refused action's message and request id, and explains a 403", async () => {
    detail({
      'GET /api/v1/api-keys/k-1': () => json(key),
      'POST /api/v1/api-keys/k-1/disable': () =>
        json(
          {
            error: 'forbidden',
            message: 'The key holds write:findings, which the caller lacks',
            request_id: 'req-403',
          },
          403,
        ),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Disable' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The key holds write:findings, which the caller lacks');
    expect(alert.textContent).toContain('does not allow this');
    expect(alert.textContent).toContain('req-403');
  });

  it('sets a rate-limit override and goes back to the plan limit', async () => {
    const fake = detail({
      'GET /api/v1/api-keys/k-1': () => json(key),
      'PUT /api/v1/api-keys/k-1/rate-limit': () =>
        json({ ...key, rate_limit: { requests_per_minute: 120, burst: 20, source: 'override' } }),
      'DELETE /api/v1/api-keys/k-1/rate-limit': () => json(key),
    });
    fireEvent.change(await screen.findByLabelText('Requests per minute'), { target: { value: '120' } });
    fireEvent.change(screen.getByLabelText('Burst'), { target: { value: '20' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set rate limit' }));
    expect(await screen.findByText('120/min, burst 20 (override)')).toBeDefined();
    const [[, init]] = fake.calls('PUT', '/api/v1/api-keys/k-1/rate-limit');
    expect(JSON.parse(init.body as string)).toEqual({ requests_per_minute: 120, burst: 20 });
    fireEvent.click(screen.getByRole('button', { name: 'Use the plan limit' }));
    expect(await screen.findByText('1000/min, burst 100 (plan)')).toBeDefined();
  });
});

describe('editing a key', () => {
  const labelled = apiKey({
    ...key,
    description: 'Deploys main',
    metadata: { team: 'platform', tier: 'gold' },
  });

  it('shows the description and metadata on the page', async () => {
    detail({ 'GET /api/v1/api-keys/k-1': () => json(labelled) }, user('viewer'));
    await screen.findByRole('heading', { level: 1, name: 'ci-main' });
    expect(screen.getByText('Deploys main')).toBeDefined();
    const metadata = screen.getByRole('list', { name: 'Metadata' });
    expect(
      within(metadata)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toEqual(['team: platform', 'tier: gold']);
  });

  it('sends only what changed, then shows the key as the API answers it and gives focus back to Edit', async () => {
    const saved = apiKey({
      ...labelled,
      name: 'ci-release',
      metadata: { team: 'platform', tier: 'gold', owner: 'ada' },
    });
    const fake = detail({
      'GET /api/v1/api-keys/k-1': () => json(labelled),
      'PATCH /api/v1/api-keys/k-1': () => json(saved),
    });
    const edit = await screen.findByRole('button', { name: 'Edit' });
    edit.focus();
    fireEvent.click(edit);
    const dialog = screen.getByRole('dialog', { name: 'Edit key ci-main' });
    expect(within(dialog).getByLabelText<HTMLTextAreaElement>('Description').value).toBe('Deploys main');
    expect(within(dialog).getByLabelText<HTMLInputElement>('Metadata key 2').value).toBe('tier');
    expect(within(dialog).getByLabelText<HTMLInputElement>('Metadata value 2').value).toBe('gold');

    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'ci-release' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add entry' }));
    fireEvent.change(within(dialog).getByLabelText('Metadata key 3'), { target: { value: 'owner' } });
    fireEvent.change(within(dialog).getByLabelText('Metadata value 3'), { target: { value: 'ada' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByText('Key ci-release updated.')).toBeDefined();
    const [[, init]] = fake.calls('PATCH', '/api/v1/api-keys/k-1');
    // The description was left alone, so it is not sent.
    expect(JSON.parse(init.body as string)).toEqual({
      name: 'ci-release',
      metadata: { team: 'platform', tier: 'gold', owner: 'ada' },
    });
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByRole('heading', { level: 1, name: 'ci-release' })).toBeDefined();
    expect(screen.getByText('owner')).toBeDefined();
    // The dialog gives focus back in its unmount effect, which React may run after the status shows.
    const editButton = screen.getByRole('button', { name: 'Edit' });
    await vi.waitFor(() => expect(document.activeElement).toBe(editButton));
  });

  it('removes an entry and clears the description', async () => {
    const fake = detail({
      'GET /api/v1/api-keys/k-1': () => json(labelled),
      'PATCH /api/v1/api-keys/k-1': () =>
        json({ ...labelled, description: null, metadata: { tier: 'gold' } }),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit key ci-main' });
    fireEvent.change(within(dialog).getByLabelText('Description'), { target: { value: '' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Remove entry 1' }));
    expect(within(dialog).getByLabelText<HTMLInputElement>('Metadata key 1').value).toBe('tier');
    expect(within(dialog).queryByLabelText('Metadata key 2')).toBeNull();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    await screen.findByText('Key ci-main updated.');
    const [[, init]] = fake.calls('PATCH', '/api/v1/api-keys/k-1');
    expect(JSON.parse(init.body as string)).toEqual({ description: null, metadata: { tier: 'gold' } });
  });

  it('says inline what the API would refuse, and sends nothing until it is fixed or when nothing changed', async () => {
    const fake = detail({ 'GET /api/v1/api-keys/k-1': () => json(labelled) });
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit key ci-main' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    expect(within(dialog).getByText('Nothing has changed.')).toBeDefined();
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'ci-release' } });
    expect(within(dialog).queryByText('Nothing has changed.')).toBeNull();

    fireEvent.change(within(dialog).getByLabelText('Metadata key 2'), { target: { value: 'team' } });
    expect(within(dialog).getByText('Entry 1 already has this key.')).toBeDefined();
    expect(within(dialog).getByLabelText('Metadata key 2').getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(within(dialog).getByLabelText('Description'), { target: { value: 'd'.repeat(501) } });
    expect(within(dialog).getByText('A description has at most 500 characters.')).toBeDefined();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add entry' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    expect(within(dialog).getByText('Enter a key, or remove the entry.')).toBeDefined();
    expect(fake.calls('PATCH', '/api/v1/api-keys/k-1')).toHaveLength(0);
  });

  it("keeps the dialog open with the server's message and request id when the API refuses", async () => {
    detail({
      'GET /api/v1/api-keys/k-1': () => json(labelled),
      'PATCH /api/v1/api-keys/k-1': () =>
        json(
          { error: 'validation_failed', message: 'metadata.team must be a string', request_id: 'req-400' },
          400,
        ),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit key ci-main' });
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'ci-release' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toContain('metadata.team must be a string');
    expect(alert.textContent).toContain('req-400');
    expect(within(dialog).getByLabelText<HTMLInputElement>('Name').value).toBe('ci-release');
  });

  it('offers Edit on a revoked key (the API relabels it), and to no one without write:keys', async () => {
    detail({ 'GET /api/v1/api-keys/k-1': () => json({ ...labelled, state: 'revoked', status: 'revoked' }) });
    expect(await screen.findByRole('button', { name: 'Edit' })).toBeDefined();
    cleanup();
    detail({ 'GET /api/v1/api-keys/k-1': () => json(labelled) }, user('member'));
    await screen.findByRole('heading', { level: 1, name: 'ci-main' });
    expect(screen.queryByRole('button', { name: 'Edit' })).toBeNull();
  });
});

describe('refreshing a key', () => {
  it('shows the last use and the usage log as they are now', async () => {
    let used = false;
    detail(
      {
        'GET /api/v1/api-keys/k-1': () =>
          json(used ? { ...key, last_used_at: '2026-12-04T12:30:00Z', last_used_ip: '198.51.100.4' } : key),
        'GET /api/v1/api-keys/k-1/usage': () =>
          json({
            data: used
              ? [
                  {
                    occurred_at: '2026-12-04T12:30:00Z',
                    outcome: 'success',
                    ip: '198.51.100.4',
                    user_agent: null,
                    request_id: 'r-2',
                  },
                ]
              : [],
            next_cursor: null,
          }),
      },
      user('viewer'),
    );
    expect(await screen.findByText('No authentication with this key yet.')).toBeDefined();
    used = true;
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    expect(await screen.findByText('4 Dec 2026, 12:30 UTC from 198.51.100.4')).toBeDefined();
    const usage = await screen.findByRole('table', { name: 'Authentication attempts, newest first' });
    expect(within(usage).getByText('r-2')).toBeDefined();
  });
});
