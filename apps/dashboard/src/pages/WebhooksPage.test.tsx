import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApi, json, renderAt, user } from '../test-support';
import { WebhooksPage } from './WebhooksPage';

afterEach(cleanup);

const endpoint = {
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

describe('WebhooksPage', () => {
  it('adds an endpoint and shows its signing secret once', async () => {
    const fake = fakeApi({
      'GET /api/v1/webhooks': () => json({ data: [], next_cursor: null }),
      'POST /api/v1/webhooks': () => json({ ...endpoint, secret: 'whsec_SECRET' }, 201),
    });
    renderAt('/webhooks', '/webhooks', <WebhooksPage api={fake.api} me={user('admin')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Add endpoint' }));
    const dialog = screen.getByRole('dialog', { name: 'Add a webhook endpoint' });
    fireEvent.change(within(dialog).getByLabelText('URL'), { target: { value: endpoint.url } });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'api_key.created' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save endpoint' }));

    const secret = await screen.findByRole('dialog', { name: `Endpoint ${endpoint.url} added` });
    expect(within(secret).getByLabelText<HTMLInputElement>('Signing secret').value).toBe('whsec_SECRET');
    expect(within(secret).getByText('You will not see this secret again.')).toBeDefined();
    const [[, init]] = fake.calls('POST', '/api/v1/webhooks');
    const body = JSON.parse(init.body as string) as { url: string; event_types: string[] };
    expect(body.url).toBe(endpoint.url);
    expect(body.event_types).not.toContain('api_key.created');
    fireEvent.click(within(secret).getByRole('button', { name: 'Done' }));
    expect(screen.queryByDisplayValue('whsec_SECRET')).toBeNull();
  });

  it('deletes an endpoint after a confirmation naming it, and shows its delivery log', async () => {
    const fake = fakeApi({
      'GET /api/v1/webhooks': () => json({ data: [endpoint], next_cursor: null }),
      'GET /api/v1/webhooks/w-1/deliveries': () =>
        json({
          data: [
            {
              id: 'd-1',
              event_id: 'ev-1',
              event_type: 'api_key.revoked',
              status: 'failed',
              attempts: 3,
              next_attempt_at: null,
              last_status_code: 500,
              last_error: 'HTTP 500',
              created_at: '2026-12-02T00:00:00Z',
              completed_at: '2026-12-02T01:00:00Z',
            },
          ],
          next_cursor: null,
        }),
      'DELETE /api/v1/webhooks/w-1': () => json(null, 204),
    });
    renderAt('/webhooks', '/webhooks', <WebhooksPage api={fake.api} me={user('owner')} />);
    fireEvent.click(await screen.findByRole('button', { name: `Deliveries of ${endpoint.url}` }));
    const log = await screen.findByRole('table', { name: 'Deliveries, newest first' });
    expect(within(log).getByText('HTTP 500')).toBeDefined();

    fireEvent.click(screen.getByRole('button', { name: `Delete endpoint ${endpoint.url}` }));
    const confirm = screen.getByRole('dialog', { name: `Delete endpoint ${endpoint.url}?` });
    fireEvent.click(within(confirm).getByRole('button', { name: 'Delete endpoint' }));
    expect(await screen.findByText(`Endpoint ${endpoint.url} deleted.`)).toBeDefined();
    expect(fake.calls('DELETE', '/api/v1/webhooks/w-1')).toHaveLength(1);
  });

  it('offers a viewer no write action', async () => {
    const fake = fakeApi({ 'GET /api/v1/webhooks': () => json({ data: [endpoint], next_cursor: null }) });
    renderAt('/webhooks', '/webhooks', <WebhooksPage api={fake.api} me={user('viewer')} />);
    await screen.findByRole('table', { name: 'Webhook endpoints' });
    expect(screen.queryByRole('button', { name: 'Add endpoint' })).toBeNull();
    expect(screen.queryByRole('button', { name: /Delete/ })).toBeNull();
  });
});
