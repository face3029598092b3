import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { GatehouseError } from '@gatehouse/contracts';
import { toErrorResponse } from '@gatehouse/http';
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
}

type RouteKind = 'authenticate' | 'api' | 'other';

interface AccessState {
  kind: RouteKind;
  /** Read once in onRequest: by the time onSend runs, the socket may have been detached from the request. */
  ip: string;
  /** The key exchanged for this request's token: dropped from the cache if the service refuses the token. */
  exchangedKey?: string;
  /** auth-service refused the key sent directly (the gateway relays its 401 or 404). */
  exchangeRefused?: boolean;
  /** SHA-256 of the key presented to authenticate. */
  keyDigest?: string;
}

/** How long a key that authenticated is spared the per-IP check of refused credentials. */
const RECENTLY_ACCEPTED_MS = 10 * 60 * 1000;

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
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
  const response = toErrorResponse(error, reply.request.id);
  return reply.status(response.status).headers(response.headers).send(response.body);
}

function sendRateLimited(reply: FastifyReply, decision: RateLimitDecision): FastifyReply {
  const seconds = decision.retryAfterSeconds;
  return sendError(
    reply,
    new GatehouseError(
      'rate_limit_exceeded',
      `Too many requests. Please retry after ${seconds} second${seconds === 1 ? '' : 's'}.`,
      { retryAfter: seconds },
    ),
  );
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

  const notBlocked = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (!options.rateLimitsEnabled) return true;
    const decision = await limiter.checkFailures('failed_attempts', request.ip, options.failureRule);
    if (decision.allowed) return true;
    // The limit that refused: refused credentials per window, none left, until the block ends.
    setRateLimitHeaders(reply, decision);
    sendRateLimited(reply, decision);
    return false;
  };

  const keyRule = (identity: TokenIdentity): RateLimitRule => {
    const limit = options.overrides.get(identity.apiKeyId) ?? identity.rateLimit ?? options.defaultKeyLimit;
    return { limit: limit.requestsPerMinute, burst: limit.burst, windowSeconds: 60 };
  };

  scope.addHook('onRequest', async (request, reply) => {
    const kind = routeKind(request);
    if (kind === 'other') return;
    const state: AccessState = { kind, ip: request.ip || 'unknown' };
    states.set(request, state);

    if (kind === 'authenticate') {
      const credentials = authenticateCredentials(request.headers);
      if (credentials.kind === 'misplaced') {
        return sendError(reply, new GatehouseError('missing_api_key', credentials.message));
      }
      if (credentials.kind !== 'api_key') {
        // No key: auth-service answers 401, which counts against the IP.
        if (!(await notBlocked(request, reply))) return reply;
        return;
      }
      state.keyDigest = digest(credentials.apiKey);
      // A key that authenticated recently is no guess: a pipeline behind the same address as an attacker keeps
      // working, and its requests cost one limiter call instead of two.
      if (!recentlyAccepted.has(state.keyDigest) && !(await notBlocked(request, reply))) return reply;
      if (!(await admitted(reply, 'authenticate', state.keyDigest, options.authenticateRule))) return reply;
      return;
    }

    const credentials = apiCredentials(request.headers);
    switch (credentials.kind) {
      case 'none':
        // The service answers 401, which counts against the IP.
        if (!(await notBlocked(request, reply))) return reply;
        return;
      case 'misplaced':
        return sendError(reply, new GatehouseError('unauthorized', credentials.message));
      case 'bearer': {
        const identity = await options.inspector.inspect(credentials.token);
        if (identity) {
          if (!(await admitted(reply, 'api', `key:${identity.apiKeyId}`, keyRule(identity)))) return reply;
          return;
        }
        if (!(await notBlocked(request, reply))) return reply;
        if (!(await admitted(reply, 'api', `token:${digest(credentials.token)}`, options.userRule)))
          return reply;
        return;
      }
      case 'api_key': {
        // A key with a cached token was accepted already: only a key auth-service must be asked about counts as
        // an attempt a blocked IP may not make.
        let exchanged = options.exchange.peek(credentials.apiKey);
        if (!exchanged && !(await notBlocked(request, reply))) return reply;
        try {
          exchanged ??= await options.exchange.exchange(credentials.apiKey, {
            requestId: request.id,
            ip: request.ip,
            userAgent: request.headers['user-agent'],
          });
        } catch (error) {
          if (!(error instanceof ExchangeRefused)) throw error;
          state.exchangeRefused = true;
          return reply.status(error.status).send(error.body);
        }
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
      await limiter.recordFailure('failed_attempts', state.ip, options.failureRule);
    }
    if (status === 401 && state.exchangedKey) options.exchange.evict(state.exchangedKey);
    if (state.keyDigest) {
      if (status === 200) recentlyAccepted.set(state.keyDigest, true);
      else if (refused) recentlyAccepted.delete(state.keyDigest);
    }
    return payload;
  });
}
