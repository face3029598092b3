import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/api-client';
import type { ApiKey, Page } from '../api/types';
import { ApiKeysTable } from '../components/ApiKeysTable';
import { ErrorNotice } from '../components/ErrorNotice';

type Result = { kind: 'loaded'; page: Page<ApiKey> } | { kind: 'failed'; error: unknown };
/** What came back, and for which page: a result for another cursor means this one is still loading. */
type Load = Result & { cursor: string | null };

/**
 * Keyset pages: the API gives only a cursor to the next page, so the cursors of the pages already seen are kept
 * to go back (the first page's is null).
 */
export function ApiKeysPage({ api }: { api: ApiClient }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const [result, setResult] = useState<Load | null>(null);
  const load: Result | { kind: 'loading' } =
    result && result.cursor === cursor ? result : { kind: 'loading' };

  useEffect(() => {
    let current = true;
    api.listApiKeys(cursor).then(
      (page) => current && setResult({ kind: 'loaded', page, cursor }),
      (error: unknown) => current && setResult({ kind: 'failed', error, cursor }),
    );
    // A late answer for a page the user already left must not overwrite the one they are on.
    return () => {
      current = false;
    };
  }, [api, cursor]);

  const next = load.kind === 'loaded' ? load.page.next_cursor : null;
  return (
    <section aria-labelledby="api-keys-heading">
      <h1 id="api-keys-heading">API keys</h1>
      {load.kind === 'loading' && <p role="status">Loading API keys…</p>}
      {load.kind === 'failed' && <ErrorNotice error={load.error} />}
      {load.kind === 'loaded' && <ApiKeysTable keys={load.page.data} />}
      <nav aria-label="API key pages" className="pagination">
        <button
          type="button"
          disabled={cursors.length < 2}
          onClick={() => setCursors((seen) => seen.slice(0, -1))}
        >
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors((seen) => [...seen, next])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
