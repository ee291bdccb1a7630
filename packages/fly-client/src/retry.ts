import {
  FlyApiError,
  FlyInputError,
  FlyNetworkError,
  FlyRateLimitError,
  FlyTimeoutError,
} from './errors.js';

/** Bounds of the retry loop for idempotent calls. */
export interface RetryPolicy {
  /** Attempts in total, the first one included. @default 4 */
  maxAttempts: number;
  /** Delay before the second attempt, doubled for each later one, before jitter. @default 250 */
  baseDelayMs: number;
  /** Upper bound of one backoff delay; a longer Retry-After ends the retries. @default 8000 */
  maxDelayMs: number;
  /** Budget from the first attempt; no retry starts that would end its delay later. @default 30000 */
  maxElapsedMs: number;
}

/** Defaults used when the client options leave a field out. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxElapsedMs: 30_000,
});

/** HTTP statuses that mean "try again later" without the request having taken effect. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Merges caller overrides into the defaults and checks every field.
 *
 * @throws FlyInputError (`FLY_INVALID_INPUT`) when a field is not a finite number in range.
 */
export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  const checks: [keyof RetryPolicy, number][] = [
    ['maxAttempts', 1],
    ['baseDelayMs', 0],
    ['maxDelayMs', 0],
    ['maxElapsedMs', 0],
  ];
  for (const [field, min] of checks) {
    const value = policy[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new FlyInputError(
        `retry.${field}`,
        `invalid retry.${field} ${String(value)}: expected a number of at least ${min}`,
        'Leave the field out to use its default.',
      );
    }
  }
  policy.maxAttempts = Math.floor(policy.maxAttempts);
  return policy;
}

/**
 * Returns true when an error from one attempt may be retried: a network failure, a client
 * timeout, a 429, or a 502/503/504. Everything else (4xx, other 5xx, bad responses, aborts,
 * input errors) is final.
 */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof FlyNetworkError || error instanceof FlyRateLimitError) return true;
  if (error instanceof FlyTimeoutError) return error.status === undefined;
  return error instanceof FlyApiError && RETRYABLE_STATUSES.has(error.status ?? 0);
}

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP date. Returns milliseconds, or
 * undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);

  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Backoff before attempt `attempt + 1` (attempt counts from 1): base × 2^(attempt-1), capped at
 * maxDelayMs, then "equal jitter" that keeps between half and all of it, so concurrent clients
 * spread out but never retry at once.
 */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** Facts about one call that the retry loop decides on. */
export interface RetryContext {
  policy: RetryPolicy;
  /** False for calls that create or run something; those are never retried. */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  /** Called before each wait, for logging. */
  onRetry?: ((info: { attempt: number; delayMs: number; error: unknown }) => void) | undefined;
  random?: (() => number) | undefined;
}

/**
 * Runs `attempt` until it succeeds or a retry is not allowed.
 *
 * Decision order after a failed attempt:
 * 1. an aborted signal ends the loop with the signal's reason;
 * 2. a call that is not idempotent ends the loop with its error;
 * 3. an error that {@link isRetryableError} rejects ends the loop;
 * 4. the last allowed attempt ends the loop;
 * 5. the delay is Retry-After when the error carries one, else backoff. A Retry-After above
 *    maxDelayMs ends the loop, because waiting less than Fly requested would earn another 429;
 * 6. a delay that would end past maxElapsedMs ends the loop;
 * 7. otherwise wait (abortable) and try again.
 *
 * @throws the last attempt's error, or the signal's reason when aborted.
 */
export async function withRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  context: RetryContext,
): Promise<T> {
  const started = Date.now();

  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (context.signal?.aborted) throw context.signal.reason;

      if (!context.idempotent || !isRetryableError(error)) throw error;
      if (attemptNumber >= context.policy.maxAttempts) throw error;

      const retryAfter = error instanceof FlyApiError ? error.retryAfterMs : undefined;
      if (retryAfter !== undefined && retryAfter > context.policy.maxDelayMs) throw error;
      const delayMs = retryAfter ?? backoffDelayMs(attemptNumber, context.policy, context.random);
      if (Date.now() - started + delayMs > context.policy.maxElapsedMs) throw error;

      context.onRetry?.({ attempt: attemptNumber, delayMs, error });
      await sleep(delayMs, context.signal);
    }
  }
}

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts first.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
