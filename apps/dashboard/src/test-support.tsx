import { render } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { vi } from 'vitest';
import { ApiClient } from './api/api-client';
import type { ApiKey, Me, Permission } from './api/types';

export function apiKey(overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id: 'k-1',
    name: 'ci-main',
    client_id: 'ci-main',
    preview: 'gth_live_…abcd',
    permissions: ['read:findings'],
    environment: 'live',
    status: 'active',
    state: 'active',
    expiry_status: 'active',
    key_version: 1,
    rotation: null,
    created_at: '2026-11-01T10:00:00.000Z',
    created_by: 'user:u-1',
    expires_at: null,
    revoked_at: null,
    enabled: true,
    disabled_at: null,
    allowed_ips: [],
    last_used_at: null,
    last_used_ip: null,
    rate_limit: { requests_per_minute: 1000, burst: 100, source: 'plan' },
    description: null,
    metadata: {},
    ...overrides,
  };
}

const ROLE_PERMISSIONS: Record<NonNullable<Me['role']>, Permission[]> = {
  owner: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
  admin: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
  member: ['read:keys', 'read:findings', 'write:findings'],
  viewer: ['read:keys', 'read:findings'],
};

export function user(role: NonNullable<Me['role']>): Me {
  return {
    kind: 'user',
    subject: 'user:u-1',
    user_id: 'u-1',
    organization: { id: 'o-1', name: 'acme', plan: 'enterprise' },
    role,
    permissions: ROLE_PERMISSIONS[role],
  };
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

type Handler = (url: URL, init: RequestInit) => Response;

/** The API at the fetch level: "METHOD /path" → answer; anything else is a 404 in the suite's error shape. */
export function fakeApi(routes: Record<string, Handler>) {
  const fetchImpl = vi.fn((path: string, init: RequestInit) => {
    const url = new URL(path, 'http://dashboard.test');
    const handler = routes[`${init.method ?? 'GET'} ${url.pathname}`];
    return Promise.resolve(
      handler
        ? handler(url, init)
        : json({ error: 'not_found', message: `No route ${url.pathname}`, request_id: 'req-404' }, 404),
    );
  });
  const calls = (method: string, pathname: string) =>
    fetchImpl.mock.calls.filter(
      ([path, init]) =>
        (init.method ?? 'GET') === method && new URL(path, 'http://dashboard.test').pathname === pathname,
    );
  return { api: new ApiClient(() => 'token-1', fetchImpl), fetchImpl, calls };
}

export function renderAt(path: string, pattern: string, element: React.ReactNode) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path={pattern} element={element} />
        <Route path="*" element={<p>Elsewhere</p>} />
      </Routes>
    </MemoryRouter>,
  );
}
