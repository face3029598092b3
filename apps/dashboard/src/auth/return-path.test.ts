import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, safeReturnPath } from './return-path';

describe('safeReturnPath', () => {
  it('keeps a page of the dashboard with its query', () => {
    expect(safeReturnPath('/keys/5f0c7e2a-1b1d-4c4e-9d2a-0a4f5b6c7d8e')).toBe(
      '/keys/5f0c7e2a-1b1d-4c4e-9d2a-0a4f5b6c7d8e',
    );
    expect(safeReturnPath('/audit?action=api_key.updated&target_id=k-1')).toBe(
      '/audit?action=api_key.updated&target_id=k-1',
    );
    expect(safeReturnPath('/')).toBe('/');
  });

  it.each([
    ['a protocol-relative URL', '//evil.example'],
    ['a protocol-relative URL with a path', '//evil.example/keys'],
    ['a backslash read as a slash', '/\\evil.example'],
    ['a backslash later on', '/keys/\\/evil.example'],
    ['a tab the browser drops', '/\t/evil.example'],
    ['a newline the browser drops', '/\n/evil.example'],
    ['an absolute URL', 'https://evil.example/keys'],
    ['an absolute URL of this dashboard', 'http://127.0.0.1:8080/keys'],
    ['a script', 'javascript:alert(1)'],
    ['a relative path', 'keys'],
    ['an empty string', ''],
    ['the redirect back itself', '/callback?code=abc&state=def'],
  ])('sends %s to the default page', (_case, value) => {
    expect(safeReturnPath(value)).toBe(DEFAULT_PATH);
  });

  it('sends a state that is not a string (none, or from another client) to the default page', () => {
    expect(safeReturnPath(undefined)).toBe(DEFAULT_PATH);
    expect(safeReturnPath(null)).toBe(DEFAULT_PATH);
    expect(safeReturnPath({ path: '/audit' })).toBe(DEFAULT_PATH);
  });

  it('is /keys by default', () => {
    expect(DEFAULT_PATH).toBe('/keys');
  });
});
