import { useCallback } from 'react';
import { Navigate, NavLink, Route, Routes } from 'react-router';
import type { ApiClient } from './api/api-client';
import type { Me } from './api/types';
import { ErrorNotice } from './components/ErrorNotice';
import { useLoad } from './hooks/useLoad';
import { ApiKeysPage } from './pages/ApiKeysPage';
import { AuditPage } from './pages/AuditPage';
import { FindingsPage } from './pages/FindingsPage';
import { KeyDetailPage } from './pages/KeyDetailPage';
import { WebhooksPage } from './pages/WebhooksPage';

/** A page the caller's permissions do not open: said plainly rather than left to fail. */
function NotAllowed({ what, permission }: { what: string; permission: string }) {
  return (
    <section aria-labelledby="not-allowed-heading">
      <h1 id="not-allowed-heading" tabIndex={-1}>
        {what}
      </h1>
      <p>
        Your role does not include <code>{permission}</code>, which this page needs. Ask an owner or admin of
        the organization.
      </p>
    </section>
  );
}

/** The signed-in pages: what the caller may see follows the permissions GET /api/v1/me reports. */
export function Dashboard({ api, now }: { api: ApiClient; now?: () => Date }) {
  const load = useCallback(() => api.me(), [api]);
  const { loaded } = useLoad(load);
  if (loaded.kind === 'loading') return <p role="status">Loading your organization…</p>;
  if (loaded.kind === 'failed') return <ErrorNotice error={loaded.error} />;
  return <Pages api={api} me={loaded.value} now={now} />;
}

function Pages({ api, me, now }: { api: ApiClient; me: Me; now?: () => Date }) {
  const readKeys = me.permissions.includes('read:keys');
  const readFindings = me.permissions.includes('read:findings');
  const keysOnly = (page: React.ReactNode, what: string) =>
    readKeys ? page : <NotAllowed what={what} permission="read:keys" />;
  return (
    <>
      <nav aria-label="Main" className="main-nav">
        <span className="org">
          {me.organization.name}
          {me.role && <span className="sub"> ({me.role})</span>}
        </span>
        <NavLink to="/keys">API keys</NavLink>
        <NavLink to="/audit">Audit log</NavLink>
        {readFindings && <NavLink to="/findings">Findings</NavLink>}
        <NavLink to="/webhooks">Webhooks</NavLink>
      </nav>
      <Routes>
        <Route
          path="/"
          element={<Navigate to={readKeys || !readFindings ? '/keys' : '/findings'} replace />}
        />
        <Route path="/callback" element={<Navigate to="/keys" replace />} />
        <Route path="/keys" element={keysOnly(<ApiKeysPage api={api} me={me} now={now} />, 'API keys')} />
        <Route
          path="/keys/:id"
          element={keysOnly(<KeyDetailPage api={api} me={me} now={now} />, 'API key')}
        />
        <Route path="/audit" element={keysOnly(<AuditPage api={api} />, 'Audit log')} />
        <Route
          path="/findings"
          element={
            readFindings ? (
              <FindingsPage api={api} />
            ) : (
              <NotAllowed what="Findings" permission="read:findings" />
            )
          }
        />
        <Route path="/webhooks" element={keysOnly(<WebhooksPage api={api} me={me} />, 'Webhooks')} />
        <Route
          path="*"
          element={
            <section aria-labelledby="not-found-heading">
              <h1 id="not-found-heading" tabIndex={-1}>
                Page not found
              </h1>
              <p>
                <NavLink to="/keys">Go to the API keys</NavLink>
              </p>
            </section>
          }
        />
      </Routes>
    </>
  );
}
