import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, json, renderAt } from '../test-support';
import { AuditPage } from './AuditPage';

afterEach(cleanup);

const event = {
  id: 'e-1',
  occurred_at: '2026-12-04T10:00:00.000Z',
  actor_type: 'user',
  actor: 'user:u-1',
  action: 'api_key.revoked',
  target_type: 'api_key',
  target_id: 'k-1',
  ip: '203.0.113.7',
  request_id: 'req-1',
  details: null,
};

describe('AuditPage', () => {
  it('filters through the API and exports what the filters select as CSV', async () => {
    const downloads: Blob[] = [];
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      downloads.push(blob as Blob);
      return 'blob:export';
    });
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined);
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    const fake = fakeApi({
      'GET /api/v1/audit-events': () => json({ data: [event], next_cursor: null }),
      'GET /api/v1/audit-events/export': () =>
        new Response(`${JSON.stringify(event)}\n`, { headers: { 'content-type': 'application/x-ndjson' } }),
    });
    renderAt('/audit', '/audit', <AuditPage api={fake.api} />);
    const table = await screen.findByRole('table', { name: 'Audit events, newest first' });
    expect(within(table).getByText('api_key.revoked')).toBeDefined();

    fireEvent.change(screen.getByLabelText('Action'), { target: { value: 'api_key.revoked' } });
    fireEvent.change(screen.getByLabelText('From (UTC)'), { target: { value: '2026-12-01' } });
    fireEvent.change(screen.getByLabelText('Until (UTC, inclusive)'), { target: { value: '2026-12-04' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await vi.waitFor(() => expect(fake.calls('GET', '/api/v1/audit-events')).toHaveLength(2));
    const filtered = new URL(fake.calls('GET', '/api/v1/audit-events')[1][0], 'http://dashboard.test');
    expect(filtered.searchParams.get('action')).toBe('api_key.revoked');
    expect(filtered.searchParams.get('since')).toBe('2026-12-01T00:00:00.000Z');
    expect(filtered.searchParams.get('until')).toBe('2026-12-05T00:00:00.000Z');

    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(await screen.findByText('Export downloaded.')).toBeDefined();
    const [[path, init]] = fake.calls('GET', '/api/v1/audit-events/export');
    expect(new URL(path, 'http://dashboard.test').searchParams.get('action')).toBe('api_key.revoked');
    expect((init.headers as Record<string, string>)['authorization']).toBe('Bearer token-1');
    expect(downloads).toHaveLength(1);
    const csv = await downloads[0].text();
    expect(csv.split('\r\n')[1]).toBe(
      '2026-12-04T10:00:00.000Z,user,user:u-1,api_key.revoked,api_key,k-1,203.0.113.7,req-1,',
    );
  });

  it("shows an export the API refused with the server's message and request id", async () => {
    const fake = fakeApi({
      'GET /api/v1/audit-events': () => json({ data: [], next_cursor: null }),
      'GET /api/v1/audit-events/export': () =>
        json(
          {
            error: 'limit_exceeded',
            message: 'More than 50000 events: narrow since/until',
            request_id: 'req-9',
          },
          422,
        ),
    });
    renderAt('/audit', '/audit', <AuditPage api={fake.api} />);
    await screen.findByText('No audit events match.');
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('More than 50000 events: narrow since/until');
    expect(alert.textContent).toContain('req-9');
  });

  it("shows one key's events when opened from the key's page", async () => {
    const fake = fakeApi({ 'GET /api/v1/audit-events': () => json({ data: [event], next_cursor: null }) });
    renderAt('/audit?target_id=k-1', '/audit', <AuditPage api={fake.api} />);
    await screen.findByRole('table', { name: 'Audit events, newest first' });
    const [[path]] = fake.calls('GET', '/api/v1/audit-events');
    expect(new URL(path, 'http://dashboard.test').searchParams.get('target_id')).toBe('k-1');
    expect(screen.getByLabelText<HTMLInputElement>('Target id').value).toBe('k-1');
  });

  it('filters by the action a link names, and ignores one the filter does not offer', async () => {
    const fake = fakeApi({ 'GET /api/v1/audit-events': () => json({ data: [event], next_cursor: null }) });
    renderAt('/audit?action=api_key.updated', '/audit', <AuditPage api={fake.api} />);
    await screen.findByRole('table', { name: 'Audit events, newest first' });
    const [[path]] = fake.calls('GET', '/api/v1/audit-events');
    expect(new URL(path, 'http://dashboard.test').searchParams.get('action')).toBe('api_key.updated');
    expect(screen.getByLabelText<HTMLSelectElement>('Action').value).toBe('api_key.updated');
    cleanup();

    const other = fakeApi({ 'GET /api/v1/audit-events': () => json({ data: [event], next_cursor: null }) });
    renderAt('/audit?action=not.an.action', '/audit', <AuditPage api={other.api} />);
    await screen.findByRole('table', { name: 'Audit events, newest first' });
    const [[otherPath]] = other.calls('GET', '/api/v1/audit-events');
    expect(new URL(otherPath, 'http://dashboard.test').searchParams.has('action')).toBe(false);
  });
});
