import { LRUCache } from 'lru-cache';
import { GatehouseError } from '@gatehouse/contracts';
import { hashApiKey } from '@gatehouse/crypto';
import { GATEWAY_SECRET_HEADER, REQUEST_ID_HEADER } from '@gatehouse/http';
import type { AccessTokenInspector, TokenIdentity } from './access-token-inspector';

/** auth-service's route that turns a key alone (no client_id) into a token; the gateway never exposes it. */
export const TOKEN_EXCHANGE_PATH = '/internal/v1/token-exchange';

export interface ExchangedToken {
  accessToken: string;
  identity: TokenIdentity;
}

/** auth-service said no (unknown, revoked, expired key…): its answer goes to the client as it is. */
export class ExchangeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`token exchange refused with ${status}`);
  }
}

export interface ExchangeContext {
  requestId: string;
  ip: string;
  userAgent: string | undefined;
}

export interface KeyExchangeOptions {
  authServiceUrl: string;
  timeoutMs: number;
  inspector: AccessTokenInspector;
  /** A cached token is renewed this long before it expires, so that it never expires in flight. */
  renewBeforeSeconds?: number;
  cacheSize?: number;
  now?: () => number;
  /** GATEWAY_SECRET: auth-service answers the exchange only to a caller presenting it. */
  gatewaySecret?: string;
}

/**
 * Direct key authentication: a request that carries an API key instead of a token is given a token for that key,
 * obtained from auth-service once and reused until shortly before it expires. Entries are keyed by the key's
 * SHA-256, never by the key itself. A revoked key's cached token is refused by the service behind (it checks
 * revocation on every request); the gateway then drops the entry, so the next request asks auth-service again
 * and gets the refusal. A change to the key itself (its allowlist, a disable, a revocation, a retired secret)
 * evicts its entries by key id (`evictApiKey`), so that the next request is judged by auth-service on the key as
 * it is now rather than by a token carrying what the key was.
 */
export class KeyExchange {
  private readonly tokens: LRUCache<string, ExchangedToken>;
  /** apiKeyId → the hashes its cached tokens are stored under (one per secret in use: two during a rotation). */
  private readonly byApiKey = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Promise<ExchangedToken>>();
  /**
   * Bumped by every evictApiKey: an exchange in flight meanwhile caches nothing, since it may bring back a token
   * describing the key as it was. Any key's change counts, since which key an exchange is for is known only once
   * it answers; changes are rare and the cost is one more exchange.
   */
  private generation = 0;
  private readonly now: () => number;
  private readonly renewBeforeSeconds: number;

  constructor(private readonly options: KeyExchangeOptions) {
    this.tokens = new LRUCache({
      max: options.cacheSize ?? 10_000,
      // Every way out of the cache (eviction, replacement, delete) keeps the index in step with it.
      dispose: (exchanged, id) => this.unindex(exchanged.identity.apiKeyId, id),
    });
    this.now = options.now ?? (() => Date.now() / 1000);
    this.renewBeforeSeconds = options.renewBeforeSeconds ?? 60;
  }

  get hasGatewaySecret(): boolean {
    return Boolean(this.options.gatewaySecret);
  }

  /** The key's cached token if it is not due for renewal: no network call. */
  peek(apiKey: string): ExchangedToken | undefined {
    const cached = this.tokens.get(hashApiKey(apiKey).toString('base64url'));
    return cached && cached.identity.expiresAt - this.renewBeforeSeconds > this.now() ? cached : undefined;
  }

  async exchange(apiKey: string, context: ExchangeContext): Promise<ExchangedToken> {
    const cached = this.peek(apiKey);
    if (cached) return cached;
    const id = hashApiKey(apiKey).toString('base64url');
    // Concurrent first requests of one pipeline share one exchange instead of each signing a token.
    const inFlight = this.pending.get(id);
    if (inFlight) return inFlight;
    const startedAt = this.generation;
    const request = this.request(apiKey, context)
      .then((exchanged) => {
        const { apiKeyId, expiresAt } = exchanged.identity;
        // The request that asked is answered with it (it was in flight when the change came); it is not kept.
        if (this.generation === startedAt && expiresAt - this.renewBeforeSeconds > this.now()) {
          this.tokens.set(id, exchanged);
          this.index(apiKeyId, id);
        }
        return exchanged;
      })
      .finally(() => {
        if (this.pending.get(id) === request) this.pending.delete(id);
      });
    this.pending.set(id, request);
    return request;
  }

  /** Forgets the key's token, e.g. after a service refused it. */
  evict(apiKey: string): void {
    this.tokens.delete(hashApiKey(apiKey).toString('base64url'));
  }

  /**
   * Forgets every token of the key `apiKeyId` (each of its secrets), and lets no exchange already in flight keep
   * one: the key changed, and the next request must be judged by auth-service on the key as it is now.
   */
  evictApiKey(apiKeyId: string): void {
    this.generation += 1;
    // The pending exchanges' keys are unknown until they answer: later requests start their own.
    this.pending.clear();
    for (const id of [...(this.byApiKey.get(apiKeyId) ?? [])]) this.tokens.delete(id);
    this.byApiKey.delete(apiKeyId);
  }

  private index(apiKeyId: string, id: string): void {
    let ids = this.byApiKey.get(apiKeyId);
    if (!ids) {
      ids = new Set();
      this.byApiKey.set(apiKeyId, ids);
    }
    ids.add(id);
  }

  private unindex(apiKeyId: string, id: string): void {
    const ids = this.byApiKey.get(apiKeyId);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.byApiKey.delete(apiKeyId);
  }

  private async request(apiKey: string, context: ExchangeContext): Promise<ExchangedToken> {
    let response: Response;
    try {
      response = await fetch(`${this.options.authServiceUrl}${TOKEN_EXCHANGE_PATH}`, {
        method: 'POST',
        headers: {
          'x-api-key': apiKey,
          [REQUEST_ID_HEADER]: context.requestId,
          'x-forwarded-for': context.ip,
          ...(this.options.gatewaySecret ? { [GATEWAY_SECRET_HEADER]: this.options.gatewaySecret } : {}),
          ...(context.userAgent ? { 'user-agent': context.userAgent } : {}),
        },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw (error as Error).name === 'TimeoutError'
        ? new GatehouseError('gateway_timeout', 'The authentication service did not answer in time')
        : new GatehouseError('bad_gateway', 'The authentication service is unavailable');
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.status !== 200) {
      if (response.status >= 400 && response.status < 500 && body !== undefined) {
        throw new ExchangeRefused(response.status, body);
      }
      throw new GatehouseError('bad_gateway', 'The authentication service failed to issue a token');
    }
    const accessToken = (body as { access_token?: unknown } | undefined)?.access_token;
    const identity =
      typeof accessToken === 'string' ? await this.options.inspector.inspect(accessToken) : undefined;
    if (typeof accessToken !== 'string' || !identity) {
      throw new GatehouseError(
        'bad_gateway',
        'The authentication service issued a token the gateway cannot verify',
      );
    }
    return { accessToken, identity };
  }
}
