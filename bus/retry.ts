/** Backoff between attempts of a failing handler, shared by the bus adapters. */

export interface RetryBackoff {
  /** Delay before the first retry, ms. */
  initialMs: number;
  /** Upper bound of the delay, ms. */
  maxMs: number;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 100, maxMs: 10_000 };

/** Returns the delay before retry number `attempt` (1-based): doubles per attempt up to `maxMs`. */
export function retryDelayMs(attempt: number, backoff: RetryBackoff): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(backoff.initialMs * 2 ** exponent, backoff.maxMs);
}
