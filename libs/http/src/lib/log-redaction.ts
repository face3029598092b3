export const REDACTED = '[redacted]';

/**
 * Query parameter names whose value is a credential, compared lowercased with `-`, `_` and `.` removed (so
 * `access_token`, `Access-Token` and `accesstoken` are one name). Names ending in one of the suffixes below are
 * credentials too (`private_key`, `x_auth_token`, `db_password`).
 */
const SECRET_PARAMETERS = new Set([
  'accesstoken',
  'token',
  'idtoken',
  'refreshtoken',
  'apikey',
  'xapikey',
  'key',
  'secret',
  'clientsecret',
  'password',
  'passwd',
  'pwd',
  'signature',
  'sig',
  'code',
  'auth',
  'authorization',
  'credential',
  'credentials',
  'jwt',
  'session',
  'sessionid',
  'assertion',
]);
const SECRET_SUFFIXES = [
  'token',
  'secret',
  'password',
  'apikey',
  'key',
  'signature',
  'credential',
  'credentials',
];

/** A Gatehouse key (or the start of one: a truncated key is still a secret) and a JWT (three base64url parts). */
const SECRET_VALUES = [/gth_[0-9A-Za-z_]*/gi, /eyJ[0-9A-Za-z_-]*\.[0-9A-Za-z_-]*\.[0-9A-Za-z_-]*/g];

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    // Not valid percent-encoding: judged as written, which is also how it would be logged.
    return text;
  }
}

export function isSecretParameter(name: string): boolean {
  const normalized = safeDecode(name)
    .toLowerCase()
    .replace(/[-_.\s]/g, '');
  return SECRET_PARAMETERS.has(normalized) || SECRET_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/** Whether text holds a key or a JWT, as written or once percent-decoded (`gth%5Flive_…`). */
function holdsSecret(text: string): boolean {
  return [text, safeDecode(text)].some((form) =>
    SECRET_VALUES.some((pattern) => {
      pattern.lastIndex = 0;
      return pattern.test(form);
    }),
  );
}

/** Keys and JWTs in free text (error messages, stacks) replaced by the marker. */
export function redactSecrets(text: string): string {
  return SECRET_VALUES.reduce((result, pattern) => result.replace(pattern, REDACTED), text);
}

/**
 * A URL as it may be logged: the value of every credential-looking query parameter, and every path segment or
 * query part holding a `gth_` key or a JWT (percent-encoded or not), replaced by `[redacted]`. Everything else is
 * kept as sent, so that the line still tells which route was asked.
 */
export function redactUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const redactedPath = path
    .split('/')
    .map((segment) => (holdsSecret(segment) ? REDACTED : segment))
    .join('/');
  if (queryAt === -1) return redactedPath;
  const redactedQuery = url
    .slice(queryAt + 1)
    .split(/([&;])/)
    .map((part) => {
      if (part === '&' || part === ';' || part === '') return part;
      const equals = part.indexOf('=');
      const name = equals === -1 ? part : part.slice(0, equals);
      if (holdsSecret(name)) return REDACTED;
      if (equals === -1) return part;
      const value = part.slice(equals + 1);
      return isSecretParameter(name) || holdsSecret(value) ? `${name}=${REDACTED}` : part;
    })
    .join('');
  return `${redactedPath}?${redactedQuery}`;
}
