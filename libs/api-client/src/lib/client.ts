import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from '../generated/schema';

export type { components, operations, paths };

/** The typed client of the gateway's API, generated from its OpenAPI document (`npm run api-client:generate`). */
export type GatehouseClient = Client<paths>;

/** Every named schema of the document, e.g. `Schemas['ApiKey']`. */
export type Schemas = components['schemas'];

/** The suite's one error body: `{error, message, request_id, details?, retry_after?}`. */
export type ApiErrorBody = Schemas['ErrorBody'];

export interface GatehouseClientOptions {
  /** The gateway's origin, e.g. `https://gatehouse.example.com` (a trailing `/` or `/api/v1` is dropped). */
  baseUrl: string;
  /**
   * The `Authorization: Bearer` value of each request, asked for every time so that a refreshed token is used by
   * the next request; nothing is sent when it gives `undefined`.
   */
  accessToken?: () => string | undefined | Promise<string | undefined>;
  /** Headers of every request, e.g. `User-Agent`. */
  headers?: Record<string, string>;
  /** Replaces `globalThis.fetch` (tests, proxies). */
  fetch?: (request: Request) => Promise<Response>;
}

/** The origin the paths of the document are relative to: the generated paths start with `/api/v1`. */
export function normalizeBaseUrl(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  return trimmed.replace(/\/api\/v1$/, '');
}

export function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient {
  const client = createClient<paths>({
    baseUrl: normalizeBaseUrl(options.baseUrl),
    headers: options.headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { accessToken } = options;
  if (accessToken) {
    const bearer: Middleware = {
      async onRequest({ request }) {
        const token = await accessToken();
        if (token !== undefined && !request.headers.has('authorization')) {
          request.headers.set('authorization', `Bearer ${token}`);
        }
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
