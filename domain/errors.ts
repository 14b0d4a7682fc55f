/**
 * Coded errors of the service. The `status` string is what REST replies and fork outcomes carry;
 * the HTTP code follows from it. `retryable` tells consumers whether a later attempt may succeed.
 */

export const STATUS_CODES = {
  ok: 200,
  accepted: 202,
  'already-exists': 409,
  'type-conflict': 409,
  'name-required': 400,
  'invalid-room-id': 400,
  'invalid-option': 400,
  'invalid-request': 400,
  'invalid-stream-id': 400,
  'invalid-session-id': 400,
  'invalid-role': 400,
  'invalid-state': 400,
  'invalid-type': 400,
  'invalid-uri': 400,
  'invalid-region': 400,
  'invalid-capability': 400,
  unauthorized: 401,
  'not-found': 404,
  'request-timeout': 408,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'headers-too-large': 431,
  'origin-stream-ended': 422,
  'origin-not-found': 422,
  capacity: 503,
  timeout: 504,
  'internal-error': 500,
} as const;

export type Status = keyof typeof STATUS_CODES;

const RETRYABLE: ReadonlySet<Status> = new Set(['capacity', 'timeout', 'internal-error']);

export class ServiceError extends Error {
  readonly status: Status;
  readonly retryable: boolean;
  /** True when valid credentials touched another application's room (HTTP 403). */
  readonly forbidden: boolean;

  constructor(
    status: Status,
    message: string,
    options: { cause?: unknown; forbidden?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ServiceError';
    this.status = status;
    this.retryable = RETRYABLE.has(status);
    this.forbidden = options.forbidden ?? false;
  }

  get httpCode(): number {
    return httpCodeOf(this.status, this.forbidden);
  }
}

/**
 * Maps a status to its HTTP code. `unauthorized` is 401 for missing or wrong credentials; a
 * valid caller touching another application's room gets 403 with the same status string, which
 * callers signal with `forbidden: true`.
 */
export function httpCodeOf(status: string, forbidden = false): number {
  if (status === 'unauthorized' && forbidden) {
    return 403;
  }
  if (isStatus(status)) {
    return STATUS_CODES[status];
  }
  if (status.startsWith('invalid-')) {
    return 400;
  }
  return 500;
}

/**
 * Returns whether the string is one of the coded statuses. Own keys only, because `in` would
 * also match inherited names such as `constructor`.
 */
export function isStatus(status: string): status is Status {
  return Object.hasOwn(STATUS_CODES, status);
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError;
}
