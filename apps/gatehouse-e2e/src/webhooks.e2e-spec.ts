import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  request,
  startService,
  startSuite,
  startWebhookReceiver,
  type BootstrapOutput,
  type ReceivedWebhook,
  type RunningSuite,
  type ServiceProcess,
  type WebhookReceiver,
} from '@gatehouse/testing';

type Body = Record<string, unknown>;

interface Delivery {
  status: string;
  attempts: number;
  event_type: string;
  event_id: string;
  attempt_log: { attempt: number; status_code: number | null }[];
}

/** What a receiver does, written from the Standard Webhooks specification rather than with Gatehouse's code. */
function verified(secret: string, webhook: ReceivedWebhook): boolean {
  const id = String(webhook.headers['webhook-id']);
  const timestamp = String(webhook.headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(
    `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${webhook.body}`).digest('base64')}`,
  );
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return (
    fresh &&
    String(webhook.headers['webhook-signature'])
      .split(' ')
      .some((candidate) => {
        const given = Buffer.from(candidate);
        return given.length === expected.length && timingSafeEqual(given, expected);
      })
  );
}

/**
 * Webhooks for key events through the whole suite: a loopback receiver gets signed events for key changes made
 * over HTTP, a failing receiver is retried, and an event whose delivery admin-api was killed in the middle of is
 * delivered by the admin-api started after it.
 */
describe('webhooks', () => {
  const adminEnv = {
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WEBHOOK_POLL_INTERVAL_MS: '100',
    WEBHOOK_RETRY_BASE_MS: '200',
    WEBHOOK_TIMEOUT_MS: '1000',
  };
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;
  let ownerToken: string;
  const receivers: WebhookReceiver[] = [];
  const restarted: ServiceProcess[] = [];

  const tokenOf = async (output: BootstrapOutput) => {
    const response = await request<Body>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': output.api_key },
      body: { client_id: output.client_id },
    });
    return response.body['access_token'] as string;
  };

  const as =
    (token: string) =>
    (path: string, init: { method?: string; body?: unknown } = {}) =>
      request<Body>(`${gateway}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });

  const receiver = async (...args: Parameters<typeof startWebhookReceiver>) => {
    const started = await startWebhookReceiver(...args);
    receivers.push(started);
    return started;
  };

  const createEndpoint = async (url: string, eventTypes: string[]) => {
    const response = await as(ownerToken)('/api/v1/webhooks', {
      method: 'POST',
      body: { url, event_types: eventTypes, description: 'e2e' },
    });
    expect(response.status).toBe(201);
    return response.body as { id: string; secret: string };
  };

  const deliveriesOf = async (endpointId: string) => {
    const response = await as(ownerToken)(`/api/v1/webhooks/${endpointId}/deliveries`);
    expect(response.status).toBe(200);
    return response.body['data'] as Delivery[];
  };

  const eventually = async (check: () => Promise<boolean>, deadlineMs = 15_000) => {
    const until = Date.now() + deadlineMs;
    while (!(await check())) {
      if (Date.now() > until) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    suite = await startSuite({ adminEnv });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('webhooks', 'pro');
    ownerToken = await tokenOf(owner);
  });

  afterAll(async () => {
    await Promise.all(receivers.map((started) => started.stop()));
    await Promise.all(restarted.map((service) => service.stop()));
    await suite?.stop();
  });

  it('POSTs signed events for a key created, rotated and revoked over the API', async () => {
    const hooks = await receiver();
    const endpoint = await createEndpoint(hooks.url, [
      'api_key.created',
      'api_key.rotated',
      'api_key.revoked',
    ]);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    // Shown once: never again.
    const shown = await as(ownerToken)(`/api/v1/webhooks/${endpoint.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).not.toHaveProperty('secret');

    const created = await as(ownerToken)('/api/v1/api-keys', {
      method: 'POST',
      body: { name: 'hooked', client_id: 'hooked-key', permissions: ['read:keys'] },
    });
    expect(created.status).toBe(201);
    const keyId = created.body['id'] as string;
    expect(
      (await as(ownerToken)(`/api/v1/api-keys/${keyId}/rotate`, { method: 'POST', body: {} })).status,
    ).toBe(200);
    expect((await as(ownerToken)(`/api/v1/api-keys/${keyId}/revoke`, { method: 'POST' })).status).toBe(200);

    const received = await hooks.waitFor(3);
    const payloads = received.map((webhook) => JSON.parse(webhook.body) as { type: string; data: Body });
    expect(payloads.map((payload) => payload.type).sort()).toEqual([
      'api_key.created',
      'api_key.revoked',
      'api_key.rotated',
    ]);
    for (const payload of payloads) {
      expect(payload.data['api_key']).toMatchObject({ id: keyId, client_id: 'hooked-key' });
      expect(payload.data['actor']).toBe(`api_key:${owner.api_key_id}`);
    }
    expect(received.every((webhook) => verified(endpoint.secret, webhook))).toBe(true);
    expect(
      received.every((webhook) => !verified(`whsec_${randomBytes(32).toString('base64')}`, webhook)),
    ).toBe(true);
    expect(received.every((webhook) => webhook.headers['content-type'] === 'application/json')).toBe(true);
  });

  it('retries a receiver that answered 500, and the delivery log shows both attempts', async () => {
    const hooks = await receiver((index) => (index === 0 ? 500 : 200));
    const endpoint = await createEndpoint(hooks.url, ['api_key.created']);
    const test = await as(ownerToken)(`/api/v1/webhooks/${endpoint.id}/test`, { method: 'POST' });
    expect(test.status).toBe(202);

    const received = await hooks.waitFor(2);
    expect(received[0].headers['webhook-id']).toBe(received[1].headers['webhook-id']);
    expect(received.every((webhook) => verified(endpoint.secret, webhook))).toBe(true);
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered');
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery).toMatchObject({
      event_type: 'webhook.ping',
      attempts: 2,
      event_id: test.body['event_id'],
    });
    expect(delivery.attempt_log.map((attempt) => [attempt.attempt, attempt.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    const metrics = await (await fetch(`${suite.admin.managementUrl}/metrics`)).text();
    expect(metrics).toMatch(/^gatehouse_webhook_attempts_total\{outcome="retrying"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^gatehouse_webhook_attempts_total\{outcome="delivered"[^}]*\} [1-9]/m);
  });

  it('signs with the new secret after a rotation, and answers 404 to another organization', async () => {
    const hooks = await receiver();
    const endpoint = await createEndpoint(hooks.url, ['api_key.created']);
    const rotated = await as(ownerToken)(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    const secret = rotated.body['secret'] as string;
    expect(secret).not.toBe(endpoint.secret);
    await as(ownerToken)(`/api/v1/webhooks/${endpoint.id}/test`, { method: 'POST' });
    const [webhook] = await hooks.waitFor(1);
    expect(verified(secret, webhook)).toBe(true);
    expect(verified(endpoint.secret, webhook)).toBe(false);

    const other = await suite.bootstrap('webhooks-other', 'pro');
    const asOther = as(await tokenOf(other));
    for (const [method, path] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/rotate-secret'],
      ['POST', '/test'],
      ['GET', '/deliveries'],
    ]) {
      const response = await asOther(`/api/v1/webhooks/${endpoint.id}${path}`, {
        method,
        ...(method === 'PATCH' && { body: { enabled: false } }),
      });
      expect([method, path, response.status, response.body['error']]).toEqual([
        method,
        path,
        404,
        'not_found',
      ]);
    }
    const listed = await asOther('/api/v1/webhooks');
    expect(listed.body['data']).toEqual([]);
  });

  it('answers 400 in the error shape for a bad URL, an unknown event type or an unknown field', async () => {
    for (const body of [
      { url: 'ftp://example.com/hook', event_types: ['api_key.created'] },
      { url: 'not a url', event_types: ['api_key.created'] },
      { url: 'https://example.com/hook', event_types: ['api_key.exploded'] },
      { url: 'https://example.com/hook', event_types: [] },
      { url: 'https://example.com/hook', event_types: ['api_key.created'], secret: 'mine' },
    ]) {
      const response = await as(ownerToken)('/api/v1/webhooks', { method: 'POST', body });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'validation_failed', request_id: expect.any(String) });
    }
  });

  it('delivers an event whose delivery was under way when admin-api was killed (SIGKILL), once restarted', async () => {
    // The first request is never answered: admin-api dies while it waits; the event is committed, undelivered.
    const hooks = await receiver((index) => (index === 0 ? 'hang' : 200));
    const endpoint = await createEndpoint(hooks.url, ['api_key.disabled']);
    const created = await as(ownerToken)('/api/v1/api-keys', {
      method: 'POST',
      body: { name: 'crash', client_id: 'crash-key', permissions: ['read:keys'] },
    });
    const keyId = created.body['id'] as string;
    expect((await as(ownerToken)(`/api/v1/api-keys/${keyId}/disable`, { method: 'POST' })).status).toBe(200);
    await hooks.waitFor(1);

    const port = new URL(suite.admin.url).port;
    expect(await suite.admin.signal('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    restarted.push(
      await startService('admin-api', {
        ...suite.env,
        JWKS_URL: `${suite.auth.url}/api/v1/auth/jwks`,
        ...adminEnv,
        PORT: port,
      }),
    );

    // Taken up again once the dead process's lease (timeout + 1 s) ran out.
    const received = await hooks.waitFor(2);
    expect(received[1].headers['webhook-id']).toBe(received[0].headers['webhook-id']);
    expect(JSON.parse(received[1].body)).toMatchObject({
      type: 'api_key.disabled',
      data: { api_key: { id: keyId } },
    });
    expect(verified(endpoint.secret, received[1])).toBe(true);
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered');
    const [delivery] = await deliveriesOf(endpoint.id);
    // The interrupted attempt counts; only the one that got an answer is in the log.
    expect(delivery).toMatchObject({ attempts: 2, attempt_log: [{ attempt: 2, status_code: 200 }] });
  });
});
