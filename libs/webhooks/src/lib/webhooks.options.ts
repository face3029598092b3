import type { UrlPolicy } from './url-safety';

export interface WebhookDeliveryOptions {
  /** False: this instance delivers nothing (another replica does, or deliveries wait). */
  enabled: boolean;
  pollIntervalMs: number;
  timeoutMs: number;
  /** Delay before the first retry; each later one is 4 times longer (see retryDelayMs). */
  retryBaseMs: number;
  maxAttempts: number;
  /** How often keys about to expire are looked for (`api_key.expiring`). */
  expiryCheckIntervalMs: number;
  /** Delivered and failed deliveries (with their attempts) older than this are deleted; pending ones never. */
  retentionDays: number;
}

export interface WebhooksOptions {
  /** 32 bytes: seals endpoint secrets at rest (AES-256-GCM). */
  encryptionKey: Buffer;
  urlPolicy: UrlPolicy;
  delivery: WebhookDeliveryOptions;
}

export const WEBHOOKS_OPTIONS = Symbol('WEBHOOKS_OPTIONS');

/** Receivers per organization. */
export const WEBHOOK_ENDPOINTS_MAX = 20;
export const EXPIRING_WITHIN_DAYS_DEFAULT = 7;
