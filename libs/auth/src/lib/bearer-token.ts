import type { JwtFromRequestFunction } from 'passport-jwt';

const WHITESPACE = /\s/;

function isSpace(character: string): boolean {
  return WHITESPACE.test(character);
}

/**
 * The token of `Authorization: Bearer <token>` (scheme case-insensitive, one or more spaces), or null. Read in one
 * pass over the header: passport-jwt's own extractor matches `/(\S+)\s+(\S+)/`, which backtracks from every
 * position of a long header without whitespace and takes quadratic time (seconds for a megabyte).
 */
export function bearerTokenOf(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  let index = 0;
  while (index < header.length && isSpace(header[index])) index += 1;
  const schemeStart = index;
  while (index < header.length && !isSpace(header[index])) index += 1;
  const scheme = header.slice(schemeStart, index);
  if (scheme.toLowerCase() !== 'bearer') return null;
  while (index < header.length && isSpace(header[index])) index += 1;
  const tokenStart = index;
  while (index < header.length && !isSpace(header[index])) index += 1;
  return index > tokenStart ? header.slice(tokenStart, index) : null;
}

/** passport-jwt's `jwtFromRequest`, linear in the header's length (see {@link bearerTokenOf}). */
export const bearerTokenFromRequest: JwtFromRequestFunction = (request: {
  headers: Record<string, string | string[] | undefined>;
}) => bearerTokenOf(request.headers['authorization']);
