import { isSecretParameter, REDACTED, redactSecrets, redactUrl } from './log-redaction';
import { serializeError, serializeRequest } from './logging';

const KEY = 'gth_live_4Xv2Qm9TzR7kLp3Wn8Ys6Bd1Fh5Jc0Ga2Ue7Ki4Oq9Mt3Nr8Vw';
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhcGlfa2V5OjEiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVz';

describe('redactUrl', () => {
  it.each([
    'access_token',
    'token',
    'id_token',
    'refresh_token',
    'api_key',
    'apikey',
    'key',
    'secret',
    'client_secret',
    'password',
    'signature',
    'code',
    'ACCESS_TOKEN',
    'Api-Key',
    'x-api-key',
    'private_key',
    'db_password',
    'access%5Ftoken',
  ])('hides the value of the query parameter %s', (name) => {
    expect(redactUrl(`/api/v1/findings?limit=5&${name}=hunter2&severity=high`)).toBe(
      `/api/v1/findings?limit=5&${name}=${REDACTED}&severity=high`,
    );
  });

  it('hides a key and a JWT passed under any parameter name, and every repetition', () => {
    expect(redactUrl(`/x?q=${KEY}&q=${JWT}&a=1`)).toBe(`/x?q=${REDACTED}&q=${REDACTED}&a=1`);
  });

  it('hides a key or a JWT in the path, percent-encoded or not', () => {
    expect(redactUrl(`/api/v1/api-keys/${KEY}/usage`)).toBe(`/api/v1/api-keys/${REDACTED}/usage`);
    expect(redactUrl(`/api/v1/${JWT}`)).toBe(`/api/v1/${REDACTED}`);
    expect(redactUrl(`/a/${KEY.replace('_', '%5F')}`)).toBe(`/a/${REDACTED}`);
    expect(redactUrl(`/a/prefix-${KEY}`)).toBe(`/a/${REDACTED}`);
  });

  it('hides a truncated key and a key with a lowercase or uppercase prefix', () => {
    expect(redactUrl('/a/gth_live_abc')).toBe(`/a/${REDACTED}`);
    expect(redactUrl('/a?x=GTH_LIVE_ABC')).toBe(`/a?x=${REDACTED}`);
  });

  it('hides a secret used as a parameter name', () => {
    expect(redactUrl(`/a?${KEY}&b=1`)).toBe(`/a?${REDACTED}&b=1`);
    expect(redactUrl(`/a?${JWT}=1`)).toBe(`/a?${REDACTED}`);
  });

  it('keeps everything else as sent, broken percent-encoding included', () => {
    for (const url of [
      '/api/v1/findings?limit=5&cursor=MjAzMC0wMS0wMVQ&severity=high',
      '/api/v1/api-keys/0b0e4c8e-3f5e-4c4e-9d1a-6b1f2a3c4d5e/usage?outcome=success',
      '/api/v1/audit-events?actor=api_key%3A1&since=2030-01-01T00%3A00%3A00Z',
      '/a/%zz?b=%zz&&c',
      '/',
      '',
    ]) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('treats `;` like `&` and a parameter without a value as a name', () => {
    expect(redactUrl('/a?token=x;b=2&flag')).toBe(`/a?token=${REDACTED};b=2&flag`);
  });
});

describe('isSecretParameter', () => {
  it.each(['limit', 'cursor', 'severity', 'status', 'actor', 'since', 'outcome'])(
    'lets %s through',
    (name) => {
      expect(isSecretParameter(name)).toBe(false);
    },
  );
});

describe('redactSecrets', () => {
  it('hides keys and JWTs in free text', () => {
    expect(redactSecrets(`invalid input syntax for type uuid: "${KEY}" near ${JWT}!`)).toBe(
      `invalid input syntax for type uuid: "${REDACTED}" near ${REDACTED}!`,
    );
  });
});

describe('log serializers', () => {
  it('write the request URL redacted and never the headers', () => {
    const logged = serializeRequest({
      id: 'r1',
      method: 'GET',
      url: `/api/v1/findings?access_token=${JWT}&api_key=${KEY}`,
      remoteAddress: '127.0.0.1',
      headers: { authorization: `Bearer ${JWT}` },
    } as Parameters<typeof serializeRequest>[0]);
    expect(logged).toEqual({
      id: 'r1',
      method: 'GET',
      url: `/api/v1/findings?access_token=${REDACTED}&api_key=${REDACTED}`,
      remoteAddress: '127.0.0.1',
    });
    expect(JSON.stringify(logged)).not.toContain('eyJ');
  });

  it('write errors without the keys and JWTs in their message and stack', () => {
    const logged = serializeError(new Error(`upstream refused ${KEY}`)) as { message: string; stack: string };
    expect(logged.message).toBe(`upstream refused ${REDACTED}`);
    expect(logged.stack).not.toContain(KEY);
  });
});
