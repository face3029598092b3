import { cutText } from './ingest/text';

const REPOSITORY_MAX = 500;

/**
 * One spelling per repository, so that a query's `acme/app/` and a SARIF's `acme/app.git` do not split a stream
 * (and a filter finds both): trimmed, without trailing slashes or `.git`.
 */
export function normalizeRepository(value: string): string {
  return cutText(
    value
      .trim()
      .replace(/\/+$/, '')
      .replace(/\.git$/, ''),
    REPOSITORY_MAX,
  );
}
