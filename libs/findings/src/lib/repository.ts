const REPOSITORY_MAX = 500;

/**
 * One spelling per repository, so that a query's `acme/app/` and a SARIF's `acme/app.git` do not split a stream
 * (and a filter finds both): trimmed, without trailing slashes or `.git`.
 */
export function normalizeRepository(value: string): string {
  return value
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .slice(0, REPOSITORY_MAX);
}
