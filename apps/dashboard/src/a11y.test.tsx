import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import axe from 'axe-core';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { Dashboard } from './Dashboard';
import { apiKey, fakeApi, json, user } from './test-support';

afterEach(cleanup);

const key = apiKey({ last_used_at: '2026-12-04T09:00:00Z', last_used_ip: '203.0.113.7' });
const audit = {
  id: 'e-1',
  occurred_at: '2026-12-04T10:00:00Z',
  actor_type: 'user',
  actor: 'user:u-1',
  action: 'api_key.created',
  target_type: 'api_key',
  target_id: 'k-1',
  ip: '203.0.113.7',
  request_id: 'req-1',
  details: { permissions: ['read:findings'] },
};
const webhook = {
  id: 'w-1',
  url: 'https://hooks.example.com/gatehouse',
  description: 'SIEM',
  event_types: ['api_key.revoked'],
  enabled: true,
  expiring_within_days: 7,
  created_at: '2026-12-01T00:00:00Z',
  created_by: 'user:u-1',
  updated_at: '2026-12-01T00:00:00Z',
  secret_rotated_at: null,
};
const counts = { open: 1, fixed: 2 };

function dashboardAt(path: string, role: Parameters<typeof user>[0] = 'owner') {
  const fake = fakeApi({
    'GET /api/v1/me': () => json(user(role)),
    'GET /api/v1/api-keys': () => json({ data: [key], next_cursor: null }),
    'GET /api/v1/api-keys/k-1': () => json(key),
    'GET /api/v1/api-keys/k-1/usage': () =>
      json({
        data: [
          {
            occurred_at: '2026-12-04T09:00:00Z',
            outcome: 'success',
            ip: null,
            user_agent: null,
            request_id: 'r-1',
          },
        ],
        next_cursor: null,
      }),
    'GET /api/v1/audit-events': () => json({ data: [audit], next_cursor: null }),
    'GET /api/v1/findings/summary': () =>
      json({
        total: counts,
        by_severity: { critical: counts, high: counts, medium: counts, low: counts, info: counts },
      }),
    'GET /api/v1/findings': () => json({ data: [], next_cursor: null }),
    'GET /api/v1/webhooks': () => json({ data: [webhook], next_cursor: null }),
  });
  render(
    <MemoryRouter initialEntries={[path]}>
      <main>
        <Dashboard api={fake.api} />
      </main>
    </MemoryRouter>,
  );
  return fake;
}

/** axe-core's serious and critical violations (jsdom cannot lay out, so contrast is left to the browser test). */
async function seriousViolations(): Promise<string[]> {
  const results = await axe.run(document.body, { rules: { 'color-contrast': { enabled: false } } });
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    );
}

describe('accessibility (axe-core)', () => {
  it.each([
    ['/keys', 'API keys'],
    ['/keys/k-1', 'ci-main'],
    ['/audit', 'Audit log'],
    ['/findings', 'Findings'],
    ['/webhooks', 'Webhooks'],
  ])('%s has no serious or critical violation', async (path, heading) => {
    dashboardAt(path);
    await screen.findByRole('heading', { level: 1, name: heading });
    await screen.findAllByRole('table');
    expect(await seriousViolations()).toEqual([]);
  });

  it('the create dialog has none either', async () => {
    dashboardAt('/keys');
    fireEvent.click(await screen.findByRole('button', { name: 'Create key' }));
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Save key' }));
    expect(await seriousViolations()).toEqual([]);
  });

  it('the edit dialog has none either, with metadata rows and their problems shown', async () => {
    dashboardAt('/keys/k-1');
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit key ci-main' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add entry' }));
    fireEvent.change(within(dialog).getByLabelText('Metadata key 1'), { target: { value: '-bad' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add entry' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    expect(await seriousViolations()).toEqual([]);
  });

  it('shows navigation by what the role may read', async () => {
    dashboardAt('/keys', 'viewer');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['API keys', 'Audit log', 'Findings', 'Webhooks']);
  });
});
