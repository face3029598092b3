import { CALLBACK_PATH } from './session';

/** Where a user lands after signing in when the page they asked for is unknown or not acceptable. */
export const DEFAULT_PATH = '/keys';

// Any valid absolute URL works as the base: only whether the value stays on it matters.
const BASE = 'https://dashboard.invalid';

/**
 * The page to go back to after the provider's redirect, from the sign-in request's state: a path (and query) on
 * this origin, or DEFAULT_PATH. The state comes back through the browser, so it is checked as untrusted: a
 * scheme ("https:", "javascript:"), a protocol-relative "//host" or "/\host" (browsers read "\" as "/"), or a
 * control character (browsers drop tabs and newlines, turning "/\t/host" into "//host") would lead elsewhere.
 */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) return DEFAULT_PATH;
  if (value.startsWith('//') || value.includes('\\') || /[\u0000-\u001f\u007f]/.test(value))
    return DEFAULT_PATH;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch (error) {
    if (error instanceof TypeError) return DEFAULT_PATH;
    throw error;
  }
  if (url.origin !== BASE || url.pathname === CALLBACK_PATH) return DEFAULT_PATH;
  return `${url.pathname}${url.search}`;
}
