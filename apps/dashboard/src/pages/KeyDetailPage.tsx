import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { ApiClient } from '../api/api-client';
import type { ApiKey, CreatedApiKey, Me } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { Modal } from '../components/Modal';
import { Pager } from '../components/Pager';
import { SecretDialog } from '../components/SecretDialog';
import { expiryLabel, formatTime, rateLimitLabel, stateLabel } from '../format';
import { useLoad, usePages } from '../hooks/useLoad';
import { EditKeyDialog } from '../keys/EditKeyDialog';
import { metadataRows } from '../keys/key-labels';
import { RotationCountdown } from '../keys/RotationCountdown';
import { whyNoWrite } from '../keys/key-rules';

type Dialog = 'edit' | 'rotate' | 'finish' | 'revoke' | 'delete' | null;

const GRACE_PERIODS = [
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '24 hours' },
  { seconds: 604_800, label: '7 days' },
  { seconds: 0, label: 'None: the previous secret stops at once' },
];

export function KeyDetailPage({
  api,
  me,
  now = () => new Date(),
}: {
  api: ApiClient;
  me: Me;
  now?: () => Date;
}) {
  const { id = '' } = useParams();
  const load = useCallback(() => api.getApiKey(id), [api, id]);
  const { loaded, replace } = useLoad(load);
  if (loaded.kind === 'loading') return <p role="status">Loading the key…</p>;
  if (loaded.kind === 'failed') {
    return (
      <section aria-labelledby="key-heading">
        <h1 id="key-heading" tabIndex={-1}>
          API key
        </h1>
        <ErrorNotice error={loaded.error} />
      </section>
    );
  }
  return <KeyDetail api={api} me={me} now={now} apiKey={loaded.value} replace={replace} />;
}

function KeyDetail({
  api,
  me,
  now,
  apiKey: key,
  replace,
}: {
  api: ApiClient;
  me: Me;
  now: () => Date;
  apiKey: ApiKey;
  replace: (key: ApiKey) => void;
}) {
  const navigate = useNavigate();
  const graceId = useId();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [grace, setGrace] = useState(86_400);
  const [secret, setSecret] = useState<CreatedApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const [usageVersion, setUsageVersion] = useState(0);
  // The Rotate button is gone once the key rotates: focus goes to Finish rotation when the new secret is put away.
  const finishButton = useRef<HTMLButtonElement>(null);
  const focusFinishAfterSecret = useRef(false);
  useEffect(() => {
    if (secret === null && focusFinishAfterSecret.current) {
      focusFinishAfterSecret.current = false;
      finishButton.current?.focus();
    }
  }, [secret]);
  const noWrite = whyNoWrite(me, key);
  const final = key.state === 'revoked';

  const act = <T,>(call: () => Promise<T>, after: (value: T) => void, message: string) => {
    setBusy(true);
    setError(null);
    setDone('');
    call().then(
      (value) => {
        setBusy(false);
        setDialog(null);
        setDone(message);
        after(value);
      },
      (failure: unknown) => {
        setBusy(false);
        setDialog(null);
        setError(failure);
      },
    );
  };

  return (
    <section aria-labelledby="key-heading">
      <h1 id="key-heading" tabIndex={-1}>
        {key.name}
      </h1>
      <dl className="facts">
        <dt>Client ID</dt>
        <dd>
          <code>{key.client_id}</code>
        </dd>
        <dt>Key</dt>
        <dd>
          <code>{key.preview}</code> (version {key.key_version})
        </dd>
        <dt>Environment</dt>
        <dd>{key.environment}</dd>
        <dt>State</dt>
        <dd>{stateLabel(key)}</dd>
        <dt>Permissions</dt>
        <dd>{key.permissions.join(', ')}</dd>
        <dt>Created</dt>
        <dd>
          {formatTime(key.created_at, '')} by {key.created_by}
        </dd>
        <dt>Last used</dt>
        <dd>
          {formatTime(key.last_used_at, 'Never')}
          {key.last_used_ip && ` from ${key.last_used_ip}`}
        </dd>
        <dt>Expires</dt>
        <dd>{expiryLabel(key)}</dd>
        <dt>Rate limit</dt>
        <dd>{rateLimitLabel(key.rate_limit)}</dd>
        {key.allowed_ips.length > 0 && (
          <>
            <dt>Allowed addresses</dt>
            <dd>{key.allowed_ips.join(', ')}</dd>
          </>
        )}
        <dt>Description</dt>
        <dd>{key.description ?? 'None'}</dd>
        <dt>Metadata</dt>
        <dd>
          {Object.keys(key.metadata).length === 0 ? (
            'None'
          ) : (
            <ul className="metadata" aria-label="Metadata">
              {metadataRows(key.metadata).map((entry) => (
                <li key={entry.key}>
                  <code>{entry.key}</code>: {entry.value}
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>

      <p>
        <Link to={`/audit?target_id=${encodeURIComponent(key.id)}`}>Audit events of this key</Link>
      </p>
      <button
        type="button"
        onClick={() => {
          // auth-service records use in batches: last used and the usage log catch up a few seconds later.
          act(() => api.getApiKey(key.id), replace, 'Key refreshed.');
          setUsageVersion((value) => value + 1);
        }}
      >
        Refresh
      </button>
      <p role="status">{done}</p>
      {error !== null && <ErrorNotice error={error} />}

      {key.rotation && (
        <section aria-labelledby="rotation-heading" className="panel">
          <h2 id="rotation-heading">Rotation in progress</h2>
          <p>
            The previous secret <code>{key.rotation.previous_preview}</code> still works until{' '}
            {formatTime(key.rotation.previous_retires_at, '')}.
          </p>
          <RotationCountdown retiresAt={key.rotation.previous_retires_at} now={now} />
          {noWrite === null && (
            <button type="button" ref={finishButton} onClick={() => setDialog('finish')}>
              Finish rotation
            </button>
          )}
        </section>
      )}

      {noWrite !== null ? (
        <p className="note">{noWrite}</p>
      ) : (
        !final && (
          <div className="actions" role="group" aria-label="Key actions">
            {!key.rotation && (
              <button type="button" onClick={() => setDialog('rotate')}>
                Rotate
              </button>
            )}
            {key.enabled ? (
              <button
                type="button"
                disabled={busy}
                onClick={() => act(() => api.disableApiKey(key.id), replace, `Key ${key.name} disabled.`)}
              >
                Disable
              </button>
            ) : (
              <button
                type="button"
                disabled={busy}
                onClick={() => act(() => api.enableApiKey(key.id), replace, `Key ${key.name} enabled.`)}
              >
                Enable
              </button>
            )}
            <button type="button" className="danger" onClick={() => setDialog('revoke')}>
              Revoke
            </button>
          </div>
        )
      )}
      {noWrite === null && (
        <div className="actions">
          {/* Labels only: the API lets a revoked key be relabelled, so Edit stays as long as Delete does. */}
          <button type="button" onClick={() => setDialog('edit')}>
            Edit
          </button>
          <button type="button" className="danger" onClick={() => setDialog('delete')}>
            Delete
          </button>
        </div>
      )}

      {noWrite === null && !final && <RateLimitForm api={api} apiKey={key} replace={replace} />}
      {/* A new React key on refresh: the log starts again from its newest page. */}
      <UsageLog key={usageVersion} api={api} keyId={key.id} />

      {dialog === 'edit' && (
        <EditKeyDialog
          api={api}
          apiKey={key}
          onClose={() => setDialog(null)}
          onSaved={(updated) => {
            setDialog(null);
            setError(null);
            setDone(`Key ${updated.name} updated.`);
            replace(updated);
          }}
        />
      )}
      {dialog === 'rotate' && (
        <Modal title={`Rotate key ${key.name}?`} onClose={() => setDialog(null)}>
          <p>
            A new secret is made for the same key and client ID. The previous secret keeps working for the
            grace period, so clients can switch over.
          </p>
          <div className="field">
            <label htmlFor={graceId}>Grace period</label>
            <select id={graceId} value={grace} onChange={(event) => setGrace(Number(event.target.value))}>
              {GRACE_PERIODS.map((period) => (
                <option key={period.seconds} value={period.seconds}>
                  {period.label}
                </option>
              ))}
            </select>
          </div>
          <div className="actions">
            <button type="button" onClick={() => setDialog(null)}>
              Cancel
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                act(
                  () => api.rotateApiKey(key.id, grace),
                  (rotated) => {
                    focusFinishAfterSecret.current = true;
                    setSecret(rotated);
                    // The page keeps the key without its secret: that lives only as long as its dialog.
                    const { api_key: _secret, ...rest } = rotated;
                    replace(rest);
                  },
                  `Key ${key.name} rotated.`,
                )
              }
            >
              Rotate key
            </button>
          </div>
        </Modal>
      )}
      {dialog === 'finish' && (
        <ConfirmDialog
          question={`Finish the rotation of key ${key.name}?`}
          explanation="The previous secret, and every token issued from it, stops working now."
          action="Retire the previous secret"
          busy={busy}
          onCancel={() => setDialog(null)}
          onConfirm={() => act(() => api.finishRotation(key.id), replace, 'Rotation finished.')}
        />
      )}
      {dialog === 'revoke' && (
        <ConfirmDialog
          question={`Revoke key ${key.name}?`}
          explanation="The key and every token issued from it stop working at once, for good. It stays listed as revoked."
          action="Revoke key"
          busy={busy}
          onCancel={() => setDialog(null)}
          onConfirm={() => act(() => api.revokeApiKey(key.id), replace, `Key ${key.name} revoked.`)}
        />
      )}
      {dialog === 'delete' && (
        <ConfirmDialog
          question={`Delete key ${key.name}?`}
          explanation="The key stops working at once and disappears from the lists; its audit trail stays."
          action="Delete key"
          busy={busy}
          onCancel={() => setDialog(null)}
          onConfirm={() =>
            act(
              () => api.deleteApiKey(key.id),
              () => void navigate('/keys', { state: { notice: `Key ${key.name} deleted.` } }),
              `Key ${key.name} deleted.`,
            )
          }
        />
      )}
      {secret && (
        <SecretDialog
          title={`Key ${secret.name} rotated`}
          label="New secret"
          secret={secret.api_key}
          onClose={() => setSecret(null)}
        />
      )}
    </section>
  );
}

function RateLimitForm({
  api,
  apiKey: key,
  replace,
}: {
  api: ApiClient;
  apiKey: ApiKey;
  replace: (key: ApiKey) => void;
}) {
  const ids = { rpm: useId(), burst: useId() };
  const [rpm, setRpm] = useState(String(key.rate_limit.requests_per_minute));
  const [burst, setBurst] = useState(String(key.rate_limit.burst));
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const run = (call: () => Promise<ApiKey>, message: string) => {
    setError(null);
    setDone('');
    call().then(
      (updated) => {
        replace(updated);
        setDone(message);
      },
      (failure: unknown) => setError(failure),
    );
  };
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    run(() => api.setRateLimit(key.id, Number(rpm), Number(burst)), 'Rate limit set.');
  };
  return (
    <section aria-labelledby="rate-limit-heading">
      <h2 id="rate-limit-heading">Rate limit</h2>
      <form onSubmit={submit} className="inline-form">
        <div className="field">
          <label htmlFor={ids.rpm}>Requests per minute</label>
          <input
            id={ids.rpm}
            type="number"
            min={1}
            max={100_000}
            required
            value={rpm}
            onChange={(event) => setRpm(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.burst}>Burst</label>
          <input
            id={ids.burst}
            type="number"
            min={0}
            max={10_000}
            required
            value={burst}
            onChange={(event) => setBurst(event.target.value)}
          />
        </div>
        <button type="submit">Set rate limit</button>
        {key.rate_limit.source === 'override' && (
          <button
            type="button"
            onClick={() => run(() => api.clearRateLimit(key.id), 'Back on the plan limit.')}
          >
            Use the plan limit
          </button>
        )}
      </form>
      <p role="status">{done}</p>
      {error !== null && <ErrorNotice error={error} />}
    </section>
  );
}

function UsageLog({ api, keyId }: { api: ApiClient; keyId: string }) {
  const load = useCallback((cursor: string | null) => api.listUsage(keyId, cursor), [api, keyId]);
  const pages = usePages(load);
  return (
    <section aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage log</h2>
      {pages.loaded.kind === 'loading' && <p role="status">Loading usage…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' &&
        (pages.loaded.value.data.length === 0 ? (
          <p>No authentication with this key yet.</p>
        ) : (
          <table>
            <caption>Authentication attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Outcome</th>
                <th scope="col">IP</th>
                <th scope="col">User agent</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {pages.loaded.value.data.map((entry, index) => (
                <tr key={`${entry.occurred_at}-${entry.request_id ?? index}`}>
                  <td>{formatTime(entry.occurred_at, '')}</td>
                  <td>{entry.outcome}</td>
                  <td>{entry.ip ?? ''}</td>
                  <td>{entry.user_agent ?? ''}</td>
                  <td>
                    <code>{entry.request_id ?? ''}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <Pager label="Usage log pages" {...pages} />
    </section>
  );
}
