import { useCallback, useId, useState } from 'react';
import type { ApiClient } from '../api/api-client';
import { SEVERITIES, type FindingQuery, type FindingState, type Severity } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Pager } from '../components/Pager';
import { formatTime } from '../format';
import { useLoad, usePages } from '../hooks/useLoad';

export function FindingsPage({ api }: { api: ApiClient }) {
  return (
    <section aria-labelledby="findings-heading">
      <h1 id="findings-heading" tabIndex={-1}>
        Findings
      </h1>
      <FindingsSummary api={api} />
      <FindingsList api={api} />
    </section>
  );
}

function FindingsSummary({ api }: { api: ApiClient }) {
  const load = useCallback(() => api.findingsSummary(), [api]);
  const { loaded } = useLoad(load);
  if (loaded.kind === 'loading') return <p role="status">Loading the summary…</p>;
  if (loaded.kind === 'failed') return <ErrorNotice error={loaded.error} />;
  const summary = loaded.value;
  return (
    <table className="summary">
      <caption>Findings by severity and state</caption>
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Open</th>
          <th scope="col">Fixed</th>
        </tr>
      </thead>
      <tbody>
        {SEVERITIES.map((severity) => (
          <tr key={severity}>
            <th scope="row">{severity}</th>
            <td>{summary.by_severity[severity].open}</td>
            <td>{summary.by_severity[severity].fixed}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">Total</th>
          <td>{summary.total.open}</td>
          <td>{summary.total.fixed}</td>
        </tr>
      </tfoot>
    </table>
  );
}

function FindingsList({ api }: { api: ApiClient }) {
  const ids = { state: useId(), severity: useId(), repository: useId(), tool: useId() };
  const [form, setForm] = useState({ state: '', severity: '', repository: '', tool: '' });
  const [query, setQuery] = useState<FindingQuery>({});
  const load = useCallback((cursor: string | null) => api.listFindings(query, cursor), [api, query]);
  const pages = usePages(load);
  const field = (name: keyof typeof form) => ({
    value: form[name],
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
      setForm((value) => ({ ...value, [name]: event.target.value })),
  });
  const apply = (event: React.FormEvent) => {
    event.preventDefault();
    setQuery({
      state: (form.state || undefined) as FindingState | undefined,
      severity: (form.severity || undefined) as Severity | undefined,
      repository: form.repository.trim() || undefined,
      tool: form.tool.trim() || undefined,
    });
  };
  return (
    <section aria-labelledby="findings-list-heading">
      <h2 id="findings-list-heading">All findings</h2>
      <form className="filters" onSubmit={apply} aria-label="Filter findings">
        <div className="field">
          <label htmlFor={ids.state}>State</label>
          <select id={ids.state} {...field('state')}>
            <option value="">Any</option>
            <option value="open">open</option>
            <option value="fixed">fixed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.severity}>Severity</label>
          <select id={ids.severity} {...field('severity')}>
            <option value="">Any</option>
            {SEVERITIES.map((severity) => (
              <option key={severity} value={severity}>
                {severity}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.repository}>Repository</label>
          <input id={ids.repository} {...field('repository')} />
        </div>
        <div className="field">
          <label htmlFor={ids.tool}>Tool</label>
          <input id={ids.tool} {...field('tool')} />
        </div>
        <button type="submit">Apply filters</button>
      </form>
      {pages.loaded.kind === 'loading' && <p role="status">Loading findings…</p>}
      {pages.loaded.kind === 'failed' && <ErrorNotice error={pages.loaded.error} />}
      {pages.loaded.kind === 'loaded' &&
        (pages.loaded.value.data.length === 0 ? (
          <p>No findings match.</p>
        ) : (
          <div className="table-scroll">
            <table>
              <caption>Findings, newest first seen first</caption>
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Severity</th>
                  <th scope="col">State</th>
                  <th scope="col">Repository</th>
                  <th scope="col">Location</th>
                  <th scope="col">Tool</th>
                  <th scope="col">Rule</th>
                  <th scope="col">First seen</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {pages.loaded.value.data.map((finding) => (
                  <tr key={finding.id}>
                    <th scope="row">{finding.title}</th>
                    <td>{finding.severity}</td>
                    <td>{finding.state}</td>
                    <td>
                      {finding.repository ?? ''} {finding.ref && <span className="sub">{finding.ref}</span>}
                    </td>
                    <td>
                      {finding.location && (
                        <code>
                          {finding.location.path}
                          {finding.location.start_line !== undefined && `:${finding.location.start_line}`}
                        </code>
                      )}
                    </td>
                    <td>{finding.tool ?? ''}</td>
                    <td>
                      <code>{finding.rule_id}</code>
                    </td>
                    <td>{formatTime(finding.first_seen_at, '')}</td>
                    <td>{formatTime(finding.last_seen_at, '')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <Pager label="Findings pages" {...pages} />
    </section>
  );
}
