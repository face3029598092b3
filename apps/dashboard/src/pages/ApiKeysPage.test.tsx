import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/api-client';
import type { ApiKey } from '../api/types';
import { ApiKeysPage } from './ApiKeysPage';

function key(id: string, overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id,
    name: `key ${id}`,
    client_id: `client-${id}`,
    preview: `gh_live_${id}…abcd`,
    permissions: ['read:findings'],
    environment: 'live',
    status: 'active',
    state: 'active',
    expiry_status: 'active',
    created_at: '2026-11-01T10:00:00.000Z',
    expires_at: null,
    revoked_at: null,
    enabled: true,
    last_used_at: null,
    ...overrides,
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

afterEach(cleanup);

describe('ApiKeysPage', () => {
  it('lists the keys with the bearer token, and pages forward and back by cursor', async () => {
    const fetchImpl = vi.fn((input: string) => {
      const url = new URL(input, 'http://dashboard.test');
      return Promise.resolve(
        url.searchParams.get('cursor') === 'c2'
          ? json({ data: [key('2', { last_used_at: '2026-12-01T08:15:00.000Z' })], next_cursor: null })
          : json({ data: [key('1')], next_cursor: 'c2' }),
      );
    });
    render(<ApiKeysPage api={new ApiClient(() => 'token-1', fetchImpl)} />);

    const first = await screen.findByRole('rowheader', { name: 'key 1' });
    const firstRow = first.closest('tr')!;
    expect(within(firstRow).getByText('gh_live_1…abcd')).toBeDefined();
    expect(within(firstRow).getAllByText('Never')).toHaveLength(2);
    const [, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect((init.headers as Record<string, string>)['authorization']).toBe('Bearer token-1');
    expect(screen.getByRole('button', { name: 'Previous page' })).toHaveProperty('disabled', true);

    fireEvent.click(screen.getByRole('button', { name: 'Next page' }));
    const second = await screen.findByRole('rowheader', { name: 'key 2' });
    expect(within(second.closest('tr')!).getByText('1 Dec 2026, 08:15 UTC')).toBeDefined();
    expect(screen.getByRole('button', { name: 'Next page' })).toHaveProperty('disabled', true);

    fireEvent.click(screen.getByRole('button', { name: 'Previous page' }));
    expect(await screen.findByRole('rowheader', { name: 'key 1' })).toBeDefined();
  });

  it("shows the server's message, an explanation and the request id when the role may not list keys", async () => {
    const fetchImpl = vi.fn(() =>
      Promise.resolve(
        json({ error: 'forbidden', message: 'Missing permission read:keys', request_id: 'req-42' }, 403),
      ),
    );
    render(<ApiKeysPage api={new ApiClient(() => 'token-1', fetchImpl)} />);

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Missing permission read:keys');
    expect(alert.textContent).toContain('does not allow this');
    expect(alert.textContent).toContain('req-42');
    expect(screen.queryByRole('table')).toBeNull();
  });

  it('says when the gateway cannot be reached', async () => {
    const fetchImpl = vi.fn(() => Promise.reject(new TypeError('Failed to fetch')));
    render(<ApiKeysPage api={new ApiClient(() => null, fetchImpl)} />);

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The gateway could not be reached: Failed to fetch');
  });
});
