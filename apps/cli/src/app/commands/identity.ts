import type { Schemas } from '@gatehouse/api-client';
import type { Api } from '../api';
import { ApiError } from '../errors';
import { ExitCode } from '../exit-codes';
import { list, printJson, printRecord } from '../output';
import type { Runtime } from '../runtime';

/** An access token on stdout, for `curl -H "Authorization: Bearer $(gatehouse token)"`; nothing else there. */
export async function printToken(api: Api, runtime: Runtime): Promise<number> {
  const token = await api.accessToken();
  if (api.config.json) {
    printJson(runtime.stdout, {
      access_token: token.token,
      token_type: 'bearer',
      expires_at: new Date(token.expiresAt).toISOString(),
      cached: token.fromCache,
    });
  } else {
    runtime.stdout.write(token.token + '\n');
  }
  return ExitCode.Ok;
}

/**
 * Who the configured credential is, from a token fetched now (so that a revoked or disabled key says so): its
 * claims, none of which is a secret. Neither the key nor the token is shown.
 */
export async function whoami(api: Api, runtime: Runtime): Promise<number> {
  const token = await api.accessToken({ fresh: true });
  const claims = await api.claims();
  const identity = {
    api_url: api.config.apiUrl,
    organization_id: claims.org ?? null,
    api_key_id: claims.api_key_id ?? null,
    client_id: claims.client_id ?? claims.sub ?? null,
    permissions: claims.permissions ?? [],
    key_version: claims.key_version ?? null,
    rate_limit: claims.rate_limit ?? null,
    allowed_ips: claims.allowed_ips ?? null,
    token_expires_at: new Date(token.expiresAt).toISOString(),
    key: null as Pick<Schemas['ApiKey'], 'name' | 'status' | 'expires_at'> | null,
  };
  if (identity.api_key_id && identity.permissions.includes('read:keys')) {
    const id = identity.api_key_id;
    try {
      const { data } = await api.request(
        'reading the key',
        (init) => api.client.GET('/api/v1/api-keys/{id}', { ...init, params: { path: { id } } }),
        { retry: 'all' },
      );
      identity.key = { name: data.name, status: data.status, expires_at: data.expires_at };
    } catch (error) {
      // The token's claims are the answer; the key's record only adds its name and expiry where readable.
      if (!(error instanceof ApiError)) throw error;
      api.debug(`the key's own record is not readable: ${error.message}`);
    }
  }
  if (api.config.json) {
    printJson(runtime.stdout, identity);
    return ExitCode.Ok;
  }
  printRecord(runtime.stdout, [
    ['api_url', identity.api_url],
    ['organization_id', identity.organization_id],
    ['api_key_id', identity.api_key_id],
    ['client_id', identity.client_id],
    ['permissions', list(identity.permissions)],
    ['key_version', identity.key_version],
    [
      'rate_limit',
      identity.rate_limit
        ? `${identity.rate_limit.requests_per_minute}/min, burst ${identity.rate_limit.burst}`
        : undefined,
    ],
    ['allowed_ips', list(identity.allowed_ips) ?? 'any'],
    ['token_expires_at', identity.token_expires_at],
    ...(identity.key
      ? ([
          ['key_name', identity.key.name],
          ['key_status', identity.key.status],
          ['key_expires_at', identity.key.expires_at ?? 'never'],
        ] as [string, string][])
      : []),
  ]);
  return ExitCode.Ok;
}
