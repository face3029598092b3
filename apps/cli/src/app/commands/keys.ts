import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import type { operations, Schemas } from '@gatehouse/api-client';
import type { Api } from '../api';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { list, printJson, printRecord, printTable, when } from '../output';
import type { Runtime } from '../runtime';

type ApiKey = Schemas['ApiKey'];
type CreatedApiKey = Schemas['CreatedApiKey'];
type Usage = Schemas['ApiKeyUsage'];
type ListQuery = NonNullable<operations['listApiKeys']['parameters']['query']>;
type CreateBody = operations['createApiKey']['requestBody']['content']['application/json'];
type UpdateBody = operations['updateApiKey']['requestBody']['content']['application/json'];
type Permission = CreateBody['permissions'][number];

export const PERMISSIONS: readonly Permission[] = [
  'read:keys',
  'write:keys',
  'read:findings',
  'write:findings',
];

export interface PageOptions {
  limit?: number;
  cursor?: string;
  /** Follow `next_cursor` to the last page. */
  all?: boolean;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** One page, or every page with `all`; `next_cursor` is what remains. */
export async function collectPages<T>(
  options: PageOptions,
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<Page<T>> {
  const data: T[] = [];
  let cursor = options.cursor;
  for (;;) {
    const page = await fetchPage(cursor);
    data.push(...page.data);
    if (!options.all || !page.next_cursor) return { data, next_cursor: page.next_cursor };
    cursor = page.next_cursor;
  }
}

function morePages(api: Api, nextCursor: string | null): void {
  if (nextCursor && !api.config.machine) api.note(`more: --cursor ${nextCursor} (or --all)`);
}

function keyRows(keys: ApiKey[]) {
  return keys.map((key) => [
    key.id,
    key.name,
    key.client_id,
    key.status,
    list(key.permissions),
    when(key.expires_at) ?? 'never',
    when(key.last_used_at),
  ]);
}

function showKey(api: Api, runtime: Runtime, key: ApiKey): void {
  if (api.config.machine) return printJson(runtime.stdout, key);
  printRecord(runtime.stdout, [
    ['id', key.id],
    ['name', key.name],
    ['client_id', key.client_id],
    ['preview', key.preview],
    ['status', key.status],
    ['permissions', list(key.permissions)],
    ['environment', key.environment],
    ['key_version', key.key_version],
    [
      'rotation',
      key.rotation
        ? `previous ${key.rotation.previous_preview} works until ${when(key.rotation.previous_retires_at)}`
        : undefined,
    ],
    ['expires_at', when(key.expires_at) ?? 'never'],
    ['expiry_status', key.expiry_status],
    ['enabled', key.enabled],
    ['allowed_ips', list(key.allowed_ips) ?? 'any'],
    [
      'rate_limit',
      `${key.rate_limit.requests_per_minute}/min, burst ${key.rate_limit.burst} (${key.rate_limit.source})`,
    ],
    ['created_at', when(key.created_at)],
    ['created_by', key.created_by],
    ['revoked_at', when(key.revoked_at)],
    ['last_used_at', when(key.last_used_at)],
    ['last_used_ip', key.last_used_ip],
    ['description', key.description],
    [
      'metadata',
      Object.entries(key.metadata)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ') || undefined,
    ],
  ]);
}

/**
 * The file a new secret goes to (`--out`), created owner-only before the request, so that a file that exists or
 * cannot be written stops the command before the key is created or rotated, not after its secret was shown once.
 */
class SecretFile {
  private open = true;

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  static reserve(path: string | undefined): SecretFile | undefined {
    if (!path) return undefined;
    try {
      return new SecretFile(path, openSync(path, 'wx', 0o600));
    } catch (error) {
      const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
      throw new CliError(
        `cannot write ${path}: ${exists ? 'it exists, and is never overwritten' : (error as Error).message}; ` +
          'nothing was changed',
        ExitCode.Usage,
      );
    }
  }

  write(created: CreatedApiKey): void {
    try {
      writeSync(this.fd, JSON.stringify(created, null, 2) + '\n');
    } finally {
      this.close();
    }
  }

  /** The request failed: nothing to keep. */
  discard(): void {
    this.close();
    rmSync(this.path, { force: true });
  }

  private close(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }
}

async function withSecretFile<T>(
  path: string | undefined,
  run: (file: SecretFile | undefined) => Promise<T>,
) {
  const file = SecretFile.reserve(path);
  try {
    return await run(file);
  } catch (error) {
    file?.discard();
    throw error;
  }
}

/**
 * A new secret, the one time the API shows it: into `--out` when given, so that it stays out of the terminal and
 * the CI log; else on stdout with the key.
 */
function showCreated(
  api: Api,
  runtime: Runtime,
  created: CreatedApiKey,
  file: SecretFile | undefined,
  verb: string,
): void {
  if (file) {
    try {
      file.write(created);
    } catch (error) {
      // The secret exists only in this answer: printed rather than lost.
      api.note(
        `could not write ${file.path} (${(error as Error).message}); the secret follows on stdout instead`,
      );
      printJson(runtime.stdout, created);
      throw new CliError(`${verb}, but ${file.path} could not be written`, ExitCode.Unexpected);
    }
    const { api_key: _secret, ...withoutSecret } = created;
    api.note(`${verb}: the secret is in ${file.path} (owner-only); it is never shown again`);
    showKey(api, runtime, withoutSecret);
    return;
  }
  if (api.config.machine) return printJson(runtime.stdout, created);
  showKey(api, runtime, created);
  runtime.stdout.write(`api_key: ${created.api_key}\n`);
  api.note(`${verb}: store the api_key above now (e.g. as a CI secret); it is never shown again`);
}

export async function listKeys(
  api: Api,
  runtime: Runtime,
  options: PageOptions & {
    status?: ListQuery['status'];
    environment?: ListQuery['environment'];
    search?: string;
    sort?: ListQuery['sort'];
    order?: ListQuery['order'];
  },
): Promise<number> {
  const page = await collectPages(options, async (cursor) => {
    const { data } = await api.request(
      'listing API keys',
      (init) =>
        api.client.GET('/api/v1/api-keys', {
          ...init,
          params: {
            query: {
              limit: options.limit,
              cursor,
              status: options.status,
              environment: options.environment,
              q: options.search,
              sort: options.sort,
              order: options.order,
            },
          },
        }),
      { retry: 'all' },
    );
    return data;
  });
  if (api.config.machine) {
    printJson(runtime.stdout, page);
  } else {
    printTable(
      runtime.stdout,
      ['id', 'name', 'client_id', 'status', 'permissions', 'expires', 'last used'],
      keyRows(page.data),
    );
    morePages(api, page.next_cursor);
  }
  return ExitCode.Ok;
}

export interface CreateOptions {
  name: string;
  keyClientId: string;
  permissions: Permission[];
  expiresAt?: string;
  expiresInDays?: number;
  environment?: CreateBody['environment'];
  allowedIp?: string[];
  description?: string;
  /** `name=value` pairs, as for `keys update`. */
  metadata?: string[];
  out?: string;
}

/** `--metadata name=value` flags as one object; the server checks the limits and answers 400 past them. */
function metadataOf(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new CliError(`--metadata takes name=value, not "${pair}"`, ExitCode.Usage);
    metadata[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return metadata;
}

export async function createKey(api: Api, runtime: Runtime, options: CreateOptions): Promise<number> {
  if (options.expiresAt && options.expiresInDays !== undefined) {
    throw new CliError('give --expires-at or --expires-in-days, not both', ExitCode.Usage);
  }
  const expiresAt =
    options.expiresInDays !== undefined
      ? new Date(runtime.now() + options.expiresInDays * 86_400_000).toISOString()
      : options.expiresAt;
  const body: CreateBody = {
    name: options.name,
    client_id: options.keyClientId,
    permissions: options.permissions,
    ...(expiresAt ? { expires_at: expiresAt } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.allowedIp && options.allowedIp.length > 0 ? { allowed_ips: options.allowedIp } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.metadata ? { metadata: metadataOf(options.metadata) } : {}),
  };
  return withSecretFile(options.out, async (file) => {
    const { data } = await api.request(
      'creating an API key',
      (init) => api.client.POST('/api/v1/api-keys', { ...init, body }),
      { retry: 'unsent' },
    );
    showCreated(api, runtime, data, file, `created key ${data.id}`);
    return ExitCode.Ok;
  });
}

export async function getKey(api: Api, runtime: Runtime, id: string): Promise<number> {
  const { data } = await api.request(
    `reading API key ${id}`,
    (init) => api.client.GET('/api/v1/api-keys/{id}', { ...init, params: { path: { id } } }),
    { retry: 'all' },
  );
  showKey(api, runtime, data);
  return ExitCode.Ok;
}

export async function rotateKey(
  api: Api,
  runtime: Runtime,
  id: string,
  options: { gracePeriod?: number; out?: string },
): Promise<number> {
  return withSecretFile(options.out, async (file) => {
    const { data } = await api.request(
      `rotating API key ${id}`,
      (init) =>
        api.client.POST('/api/v1/api-keys/{id}/rotate', {
          ...init,
          params: { path: { id } },
          body: options.gracePeriod !== undefined ? { grace_period_seconds: options.gracePeriod } : {},
        }),
      { retry: 'unsent' },
    );
    showCreated(api, runtime, data, file, `rotated key ${data.id}`);
    return ExitCode.Ok;
  });
}

export interface UpdateKeyOptions {
  name?: string;
  description?: string;
  /** `name=value` pairs: together they replace the key's metadata. */
  metadata?: string[];
  clearMetadata?: boolean;
}

/** Renames a key or sets its description or metadata; the server checks the limits and answers 400 past them. */
export async function updateKey(
  api: Api,
  runtime: Runtime,
  id: string,
  options: UpdateKeyOptions,
): Promise<number> {
  if (options.metadata && options.clearMetadata) {
    throw new CliError('--metadata and --clear-metadata exclude each other', ExitCode.Usage);
  }
  const body: UpdateBody = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.description !== undefined) body.description = options.description;
  if (options.clearMetadata) body.metadata = {};
  if (options.metadata) body.metadata = metadataOf(options.metadata);
  if (Object.keys(body).length === 0) {
    throw new CliError(
      'nothing to change: give --name, --description, --metadata or --clear-metadata',
      ExitCode.Usage,
    );
  }
  const { data } = await api.request(
    `updating API key ${id}`,
    (init) => api.client.PATCH('/api/v1/api-keys/{id}', { ...init, params: { path: { id } }, body }),
    // Setting the same labels twice changes nothing the second time.
    { retry: 'all' },
  );
  showKey(api, runtime, data);
  return ExitCode.Ok;
}

/** The key changes whose second call changes nothing (revoke, enable, …): safe to retry like a read. */
export type KeyAction = 'finish-rotation' | 'revoke' | 'disable' | 'enable';

export async function changeKey(api: Api, runtime: Runtime, action: KeyAction, id: string): Promise<number> {
  const params = { params: { path: { id } } };
  const { data } = await api.request(
    `${action} of API key ${id}`,
    (init) => {
      switch (action) {
        case 'finish-rotation':
          return api.client.POST('/api/v1/api-keys/{id}/rotate/finish', { ...init, ...params });
        case 'revoke':
          return api.client.POST('/api/v1/api-keys/{id}/revoke', { ...init, ...params });
        case 'disable':
          return api.client.POST('/api/v1/api-keys/{id}/disable', { ...init, ...params });
        case 'enable':
          return api.client.POST('/api/v1/api-keys/{id}/enable', { ...init, ...params });
      }
    },
    { retry: 'all' },
  );
  showKey(api, runtime, data);
  return ExitCode.Ok;
}

export async function deleteKey(api: Api, runtime: Runtime, id: string, yes: boolean): Promise<number> {
  if (!yes) {
    throw new CliError(
      `deleting erases key ${id} for good (its audit trail stays): add --yes to confirm`,
      ExitCode.Usage,
    );
  }
  await api.request(
    `deleting API key ${id}`,
    (init) => api.client.DELETE('/api/v1/api-keys/{id}', { ...init, params: { path: { id } } }),
    { retry: 'all' },
  );
  if (api.config.machine) printJson(runtime.stdout, { id, deleted: true });
  else runtime.stdout.write(`deleted key ${id}\n`);
  return ExitCode.Ok;
}

export async function keyUsage(
  api: Api,
  runtime: Runtime,
  id: string,
  options: PageOptions & { outcome?: string },
): Promise<number> {
  const page = await collectPages<Usage>(options, async (cursor) => {
    const { data } = await api.request(
      `reading the usage of API key ${id}`,
      (init) =>
        api.client.GET('/api/v1/api-keys/{id}/usage', {
          ...init,
          params: { path: { id }, query: { limit: options.limit, cursor, outcome: options.outcome } },
        }),
      { retry: 'all' },
    );
    return data;
  });
  if (api.config.machine) {
    printJson(runtime.stdout, page);
  } else {
    printTable(
      runtime.stdout,
      ['when', 'outcome', 'ip', 'user agent', 'request id'],
      page.data.map((entry) => [
        when(entry.occurred_at),
        entry.outcome,
        entry.ip,
        entry.user_agent,
        entry.request_id,
      ]),
    );
    morePages(api, page.next_cursor);
  }
  return ExitCode.Ok;
}
