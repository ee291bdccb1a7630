import { setTimeout as sleep } from 'node:timers/promises';
import { FlyRateLimitError, isFlyError } from '@flydr/fly-client';
import { messageOf } from './errors.js';
import type { DrLogger } from './logger.js';

/** Options of {@link retryRateLimited}. */
export interface StepRetryOptions {
  /** Runs of the step in all. @default 5 */
  maxRuns?: number;
  /** Pause before the second run; it doubles after each run. @default 250 */
  baseDelayMs?: number;
  /** Maximum pause. @default 10000 */
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs an idempotent step again from its start when it failed because Fly kept returning
 * 429 beyond the client's own retries, pausing for Retry-After (or a doubling backoff).
 * Failover steps are written to be re-run after a crash, so a re-run after a rate-limit
 * storm is safe; rolling the whole operation back would cost more calls.
 *
 * @throws the step's error when it is not a rate limit or the runs are used up.
 */
export async function retryRateLimited<T>(
  step: string,
  logger: DrLogger,
  fn: () => Promise<T>,
  options: StepRetryOptions = {},
): Promise<T> {
  const maxRuns = options.maxRuns ?? 5;
  let delayMs = options.baseDelayMs ?? 250;
  for (let run = 1; ; run += 1) {
    try {
      return await fn();
    } catch (error) {
      if (run >= maxRuns || !isFlyError(error, 'FLY_RATE_LIMITED')) {
        throw error;
      }
      const retryAfter = error instanceof FlyRateLimitError ? error.retryAfterMs : undefined;
      const pauseMs = Math.min(retryAfter ?? delayMs, options.maxDelayMs ?? 10_000);
      logger.warn('step hit the Fly rate limit; running it again', {
        step,
        run,
        pause_ms: pauseMs,
        error: messageOf(error),
      });
      await sleep(
        pauseMs,
        undefined,
        options.signal === undefined ? {} : { signal: options.signal },
      );
      delayMs *= 2;
    }
  }
}
