import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { OPENAPI_DOCUMENT_PATH, REQUEST_ID_HEADER, toErrorResponse } from '@gatehouse/http';
import { documentGatewayAccess, documentGatewayAnswers, type DocumentedAccess } from './api-docs-access';
import {
  acceptsGzip,
  API_REFERENCE_CONTENT_SECURITY_POLICY,
  loadReferenceScript,
  prefersHtml,
  REFERENCE_SCRIPT_MAX_AGE_SECONDS,
  renderReferencePage,
  type ReferenceScript,
} from './api-reference';
import type { UpstreamRoute } from './upstream-proxy';

/** The merged document, always JSON. */
export const API_DOCUMENT_PATH = '/api/docs/openapi.json';

/** The reference page for browsers, the document for everyone else (see {@link prefersHtml}). */
export const API_REFERENCE_PATHS = ['/api/docs', '/api/docs/'] as const;

/** Every path the gateway serves the merged document at. */
export const API_DOCS_PATHS = [...API_REFERENCE_PATHS, API_DOCUMENT_PATH] as const;

/** Where the page's bundle is served from (a file name with its content's hash). */
export const API_DOCS_ASSETS_PATH = '/api/docs/assets';

/**
 * The document's server: the origin it is served from, written relative (RFC 3986 §4.2) since the gateway does
 * not know the name clients reach it by. Paths in the document start with `/api/v1`.
 */
export const DOCUMENTED_SERVERS = [
  {
    url: '/',
    description: 'The gateway serving this document (every path starts with /api/v1)',
  },
];

const DEFAULT_CACHE_TTL_MS = 60_000;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  /** When unset, the license the upstreams' documents state (they all state the same). */
  license?: { name: string; identifier?: string; url?: string };
}

/** The parts of an OpenAPI 3 document the merge reads; everything else passes through untouched. */
export interface OpenApiDocument {
  openapi: string;
  info: OpenApiInfo;
  paths: Record<string, unknown>;
  components?: Record<string, Record<string, unknown>>;
  tags?: { name: string; [field: string]: unknown }[];
  [field: string]: unknown;
}

export interface UpstreamDocument {
  document: OpenApiDocument;
  /** Path prefixes the gateway forwards to this upstream: only its paths under them are public. */
  prefixes: string[];
}

export interface ApiDocsOptions {
  /** The gateway's proxy routes: each upstream's document is fetched once and filtered by its prefixes. */
  routes: UpstreamRoute[];
  info: OpenApiInfo;
  timeoutMs: number;
  cacheTtlMs?: number;
  /** The routes the gateway rate-limits and takes API keys on, documented in the merged document. */
  access?: DocumentedAccess;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOpenApiDocument(value: unknown): value is OpenApiDocument {
  return (
    isRecord(value) &&
    typeof value['openapi'] === 'string' &&
    value['openapi'].startsWith('3.') &&
    isRecord(value['info']) &&
    isRecord(value['paths'])
  );
}

/** Equality of JSON values: key order and prototypes do not matter. */
function jsonEqual(left: unknown, right: unknown): boolean {
  if (Array.isArray(left) || Array.isArray(right)) {
    return (
      Array.isArray(left) &&
      Array.isArray(right) &&
      left.length === right.length &&
      left.every((item, index) => jsonEqual(item, right[index]))
    );
  }
  if (isRecord(left) && isRecord(right)) {
    const keys = Object.keys(left);
    return (
      keys.length === Object.keys(right).length &&
      keys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]))
    );
  }
  return Object.is(left, right);
}

function underPrefix(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Replaces every string equal to a renamed `$ref` target (refs, discriminator mappings) in a JSON value. */
function rewriteRefs(value: unknown, renames: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return renames.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, renames));
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rewriteRefs(item, renames)]));
}

/** Renames the keys of security requirement objects (`security: [{ bearer: [] }]`) at every level. */
function rewriteSecurity(value: unknown, renames: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteSecurity(item, renames));
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (key === 'security' && Array.isArray(item)) {
        const requirements = (item as unknown[]).map((requirement) =>
          isRecord(requirement)
            ? Object.fromEntries(
                Object.entries(requirement).map(([name, scopes]) => [renames.get(name) ?? name, scopes]),
              )
            : requirement,
        );
        return [key, requirements];
      }
      return [key, rewriteSecurity(item, renames)];
    }),
  );
}

function containsAnyRef(value: unknown, refs: ReadonlyMap<string, string>): boolean {
  if (typeof value === 'string') return refs.has(value);
  if (Array.isArray(value)) return value.some((item) => containsAnyRef(item, refs));
  return isRecord(value) && Object.values(value).some((item) => containsAnyRef(item, refs));
}

function renamePrefix(document: OpenApiDocument, index: number): string {
  const words = document.info.title.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((word) => word[0].toUpperCase() + word.slice(1)).join('');
  return name || `Upstream${index + 1}`;
}

/**
 * One document from several: the paths each upstream serves under its public prefixes, and the union of their
 * components. Components defined identically by several upstreams (the shared ErrorBody, the security
 * schemes) appear once; a name two upstreams define differently is kept apart by prefixing the later one with
 * its title, and every reference to it is rewritten.
 */
export function mergeOpenApiDocuments(info: OpenApiInfo, upstreams: UpstreamDocument[]): OpenApiDocument {
  const license =
    info.license ?? upstreams.find(({ document }) => document.info.license)?.document.info.license;
  const merged: OpenApiDocument = {
    openapi: upstreams[0]?.document.openapi ?? '3.1.0',
    info: license ? { ...info, license } : info,
    servers: DOCUMENTED_SERVERS,
    tags: [],
    paths: {},
    components: {},
  };
  const components = merged.components as Record<string, Record<string, unknown>>;
  const tags = merged.tags as { name: string }[];

  upstreams.forEach(({ document, prefixes }, index) => {
    const own = document.components ?? {};
    // A component needs a new name when the merged document already has a different one under its name, or
    // when it refers to a component that was renamed (else it would be mistaken for the other one).
    const renames = new Map<string, string>();
    const securityRenames = new Map<string, string>();
    const prefix = renamePrefix(document, index);
    for (let changed = true; changed;) {
      changed = false;
      for (const [section, entries] of Object.entries(own)) {
        for (const [name, value] of Object.entries(entries)) {
          const ref = `#/components/${section}/${name}`;
          const existing = components[section]?.[name];
          if (renames.has(ref) || existing === undefined) continue;
          if (jsonEqual(existing, value) && !containsAnyRef(value, renames)) continue;
          let candidate = `${prefix}${name}`;
          while (components[section]?.[candidate] !== undefined || own[section]?.[candidate] !== undefined) {
            candidate = `${candidate}_`;
          }
          renames.set(ref, `#/components/${section}/${candidate}`);
          if (section === 'securitySchemes') securityRenames.set(name, candidate);
          changed = true;
        }
      }
    }

    const rewritten = rewriteSecurity(rewriteRefs(document, renames), securityRenames) as OpenApiDocument;
    for (const [section, entries] of Object.entries(rewritten.components ?? {})) {
      const target = (components[section] ??= {});
      for (const [name, value] of Object.entries(entries)) {
        const renamed = renames.get(`#/components/${section}/${name}`);
        const key = renamed ? renamed.slice(`#/components/${section}/`.length) : name;
        if (target[key] === undefined) target[key] = value;
      }
    }
    for (const [path, item] of Object.entries(rewritten.paths)) {
      if (underPrefix(path, prefixes) && merged.paths[path] === undefined) merged.paths[path] = item;
    }
    for (const tag of rewritten.tags ?? []) {
      if (!tags.some((known) => known.name === tag.name)) tags.push(tag);
    }
  });
  return merged;
}

/** Adds a field to `Vary`, keeping those set before (CORS sets `Vary: Origin`). */
function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  const fields = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (!fields.some((name) => name.toLowerCase() === field.toLowerCase())) fields.push(field);
  void reply.header('vary', fields.join(', '));
}

async function fetchDocument(
  upstream: string,
  timeoutMs: number,
  requestId: string,
): Promise<OpenApiDocument> {
  const url = `${upstream}${OPENAPI_DOCUMENT_PATH}`;
  // Node's fetch keeps connections to the upstream alive between calls, as the proxy's pools do.
  const response = await fetch(url, {
    headers: { accept: 'application/json', [REQUEST_ID_HEADER]: requestId },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const document: unknown = await response.json();
  if (!isOpenApiDocument(document)) throw new Error(`${url} did not answer an OpenAPI 3 document`);
  return document;
}

/**
 * Serves the merged OpenAPI document of the upstreams at `/api/docs/openapi.json`, and at `/api/docs` (or
 * `/api/docs/`) to every client but a browser, which gets the reference page instead (see {@link prefersHtml}).
 * The documents are fetched on demand and the merge is cached for a minute; if any upstream cannot be fetched the
 * answer is a 502 in the suite's error shape, and nothing is cached. The page needs no upstream: it loads the
 * document, and its bundle from `/api/docs/assets/`, read once from the installed package.
 */
export async function registerApiDocs(fastify: FastifyInstance, options: ApiDocsOptions): Promise<void> {
  const logger = new Logger('ApiDocs');
  const ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  const upstreams = new Map<string, string[]>();
  for (const route of options.routes) {
    upstreams.set(route.upstream, [...(upstreams.get(route.upstream) ?? []), route.prefix]);
  }
  let cached: { body: string; expiresAt: number } | undefined;
  let loading: Promise<string> | undefined;

  const load = async (requestId: string): Promise<string> => {
    const documents = await Promise.all(
      [...upstreams].map(async ([upstream, prefixes]) => {
        try {
          return { document: await fetchDocument(upstream, options.timeoutMs, requestId), prefixes };
        } catch (error) {
          const { message, cause } = error as Error & { cause?: unknown };
          const reason = cause instanceof Error ? `${message} (${cause.message})` : message;
          logger.warn(`OpenAPI document of ${upstream} unavailable: ${reason}`);
          throw new GatehouseError(
            'bad_gateway',
            'The API documentation of an upstream service is unavailable',
          );
        }
      }),
    );
    const merged = documentGatewayAnswers(mergeOpenApiDocuments(options.info, documents));
    const body = JSON.stringify(options.access ? documentGatewayAccess(merged, options.access) : merged);
    cached = { body, expiresAt: Date.now() + ttlMs };
    return body;
  };

  const current = (requestId: string): Promise<string> => {
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached.body);
    // Concurrent requests on a cold cache share one round of upstream fetches.
    loading ??= load(requestId).finally(() => {
      loading = undefined;
    });
    return loading;
  };

  let script: Promise<ReferenceScript> | undefined;
  const referenceScript = (): Promise<ReferenceScript> => {
    script ??= loadReferenceScript().catch((error: unknown) => {
      // Not cached: a later request tries again (and logs again), the JSON document is unaffected.
      script = undefined;
      logger.error(`API reference page unavailable: ${(error as Error).message}`);
      throw new GatehouseError('internal_error', 'The API reference page is unavailable');
    });
    return script;
  };

  const sendDocument = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = await current(request.id);
    return reply
      .type('application/json; charset=utf-8')
      .header('cache-control', `public, max-age=${Math.floor(ttlMs / 1000)}`)
      .send(body);
  };

  await fastify.register((scope, _options, done) => {
    // Fastify routes, not Nest ones: errors are shaped here, as for the proxied routes.
    scope.setErrorHandler((error, request, reply) => {
      const response = toErrorResponse(error, request.id);
      void reply.status(response.status).headers(response.headers).send(response.body);
    });
    scope.get(API_DOCUMENT_PATH, sendDocument);
    for (const path of API_REFERENCE_PATHS) {
      scope.get(path, async (request, reply) => {
        // One URL, two representations: a cache keeps them apart by Accept.
        addVary(reply, 'Accept');
        if (!prefersHtml(request.headers.accept)) return sendDocument(request, reply);
        const { fileName } = await referenceScript();
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', API_REFERENCE_CONTENT_SECURITY_POLICY)
          .header('cache-control', 'no-cache')
          .send(
            renderReferencePage({
              title: `${options.info.title} reference`,
              documentUrl: API_DOCUMENT_PATH,
              scriptUrl: `${API_DOCS_ASSETS_PATH}/${fileName}`,
            }),
          );
      });
    }
    scope.get<{ Params: { file: string } }>(`${API_DOCS_ASSETS_PATH}/:file`, async (request, reply) => {
      const loaded = await referenceScript();
      if (request.params.file !== loaded.fileName) throw new GatehouseError('not_found', 'Not found');
      addVary(reply, 'Accept-Encoding');
      const gzipped = acceptsGzip(request.headers['accept-encoding']);
      if (gzipped) void reply.header('content-encoding', 'gzip');
      return reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', `public, max-age=${REFERENCE_SCRIPT_MAX_AGE_SECONDS}, immutable`)
        .send(gzipped ? loaded.gzipped : loaded.body);
    });
    done();
  });
}
