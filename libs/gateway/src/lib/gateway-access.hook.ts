import { hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import {
  ERROR_STATUS,
  GatehouseError,
  isIpAllowed,
  normalizeIpEntry,
  type ErrorCode,
} from '@gatehouse/contracts';
import { parseApiKey } from '@gatehouse/crypto';
import { toErrorResponse, wwwAuthenticate } from '@gatehouse/http';
import type { FailureRule, RateLimitDecision, RateLimiter, RateLimitRule } from '@gatehouse/rate-limit';
import type { AccessTokenInspector, TokenIdentity } from './access-token-inspector';
import { apiCredentials, authenticateCredentials } from './credentials';
import { ExchangeRefused, type KeyExchange } from './key-exchange';
import type { KeyRateLimit, RateLimitOverrides } from './rate-limit-overrides';

/** The limiter's buckets, also the `policy` label of the decisions metric. */
export const RATE_LIMIT_POLICIES = ['authenticate', 'api', 'failed_attempts'] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];

export interface GatewayAccessOptions {
  limiter: RateLimiter;
  /** False: no limit is applied (benchmarks of the limiter's cost); direct key authentication still works. */
  rateLimitsEnabled: boolean;
  /** Per API key, on `POST /api/v1/auth/m2m/authenticate`. */
  authenticateRule: RateLimitRule;
  /** Per client IP, counting refused credentials; over it, the IP is blocked from authenticating for a while. */
  failureRule: FailureRule;
  /** Per token, for bearer tokens that are not Gatehouse access tokens (dashboard users). */
  userRule: RateLimitRule;
  /** For Gatehouse tokens without a `rate_limit` claim (issued before it existed). */
  defaultKeyLimit: KeyRateLimit;
  inspector: AccessTokenInspector;
  exchange: KeyExchange;
  overrides: RateLimitOverrides;
  authenticatePath: string;
  /** Route prefixes of the API: findings and administration. */
  apiPrefixes: string[];
  /**
   * Those of `apiPrefixes` where every route takes a token or key: a request presenting none is answered 401
   * `missing_token` here, never forwarded. Not the routes that take a signature instead (leaked-key reports).
   */
  credentialPrefixes?: readonly string[];
}

/** The message the services' guard gives a request without a token (libs/auth JwtAuthGuard). */
export const MISSING_TOKEN_MESSAGE = 'Send an access token as Authorization: Bearer <token>';

type RouteKind = 'authenticate' | 'api' | 'other';

interface AccessState {
  kind: RouteKind;
  /** Read once in onRequest: by the time onSend runs, the socket may have been detached from the request. */
  ip: string;
  /** What refused credentials are counted and blocked under: see {@link failureKeyOf}. */
  failureKey: string;
  /** The key exchanged for this request's token: dropped from the cache if the service refuses the token. */
  exchangedKey?: string;
  /** auth-service refused the key sent directly (the gateway relays its 401 or 404). */
  exchangeRefused?: boolean;
  /** SHA-256 of the key presented to authenticate. */
  keyDigest?: string;
  /** The client IP is blocked: the credential is judged upstream, and a refusal is answered with this block. */
  block?: RateLimitDecision;
}

/** How long a key that authenticated is spared the per-IP check of refused credentials. */
const RECENTLY_ACCEPTED_MS = 10 * 60 * 1000;

/**
 * The key refused credentials are counted and blocked under, for a client address: an IPv4 address (an
 * IPv4-mapped IPv6 one, `::ffff:192.0.2.10`, in its IPv4 spelling) counts alone; an IPv6 address counts with its
 * whole /64, the smallest network a subscriber is given, so rotating addresses within it (2^64 of them) does not
 * escape the block. Anything else (never a valid client address) is its own key.
 */
export function failureKeyOf(ip: string): string {
  const single = normalizeIpEntry(ip);
  if (single === null) return ip;
  if (single.endsWith('/32')) return single.slice(0, -'/32'.length);
  return normalizeIpEntry(`${ip}/64`) ?? single;
}

function digest(value: string): string {
  return hash('sha256', value, 'base64url');
}

function matchesPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  // End of string, '/' or '?': `/api/v1/findings-export` is not under `/api/v1/findings`.
  return Number.isNaN(next) || next === 47 || next === 63;
}

function setRateLimitHeaders(reply: FastifyReply, decision: RateLimitDecision): void {
  void reply.headers({
    'x-ratelimit-limit': decision.limit,
    'x-ratelimit-remaining': decision.remaining,
    'x-ratelimit-reset': decision.resetSeconds,
  });
}

function sendError(reply: FastifyReply, error: GatehouseError): FastifyReply {
  const response = toErrorResponse(error, reply.request.id, reply.request.headers);
  return reply.status(response.status).headers(response.headers).send(response.body);
}

/**
 * 401 `missing_token`, as the services answer it. Sent before the body is read: when one was announced, the
 * connection is closed after the answer rather than kept waiting for the rest of it.
 */
function sendMissingToken(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const announcesBody =
    request.headers['transfer-encoding'] !== undefined ||
    (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');
  if (announcesBody) void reply.header('connection', 'close');
  return sendError(reply, new GatehouseError('missing_token', MISSING_TOKEN_MESSAGE));
}

function rateLimitError(decision: RateLimitDecision): GatehouseError {
  const seconds = decision.retryAfterSeconds;
  return new GatehouseError(
    'rate_limit_exceeded',
    `Too many requests. Please retry after ${seconds} second${seconds === 1 ? '' : 's'}.`,
    { retryAfter: seconds },
  );
}

function sendRateLimited(reply: FastifyReply, decision: RateLimitDecision): FastifyReply {
  return sendError(reply, rateLimitError(decision));
}

/**
 * Who may pass the gateway, and how often. In request order:
 * - a client IP with too many refused credentials recently is blocked (429) from presenting new ones;
 * - authenticate is limited per API key (by the key's hash: the key itself never reaches the limiter's store);
 * - API calls are limited per API key at the key's limit (override, else its organization's tier, carried in the
 *   token), or per token for dashboard users;
 * - an API key sent directly is exchanged for a cached token, so the services behind only ever see tokens.
 * A request with a verified token or a cached exchange costs one limiter call and no other network round trip.
 */
export function registerGatewayAccess(scope: FastifyInstance, options: GatewayAccessOptions): void {
  const states = new WeakMap<FastifyRequest, AccessState>();
  const recentlyAccepted = new LRUCache<string, true>({ max: 100_000, ttl: RECENTLY_ACCEPTED_MS });
  const { limiter } = options;

  const credentialPrefixes = options.credentialPrefixes ?? [];
  const needsCredential = (request: FastifyRequest): boolean =>
    credentialPrefixes.some((prefix) => matchesPrefix(request.url, prefix));

  const routeKind = (request: FastifyRequest): RouteKind => {
    const url = request.url;
    if (request.method === 'POST' && matchesPrefix(url, options.authenticatePath)) return 'authenticate';
    return options.apiPrefixes.some((prefix) => matchesPrefix(url, prefix)) ? 'api' : 'other';
  };

  /** Resolves to false once a 429 has been sent. */
  const admitted = async (
    reply: FastifyReply,
    policy: RateLimitPolicy,
    key: string,
    rule: RateLimitRule,
  ): Promise<boolean> => {
    if (!options.rateLimitsEnabled) return true;
    const decision = await limiter.consume(policy, key, rule);
    setRateLimitHeaders(reply, decision);
    if (decision.allowed) return true;
    sendRateLimited(reply, decision);
    return false;
  };

  /** The block's decision when the client IP is blocked for refused credentials; undefined otherwise. */
  const blockOf = async (state: AccessState): Promise<RateLimitDecision | undefined> => {
    if (!options.rateLimitsEnabled) return undefined;
    const decision = await limiter.checkFailures('failed_attempts', state.failureKey, options.failureRule);
    return decision.allowed ? undefined : decision;
  };

  const sendBlocked = (reply: FastifyReply, decision: RateLimitDecision): FastifyReply => {
    // The limit that refused: refused credentials per window, none left, until the block ends.
    setRateLimitHeaders(reply, decision);
    return sendRateLimited(reply, decision);
  };

  /** A token carrying `allowed_ips` is refused from any other address, whoever verifies it next. */
  const refusedHere = (
    reply: FastifyReply,
    identity: TokenIdentity,
    ip: string,
  ): FastifyReply | undefined => {
    if (!identity.allowedIps || isIpAllowed(identity.allowedIps, ip)) return undefined;
    return sendError(
      reply,
      new GatehouseError('ip_not_allowed', 'This API key may not be used from this IP address'),
    );
  };

  const keyRule = (identity: TokenIdentity): RateLimitRule => {
    const limit = options.overrides.get(identity.apiKeyId) ?? identity.rateLimit ?? options.defaultKeyLimit;
    return { limit: limit.requestsPerMinute, burst: limit.burst, windowSeconds: 60 };
  };

  /*
   * The block on an IP with too many refused credentials (429) keeps out what is refused, never a valid caller
   * who happens to share the address (a pipeline behind the attacker's NAT, a dashboard user):
   * - a verified Gatehouse token, a key with a cached token, and a key that authenticated here within the last
   *   10 minutes pass without even asking the limiter;
   * - any other credential is still judged by its authority: the key by auth-service (authenticate, or the
   *   exchange), a bearer token by the service it is sent to. An accepted one passes; a refusal of any kind is
   *   answered with the block's 429 instead of the authority's answer, so a blocked attacker learns nothing about
   *   what it tried, and the refusal is counted again;
   * - what cannot be a credential (nothing at all, a key whose checksum is wrong, a bearer that is not a JWT) is
   *   answered 429 at once, without asking anyone.
   */
  scope.addHook('onRequest', async (request, reply) => {
    const kind = routeKind(request);
    if (kind === 'other') return;
    const ip = request.ip || 'unknown';
    const state: AccessState = { kind, ip, failureKey: failureKeyOf(ip) };
    states.set(request, state);

    if (kind === 'authenticate') {
      const credentials = authenticateCredentials(request.headers);
      if (credentials.kind === 'misplaced') {
        return sendError(reply, new GatehouseError('missing_api_key', credentials.message));
      }
      if (credentials.kind !== 'api_key') {
        // No key: auth-service answers 401, which counts against the IP.
        const block = await blockOf(state);
        if (block) return sendBlocked(reply, block);
        return;
      }
      state.keyDigest = digest(credentials.apiKey);
      // A key that authenticated recently is no guess: a pipeline behind the same address as an attacker keeps
      // working, and its requests cost one limiter call instead of two.
      if (!recentlyAccepted.has(state.keyDigest)) {
        state.block = await blockOf(state);
        if (state.block && !parseApiKey(credentials.apiKey)) return sendBlocked(reply, state.block);
      }
      if (!(await admitted(reply, 'authenticate', state.keyDigest, options.authenticateRule))) return reply;
      return;
    }

    const credentials = apiCredentials(request.headers);
    switch (credentials.kind) {
      case 'none': {
        const block = await blockOf(state);
        if (block) return sendBlocked(reply, block);
        // Answered here, not forwarded: a request nobody will accept must not hold an upstream connection while
        // its body trickles in. It counts against the IP (onSend) like the service's 401 did.
        if (needsCredential(request)) return sendMissingToken(request, reply);
        // The service answers 401, which counts against the IP.
        return;
      }
      case 'misplaced':
        return sendError(reply, new GatehouseError('unauthorized', credentials.message));
      case 'bearer': {
        const identity = await options.inspector.inspect(credentials.token);
        if (identity) {
          const refused = refusedHere(reply, identity, state.ip);
          if (refused) return refused;
          if (!(await admitted(reply, 'api', `key:${identity.apiKeyId}`, keyRule(identity)))) return reply;
          return;
        }
        // Not a Gatehouse token (a dashboard user's, or a forged one): the service judges it.
        state.block = await blockOf(state);
        if (state.block && credentials.token.split('.').length !== 3) return sendBlocked(reply, state.block);
        if (!(await admitted(reply, 'api', `token:${digest(credentials.token)}`, options.userRule)))
          return reply;
        return;
      }
      case 'api_key': {
        // A key with a cached token was accepted already: only a key auth-service must be asked about may be
        // an attempt of a blocked IP.
        let exchanged = options.exchange.peek(credentials.apiKey);
        if (!exchanged) {
          state.block = await blockOf(state);
          if (state.block && !parseApiKey(credentials.apiKey)) return sendBlocked(reply, state.block);
        }
        try {
          exchanged ??= await options.exchange.exchange(credentials.apiKey, {
            requestId: request.id,
            ip: request.ip,
            userAgent: request.headers['user-agent'],
          });
        } catch (error) {
          if (!(error instanceof ExchangeRefused)) throw error;
          state.exchangeRefused = true;
          if (state.block) return sendBlocked(reply, state.block);
          // auth-service's refusal, relayed; its challenge is the key's, whichever header carried it.
          const challenge = error.status === 401 ? challengeOfRefusal(error.body) : undefined;
          if (challenge) void reply.header('www-authenticate', challenge);
          return reply.status(error.status).send(error.body);
        }
        // auth-service refuses to issue a restricted key's token elsewhere; a cached one is checked here.
        const refused = refusedHere(reply, exchanged.identity, state.ip);
        if (refused) return refused;
        if (
          !(await admitted(reply, 'api', `key:${exchanged.identity.apiKeyId}`, keyRule(exchanged.identity)))
        ) {
          return reply;
        }
        // The services behind see a token, never the key.
        delete request.headers['x-api-key'];
        request.headers.authorization = `Bearer ${exchanged.accessToken}`;
        state.exchangedKey = credentials.apiKey;
        return;
      }
    }
  });

  // onSend, not onResponse: the failure is counted before the client sees the refusal, so its next attempt is
  // already judged with it.
  scope.addHook('onSend', async (request, reply, payload) => {
    const state = states.get(request);
    if (!state) return payload;
    const status = reply.statusCode;
    // Refused credentials: 401 anywhere, 404 from authenticate (an unknown key), or a refused direct key.
    const refused =
      status === 401 || (state.kind === 'authenticate' && status === 404) || state.exchangeRefused;
    if (refused && options.rateLimitsEnabled) {
      await limiter.recordFailure('failed_attempts', state.failureKey, options.failureRule);
    }
    if (status === 401 && state.exchangedKey) options.exchange.evict(state.exchangedKey);
    let body = payload;
    if (state.keyDigest) {
      if (status === 200) recentlyAccepted.set(state.keyDigest, true);
      else if (refused) {
        // A wrong client_id was sent with a valid key: the key is no guess, it keeps its exemption.
        body = await bufferedBody(payload);
        if (errorCodeOf(body) !== 'client_id_mismatch') recentlyAccepted.delete(state.keyDigest);
      }
    }
    if (refused && state.block && !state.exchangeRefused) {
      // Blocked, and the authority refused: the client gets the block, not the authority's answer.
      discard(body);
      const response = toErrorResponse(rateLimitError(state.block), request.id);
      for (const name of Object.keys(reply.getHeaders())) {
        if (UPSTREAM_REFUSAL_HEADERS.has(name)) reply.removeHeader(name);
      }
      setRateLimitHeaders(reply, state.block);
      void reply.status(response.status).headers(response.headers);
      return JSON.stringify(response.body);
    }
    return body;
  });
}

/** Headers of an upstream refusal that the block's 429 must not carry (its length, a challenge). */
const UPSTREAM_REFUSAL_HEADERS = new Set(['content-length', 'content-type', 'www-authenticate', 'etag']);

/** Refusal bodies are one small JSON object; anything longer is not read past this. */
const MAX_REFUSAL_BODY_BYTES = 16 * 1024;

/** The payload as a Buffer when it is a stream (a proxied response), read to its end or to the cap. */
async function bufferedBody(payload: unknown): Promise<unknown> {
  if (!(payload instanceof Readable)) return payload;
  ignoreAbort(payload);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of payload) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(buffer);
    length += buffer.length;
    if (length > MAX_REFUSAL_BODY_BYTES) break;
  }
  return Buffer.concat(chunks);
}

/** The challenge of a 401 auth-service gave an API key sent directly to the API. */
function challengeOfRefusal(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | null)?.error;
  const known =
    typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code) ? (code as ErrorCode) : undefined;
  return wwwAuthenticate(known ?? 'invalid_api_key', { apiKey: true });
}

function errorCodeOf(body: unknown): string | undefined {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    // Not the error shape: no code to read.
    return undefined;
  }
}

function discard(payload: unknown): void {
  if (!(payload instanceof Readable)) return;
  ignoreAbort(payload);
  payload.destroy();
}

/**
 * An upstream body the gateway stops reading (a refusal it replaces, or one longer than it reads) is destroyed,
 * and undici's body stream then emits the abort as an 'error': expected, and it must not be an unhandled one.
 */
function ignoreAbort(stream: Readable): void {
  stream.on('error', () => undefined);
}
