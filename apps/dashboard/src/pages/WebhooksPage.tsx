import { useCallback, useId, useState } from 'react';
import type { ApiClient } from '../api/api-client';
import {
  WEBHOOK_EVENT_TYPES,
  type CreatedWebhookEndpoint,
  type Me,
  type WebhookEndpoint,
  type WebhookEventType,
} from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { Modal } from '../components/Modal';
import { Pager } from '../components/Pager';
import { SecretDialog } from '../components/SecretDialog';
import { formatTime } from '../format';
import { usePages } from '../hooks/useLoad';
import { whyNoWrite } from '../keys/key-rules';

export function WebhooksPage({ api, me }: { api: ApiClient; me: Me }) {
  const load = useCallback((cursor: string | null) => api.listWebhooks(cursor), [api]);
  const pages = usePages(load);
  const noWrite = whyNoWrite(me);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedWebhookEndpoint | null>(null);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);
  const [shown, setShown] = useState<WebhookEndpoint | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');

  const remove = (endpoint: WebhookEndpoint) => {
    setError(null);
    api.deleteWebhook(endpoint.id).then(
      () => {
        setDeleting(null);
        setDone(`Endpoint ${endpoint.url} deleted.`);
        if (shown?.id === endpoint.id) setShown(null);
        pages.reload();
      },
      (failure: unknown) => {
        setDeleting(null);
        setError(failure);
      },
    );
  };

  return (
    <section aria-labelledby="webhooks-heading">
      <h1 id="webhooks-heading" tabIndex={-1}>
        Webhooks
      </h1>
      <p>Gatehouse POSTs signed key events to these endpoints (docs/WEBHOOKS.md).</p>
      {noWrite === null ? (
        <button type="button" onClick={() => setAdding(true)}>
          Add endpoint
        </button>
      ) : (
        <p className="note">{noWrite}</p>
      )}
      <p role="status">{done}</p>
      {error !== null && <ErrorNotice error={error} />}
      {pages.loaded.kind === 'loading' && <p role="status">Loading endpoints…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' &&
        (pages.loaded.value.data.length === 0 ? (
          <p>No webhook endpoints yet.</p>
        ) : (
          <table>
            <caption>Webhook endpoints</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Description</th>
                <th scope="col">Events</th>
                <th scope="col">Enabled</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {pages.loaded.value.data.map((endpoint) => (
                <tr key={endpoint.id}>
                  <th scope="row">
                    <code>{endpoint.url}</code>
                  </th>
                  <td>{endpoint.description}</td>
                  <td>{endpoint.event_types.join(', ')}</td>
                  <td>{endpoint.enabled ? 'Yes' : 'No'}</td>
                  <td>{formatTime(endpoint.created_at, '')}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() => setShown(endpoint)}
                      aria-label={`Deliveries of ${endpoint.url}`}
                    >
                      Deliveries
                    </button>{' '}
                    {noWrite === null && (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => setDeleting(endpoint)}
                        aria-label={`Delete endpoint ${endpoint.url}`}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <Pager label="Webhook endpoint pages" {...pages} />
      {shown && <Deliveries api={api} endpoint={shown} />}
      {adding && (
        <AddEndpointDialog
          api={api}
          onClose={() => setAdding(false)}
          onCreated={(endpoint) => {
            setAdding(false);
            setCreated(endpoint);
            pages.reload();
          }}
        />
      )}
      {created && (
        <SecretDialog
          title={`Endpoint ${created.url} added`}
          label="Signing secret"
          secret={created.secret}
          onClose={() => setCreated(null)}
        >
          <p>The receiver verifies every delivery&apos;s signature with this secret.</p>
        </SecretDialog>
      )}
      {deleting && (
        <ConfirmDialog
          question={`Delete endpoint ${deleting.url}?`}
          explanation="No more events are sent to it, and its delivery log goes with it."
          action="Delete endpoint"
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting)}
        />
      )}
    </section>
  );
}

function AddEndpointDialog({
  api,
  onCreated,
  onClose,
}: {
  api: ApiClient;
  onCreated: (endpoint: CreatedWebhookEndpoint) => void;
  onClose: () => void;
}) {
  const ids = { url: useId(), description: useId() };
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<WebhookEventType[]>([...WEBHOOK_EVENT_TYPES]);
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState('');
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    if (!URL.canParse(url))
      return setProblem('Enter the full URL, e.g. https://hooks.example.com/gatehouse.');
    if (events.length === 0) return setProblem('Choose at least one event.');
    setProblem('');
    setError(null);
    api
      .createWebhook({ url, description: description.trim() || undefined, event_types: events })
      .then(onCreated, (failure: unknown) => setError(failure));
  };
  return (
    <Modal title="Add a webhook endpoint" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={ids.url}>URL</label>
          <input id={ids.url} type="url" value={url} onChange={(event) => setUrl(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={ids.description}>Description</label>
          <input
            id={ids.description}
            value={description}
            onChange={(event) => setDescription(event.target.value)}
          />
        </div>
        <fieldset>
          <legend>Events</legend>
          {WEBHOOK_EVENT_TYPES.map((type) => (
            <label key={type} className="check">
              <input
                type="checkbox"
                checked={events.includes(type)}
                onChange={(event) =>
                  setEvents((chosen) =>
                    event.target.checked ? [...chosen, type] : chosen.filter((value) => value !== type),
                  )
                }
              />
              {type}
            </label>
          ))}
        </fieldset>
        <p className="problem" role="alert">
          {problem}
        </p>
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit">Save endpoint</button>
        </div>
      </form>
    </Modal>
  );
}

function Deliveries({ api, endpoint }: { api: ApiClient; endpoint: WebhookEndpoint }) {
  const load = useCallback(
    (cursor: string | null) => api.listDeliveries(endpoint.id, cursor),
    [api, endpoint.id],
  );
  const pages = usePages(load);
  return (
    <section aria-labelledby="deliveries-heading">
      <h2 id="deliveries-heading">Deliveries to {endpoint.url}</h2>
      {pages.loaded.kind === 'loading' && <p role="status">Loading deliveries…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' &&
        (pages.loaded.value.data.length === 0 ? (
          <p>Nothing was sent to this endpoint yet.</p>
        ) : (
          <table>
            <caption>Deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Next attempt</th>
              </tr>
            </thead>
            <tbody>
              {pages.loaded.value.data.map((delivery) => (
                <tr key={delivery.id}>
                  <td>{formatTime(delivery.created_at, '')}</td>
                  <td>{delivery.event_type}</td>
                  <td>{delivery.status}</td>
                  <td>{delivery.attempts}</td>
                  <td>{delivery.last_error ?? delivery.last_status_code ?? ''}</td>
                  <td>{formatTime(delivery.next_attempt_at, '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <Pager label="Delivery pages" {...pages} />
    </section>
  );
}
