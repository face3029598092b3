import { useCallback, useEffect, useState } from 'react';
import type { Page } from '../api/types';

export type Loaded<T> =
  { kind: 'loading' } | { kind: 'loaded'; value: T } | { kind: 'failed'; error: unknown };

/**
 * One resource: loads it whenever `load` changes (callers memoise it on what it depends on), and lets a page put
 * in the value a write answered with instead of loading again.
 */
export function useLoad<T>(load: () => Promise<T>) {
  const [result, setResult] = useState<{
    load: () => Promise<T>;
    generation: number;
    loaded: Loaded<T>;
  } | null>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setResult({ load, generation, loaded: { kind: 'loaded', value } }),
      (error: unknown) => current && setResult({ load, generation, loaded: { kind: 'failed', error } }),
    );
    // A late answer for what the page no longer shows must not overwrite what it shows.
    return () => {
      current = false;
    };
  }, [load, generation]);

  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  const replace = useCallback(
    (value: T) => setResult({ load, generation, loaded: { kind: 'loaded', value } }),
    [load, generation],
  );
  const loaded: Loaded<T> =
    result && result.load === load && result.generation === generation ? result.loaded : { kind: 'loading' };
  return { loaded, reload, replace };
}

/**
 * Keyset pages: the API gives only a cursor to the next page, so the cursors of the pages already seen are kept
 * to go back (the first page's is null). A new `load` (other filters) starts again from the first page.
 */
export function usePages<T>(load: (cursor: string | null) => Promise<Page<T>>) {
  const [seen, setSeen] = useState<{ load: typeof load; cursors: (string | null)[] }>({
    load,
    cursors: [null],
  });
  const cursors = seen.load === load ? seen.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;
  const loadPage = useCallback(() => load(cursor), [load, cursor]);
  const { loaded, reload } = useLoad(loadPage);
  const next = loaded.kind === 'loaded' ? loaded.value.next_cursor : null;
  return {
    loaded,
    reload,
    page: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: next !== null,
    previous: () => setSeen({ load, cursors: cursors.slice(0, -1) }),
    next: () => next && setSeen({ load, cursors: [...cursors, next] }),
  };
}
