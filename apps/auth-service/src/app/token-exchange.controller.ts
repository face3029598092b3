import { Controller, Header, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { ClientIp, RequestId } from '@gatehouse/auth';
import { GatehouseError } from '@gatehouse/contracts';
import { hashApiKey } from '@gatehouse/crypto';
import { gatewayIdentityOf } from '@gatehouse/http';
import { TokenIssuanceService, type AccessTokenResponse } from '@gatehouse/token-issuance';

/** Exchanges per key and window: a gateway replica needs one per key every ~29 minutes, plus one per refusal. */
export const EXCHANGE_LIMIT = 60;
export const EXCHANGE_WINDOW_MS = 60_000;

interface Window {
  startedAt: number;
  count: number;
}

/**
 * Fixed windows per key hash, in this process's memory. Not @nestjs/throttler (not a dependency of the suite)
 * nor libs/rate-limit (the gateway's, out of auth-service's scope): only gateways call this route, each
 * already limiting per key, so this is a backstop against a caller hammering one key (a revoked key's
 * pipeline, or a leaked GATEWAY_SECRET) and per-process counting is enough. Bounded: at most 100,000 keys.
 */
export class ExchangeRateLimit {
  private readonly windows = new LRUCache<string, Window>({ max: 100_000 });

  constructor(
    private readonly limit = EXCHANGE_LIMIT,
    private readonly windowMs = EXCHANGE_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one exchange of the key; throws 429 with the seconds until its window ends when over the limit. */
  consume(keyHash: string): void {
    const now = this.now();
    let window = this.windows.get(keyHash);
    if (!window || now - window.startedAt >= this.windowMs) {
      window = { startedAt: now, count: 0 };
      this.windows.set(keyHash, window);
    }
    window.count += 1;
    if (window.count <= this.limit) return;
    const seconds = Math.max(1, Math.ceil((window.startedAt + this.windowMs - now) / 1000));
    throw new GatehouseError(
      'rate_limit_exceeded',
      `Too many token exchanges for this key. Please retry after ${seconds} second${seconds === 1 ? '' : 's'}.`,
      { retryAfter: seconds },
    );
  }
}

/**
 * Direct key authentication: the gateway exchanges an API key sent to the API (findings, keys, audit) for a token
 * here, with the key alone. Not a public route: the gateway never forwards `/internal`, and it stays out of the
 * published OpenAPI document. It answers the gateway only: a request without GATEWAY_SECRET gets 401, with a wrong
 * one 403, before the key is even looked at, so nothing else that can reach auth-service can turn a key into a
 * token (or learn anything about a key) here.
 */
@ApiExcludeController()
@Controller('internal/v1')
export class TokenExchangeController {
  private readonly limit = new ExchangeRateLimit();

  constructor(private readonly tokens: TokenIssuanceService) {}

  @Post('token-exchange')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  exchange(
    @Req() request: FastifyRequest,
    @Headers('x-api-key') apiKey: string | undefined,
    @ClientIp() ip: string,
    @Headers('user-agent') userAgent: string | undefined,
    @RequestId() requestId: string,
  ): Promise<AccessTokenResponse> {
    switch (gatewayIdentityOf(request)) {
      case 'absent':
        throw new GatehouseError('unauthorized', 'This route answers the Gatehouse gateway only');
      case 'wrong_secret':
        throw new GatehouseError('forbidden', 'This route answers the Gatehouse gateway only');
      case 'gateway':
        break;
    }
    if (typeof apiKey === 'string' && apiKey.length > 0) {
      this.limit.consume(hashApiKey(apiKey).toString('base64url'));
    }
    return this.tokens.authenticate({ apiKey, clientId: null, ip, userAgent, requestId });
  }
}
