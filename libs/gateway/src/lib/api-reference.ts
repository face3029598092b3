import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/** The npm package whose standalone bundle renders the reference (installed from the registry, never a CDN). */
export const REFERENCE_PACKAGE = '@scalar/fastify-api-reference';

/**
 * The policy of the reference page only; every other answer of the gateway keeps `default-src 'none'`
 * (security-headers.ts). Scripts come from the gateway alone (the bundle, no inline script), and so does every
 * request the page makes: the document, and the requests its "Test Request" panel sends to the API. Styles allow
 * 'unsafe-inline' because the bundle injects its stylesheet and its components' styles at run time, without a
 * nonce it could know; nothing else is loosened. Images may be data: and blob: URLs (icons, response previews).
 */
export const API_REFERENCE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Seconds the page's bundle is cached: its URL names its content, so a new version is a new URL. */
export const REFERENCE_SCRIPT_MAX_AGE_SECONDS = 365 * 24 * 3600;

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const [type, subtype] = (range ?? '').split('/');
    if (!type || !subtype) continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=').map((piece) => piece.trim());
      if (name === 'q') q = Number(value);
    }
    if (Number.isFinite(q) && q >= 0 && q <= 1) ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** The quality a media type gets from the most specific range that matches it (RFC 9110 §12.5.1); 0 if none does. */
function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const [type, subtype] = mediaType.split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const range of ranges) {
    const specificity =
      range.type === type && range.subtype === subtype
        ? 2
        : range.type === type && range.subtype === '*'
          ? 1
          : range.type === '*' && range.subtype === '*'
            ? 0
            : -1;
    if (specificity >= 0 && (!best || specificity > best.specificity)) best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

/**
 * Whether `GET /api/docs` answers the reference page rather than the document: only when the client prefers
 * HTML to JSON, as browsers do (`text/html,…,*\/*;q=0.8`). No Accept, `*\/*`, `application/json` and any tie
 * get the JSON document, as before the page existed: scripts and generators keep working unchanged.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  return qualityOf(ranges, 'text/html') > qualityOf(ranges, 'application/json');
}

/** Whether a client takes a gzip-encoded answer (`Accept-Encoding`, a `q` of 0 refusing it). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.find((param) => param.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface ReferencePageOptions {
  title: string;
  /** Where the page fetches the OpenAPI document, on the gateway. */
  documentUrl: string;
  /** Where the page loads the bundle from, on the gateway. */
  scriptUrl: string;
}

/**
 * The options of the reference, chosen for a page that talks to nothing but the gateway: no web fonts
 * (fonts.scalar.com), no telemetry, no AI agent or MCP panel, and no button that opens the document in Scalar's
 * hosted client; the "Test Request" panel stays, sending to the document's server, the gateway itself.
 */
export function referenceConfiguration(documentUrl: string): Record<string, unknown> {
  return {
    url: documentUrl,
    withDefaultFonts: false,
    telemetry: false,
    agent: { disabled: true },
    mcp: { disabled: true },
    hideClientButton: true,
    showDeveloperTools: 'never',
    persistAuth: false,
  };
}

/**
 * The page: no inline script. The bundle reads its options from the `data-configuration` attribute of the
 * `#api-reference` element (a JSON data block, never executed) and mounts itself before it.
 */
export function renderReferencePage(options: ReferencePageOptions): string {
  const configuration = escapeHtml(JSON.stringify(referenceConfiguration(options.documentUrl)));
  const documentUrl = escapeHtml(options.documentUrl);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(options.title)}</title>
  </head>
  <body>
    <noscript>This reference needs JavaScript. The OpenAPI document is at <a href="${documentUrl}">${documentUrl}</a>.</noscript>
    <script id="api-reference" type="application/json" data-configuration="${configuration}"></script>
    <script src="${escapeHtml(options.scriptUrl)}"></script>
  </body>
</html>
`;
}

const BUNDLE_DECLARATION = 'var standalone_default = ';

/**
 * The standalone bundle (`window.Scalar`, self-mounting) out of the Fastify plugin's module, where it is a string
 * constant. The plugin itself is not used: it answers `/api/docs` with a redirect to `/api/docs/` (the JSON must
 * stay at `/api/docs` for `Accept: application/json`), registers its own `…/openapi.json` (the gateway's merged
 * document is there) with `Access-Control-Allow-Origin: *`, and is an ES module the gateway's CommonJS bundle
 * cannot load without an experimental warning.
 *
 * The constant is a JavaScript string literal in JSON's syntax except for raw control characters, which JSON
 * wants escaped: they are escaped, and the literal read with JSON.parse; nothing of the module is evaluated.
 */
export function extractStandaloneBundle(moduleSource: string): string {
  const start = moduleSource.indexOf(BUNDLE_DECLARATION);
  if (start === -1) throw new Error(`${REFERENCE_PACKAGE}: no standalone bundle found in its module`);
  const literalStart = start + BUNDLE_DECLARATION.length;
  const literalEnd = moduleSource.indexOf(';\n', literalStart);
  const literal = moduleSource.slice(literalStart, literalEnd === -1 ? undefined : literalEnd);
  if (!literal.startsWith('"') || !literal.endsWith('"')) {
    throw new Error(`${REFERENCE_PACKAGE}: its standalone bundle is not a string literal`);
  }
  const json = literal.replace(
    /[\u0000-\u001f\u2028\u2029]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  let bundle: unknown;
  try {
    bundle = JSON.parse(json);
  } catch (error) {
    throw new Error(
      `${REFERENCE_PACKAGE}: its standalone bundle could not be read (${(error as Error).message})`,
    );
  }
  if (typeof bundle !== 'string' || bundle.length === 0) {
    throw new Error(`${REFERENCE_PACKAGE}: its standalone bundle is empty`);
  }
  return bundle;
}

export interface ReferenceScript {
  /** File name under the assets path: names the content, so that it can be cached for good. */
  fileName: string;
  body: Buffer;
  gzipped: Buffer;
}

/** Reads the bundle out of the installed package's module, once per process. */
export async function loadReferenceScript(): Promise<ReferenceScript> {
  const path = createRequire(__filename).resolve(REFERENCE_PACKAGE);
  return referenceScriptOf(await readFile(path, 'utf8'));
}

/** The bundle of the package's module (see {@link extractStandaloneBundle}), named and compressed. */
export async function referenceScriptOf(moduleSource: string): Promise<ReferenceScript> {
  const body = Buffer.from(extractStandaloneBundle(moduleSource), 'utf8');
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
  // Compressed once: 4 MB becomes about 1.3 MB for every browser that opens the page.
  const gzipped = await promisify(gzip)(body);
  return { fileName: `scalar-api-reference.${digest}.js`, body, gzipped };
}
