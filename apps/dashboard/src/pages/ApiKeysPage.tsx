import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { Link, useLocation } from 'react-router';
import type { ApiClient } from '../api/api-client';
import type { CreatedApiKey, Environment, KeyListQuery, KeyListStatus, KeySort, Me } from '../api/types';
import { ApiKeysTable } from '../components/ApiKeysTable';
import { ErrorNotice } from '../components/ErrorNotice';
import { Pager } from '../components/Pager';
import { SecretDialog } from '../components/SecretDialog';
import { usePages } from '../hooks/useLoad';
import { CreateKeyDialog } from '../keys/CreateKeyDialog';
import { whyNoWrite } from '../keys/key-rules';

const STATUSES: KeyListStatus[] = ['active', 'rotating', 'disabled', 'revoked', 'expired', 'expiring_soon'];

/** The organization's keys: filtered, searched and sorted by the API, paged by its cursors. */
export function ApiKeysPage({
  api,
  me,
  now = () => new Date(),
}: {
  api: ApiClient;
  me: Me;
  now?: () => Date;
}) {
  const ids = { q: useId(), status: useId(), environment: useId(), sort: useId(), order: useId() };
  const [query, setQuery] = useState<KeyListQuery>({});
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const load = useCallback((cursor: string | null) => api.listApiKeys(query, cursor), [api, query]);
  const pages = usePages(load);
  const noWrite = whyNoWrite(me);
  const notice = (useLocation().state as { notice?: string } | null)?.notice ?? '';
  // Sent here after deleting a key: the focus the deleted key's page had goes to this page's heading.
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (notice) heading.current?.focus();
  }, [notice]);

  const set = (change: Partial<KeyListQuery>) => setQuery((value) => ({ ...value, ...change }));
  const applySearch = (event: React.FormEvent) => {
    event.preventDefault();
    set({ q: search.trim() || undefined });
  };

  return (
    <section aria-labelledby="api-keys-heading">
      <h1 id="api-keys-heading" tabIndex={-1} ref={heading}>
        API keys
      </h1>
      <p role="status">{notice}</p>
      {noWrite === null ? (
        <button type="button" onClick={() => setCreating(true)}>
          Create key
        </button>
      ) : (
        <p className="note">{noWrite}</p>
      )}
      <form className="filters" onSubmit={applySearch} role="search" aria-label="Filter API keys">
        <div className="field">
          <label htmlFor={ids.q}>Search</label>
          <input
            id={ids.q}
            type="search"
            value={search}
            maxLength={100}
            onChange={(event) => setSearch(event.target.value)}
          />
        </div>
        <button type="submit">Search</button>
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select
            id={ids.status}
            value={query.status ?? ''}
            onChange={(event) =>
              set({ status: (event.target.value || undefined) as KeyListStatus | undefined })
            }
          >
            <option value="">Any</option>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {status.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.environment}>Environment</label>
          <select
            id={ids.environment}
            value={query.environment ?? ''}
            onChange={(event) =>
              set({ environment: (event.target.value || undefined) as Environment | undefined })
            }
          >
            <option value="">Any</option>
            <option value="live">live</option>
            <option value="test">test</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.sort}>Sort by</label>
          <select
            id={ids.sort}
            value={query.sort ?? 'created_at'}
            onChange={(event) => set({ sort: event.target.value as KeySort })}
          >
            <option value="created_at">Created</option>
            <option value="last_used_at">Last used</option>
            <option value="name">Name</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.order}>Order</label>
          <select
            id={ids.order}
            value={query.order ?? 'desc'}
            onChange={(event) => set({ order: event.target.value as 'asc' | 'desc' })}
          >
            <option value="desc">Descending</option>
            <option value="asc">Ascending</option>
          </select>
        </div>
      </form>
      <button type="button" onClick={pages.reload}>
        Refresh
      </button>
      {pages.loaded.kind === 'loading' && <p role="status">Loading API keys…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' && <ApiKeysTable keys={pages.loaded.value.data} />}
      <Pager label="API key pages" {...pages} />
      {creating && (
        <CreateKeyDialog
          api={api}
          me={me}
          now={now}
          onClose={() => setCreating(false)}
          onCreated={(key) => {
            setCreating(false);
            setCreated(key);
            pages.reload();
          }}
        />
      )}
      {created && (
        <SecretDialog
          title={`Key ${created.name} created`}
          label="Secret"
          secret={created.api_key}
          onClose={() => setCreated(null)}
        >
          <p>
            Client ID <code>{created.client_id}</code>.{' '}
            <Link to={`/keys/${encodeURIComponent(created.id)}`}>Open the key</Link> after storing its secret.
          </p>
        </SecretDialog>
      )}
    </section>
  );
}
