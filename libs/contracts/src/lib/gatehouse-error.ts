import { ERROR_STATUS, type ErrorCode } from './error-codes';

/**
 * The typed exception every layer throws. The HTTP status is derived from the code so that a code can never be
 * sent with two different statuses.
 */
export class GatehouseError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'GatehouseError';
    this.status = ERROR_STATUS[code];
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}
