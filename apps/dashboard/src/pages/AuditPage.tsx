import { useCallback, useId, useState } from 'react';
import { useSearchParams } from 'react-router';
import type { ApiClient } from '../api/api-client';
import type { AuditQuery } from '../api/types';
import { auditNdjsonToCsv, download } from '../audit-export';
import { ErrorNotice } from '../components/ErrorNotice';
import { Pager } from '../components/Pager';
import { formatTime } from '../format';
import { usePages } from '../hooks/useLoad';

const ACTIONS = [
  'organization.bootstrapped',
  'api_key.created',
  'api_key.updated',
  'api_key.rotated',
  'api_key.rotation_finished',
  'api_key.revoked',
  'api_key.deleted',
  'api_key.disabled',
  'api_key.enabled',
  'api_key.rate_limit_set',
  'api_key.rate_limit_cleared',
  'api_key.allowed_ips_changed',
  'api_key.leaked',
];

type Format = 'ndjson' | 'csv';

/** A date field (UTC day) as the instant the API filters on. */
const dayStart = (date: string) => (date ? `${date}T00:00:00.000Z` : undefined);

export function AuditPage({ api }: { api: ApiClient }) {
  const ids = {
    action: useId(),
    actorType: useId(),
    actor: useId(),
    target: useId(),
    since: useId(),
    until: useId(),
    format: useId(),
  };
  // A key's page links here with ?target_id=<key id>: its events only. ?action= (one the select offers) filters
  // too, so a link to one kind of event survives a reload and the sign-in that follows.
  const [params] = useSearchParams();
  const initialTarget = params.get('target_id') ?? '';
  const linkedAction = params.get('action') ?? '';
  const initialAction = ACTIONS.includes(linkedAction) ? linkedAction : '';
  const [form, setForm] = useState({
    action: initialAction,
    actorType: '',
    actor: '',
    target: initialTarget,
    since: '',
    until: '',
  });
  const [query, setQuery] = useState<AuditQuery>({
    ...(initialTarget ? { target_id: initialTarget } : {}),
    ...(initialAction ? { action: initialAction } : {}),
  });
  const [format, setFormat] = useState<Format>('csv');
  const [exporting, setExporting] = useState(false);
  const [exportResult, setExportResult] = useState<{ error: unknown } | { done: string } | null>(null);
  const load = useCallback((cursor: string | null) => api.listAuditEvents(query, cursor), [api, query]);
  const pages = usePages(load);

  const field = (name: keyof typeof form) => ({
    value: form[name],
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
      setForm((value) => ({ ...value, [name]: event.target.value })),
  });
  const apply = (event: React.FormEvent) => {
    event.preventDefault();
    setQuery({
      action: form.action || undefined,
      actor_type: (form.actorType || undefined) as AuditQuery['actor_type'],
      actor: form.actor.trim() || undefined,
      target_id: form.target.trim() || undefined,
      since: dayStart(form.since),
      // "Until" names the last day to include.
      until: form.until
        ? new Date(Date.parse(`${form.until}T00:00:00Z`) + 86_400_000).toISOString()
        : undefined,
    });
  };
  const exportEvents = () => {
    setExporting(true);
    setExportResult(null);
    api.exportAuditEvents(query).then(
      (ndjson) => {
        if (format === 'csv') download('audit-events.csv', 'text/csv', auditNdjsonToCsv(ndjson));
        else download('audit-events.ndjson', 'application/x-ndjson', ndjson);
        setExporting(false);
        setExportResult({ done: 'Export downloaded.' });
      },
      (error: unknown) => {
        setExporting(false);
        setExportResult({ error });
      },
    );
  };

  return (
    <section aria-labelledby="audit-heading">
      <h1 id="audit-heading" tabIndex={-1}>
        Audit log
      </h1>
      <form className="filters" onSubmit={apply} aria-label="Filter audit events">
        <div className="field">
          <label htmlFor={ids.action}>Action</label>
          <select id={ids.action} {...field('action')}>
            <option value="">Any</option>
            {ACTIONS.map((action) => (
              <option key={action} value={action}>
                {action}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.actorType}>Actor type</label>
          <select id={ids.actorType} {...field('actorType')}>
            <option value="">Any</option>
            <option value="user">user</option>
            <option value="api_key">api_key</option>
            <option value="system">system</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.actor}>Actor</label>
          <input id={ids.actor} placeholder="user:… or api_key:…" {...field('actor')} />
        </div>
        <div className="field">
          <label htmlFor={ids.target}>Target id</label>
          <input id={ids.target} {...field('target')} />
        </div>
        <div className="field">
          <label htmlFor={ids.since}>From (UTC)</label>
          <input id={ids.since} type="date" {...field('since')} />
        </div>
        <div className="field">
          <label htmlFor={ids.until}>Until (UTC, inclusive)</label>
          <input id={ids.until} type="date" {...field('until')} />
        </div>
        <button type="submit">Apply filters</button>
      </form>
      <div className="filters">
        <div className="field">
          <label htmlFor={ids.format}>Export format</label>
          <select
            id={ids.format}
            value={format}
            onChange={(event) => setFormat(event.target.value as Format)}
          >
            <option value="csv">CSV</option>
            <option value="ndjson">JSON lines</option>
          </select>
        </div>
        <button type="button" disabled={exporting} onClick={exportEvents}>
          Export
        </button>
      </div>
      <p role="status">
        {exporting && 'Exporting…'}
        {exportResult && 'done' in exportResult && exportResult.done}
      </p>
      {exportResult && 'error' in exportResult && <ErrorNotice error={exportResult.error} />}
      {pages.loaded.kind === 'loading' && <p role="status">Loading audit events…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' &&
        (pages.loaded.value.data.length === 0 ? (
          <p>No audit events match.</p>
        ) : (
          <div className="table-scroll">
            <table>
              <caption>Audit events, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">IP</th>
                  <th scope="col">Request id</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {pages.loaded.value.data.map((event) => (
                  <tr key={event.id}>
                    <td>{formatTime(event.occurred_at, '')}</td>
                    <td>{event.action}</td>
                    <td>{event.actor}</td>
                    <td>
                      {event.target_type} <code>{event.target_id ?? ''}</code>
                    </td>
                    <td>{event.ip ?? ''}</td>
                    <td>
                      <code>{event.request_id ?? ''}</code>
                    </td>
                    <td>
                      <code className="details">{event.details ? JSON.stringify(event.details) : ''}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <Pager label="Audit log pages" {...pages} />
    </section>
  );
}
