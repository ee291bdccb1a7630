import { FlyInputError } from './errors.js';
import { sleep } from './retry.js';

/**
 * Token-bucket rates for the client-side limiter. Fly publishes 1 request/s per action with
 * bursts to 3 for most calls, keyed per machine or per app, and 5 requests/s with bursts to 10
 * for getting one machine. The defaults match those limits.
 */
export interface RateLimitOptions {
  /** Requests per second for one action on one machine or app. @default 1 */
  perSecond: number;
  /** Burst size for one action on one machine or app. @default 3 */
  burst: number;
  /** Requests per second for getting one machine. @default 5 */
  getMachinePerSecond: number;
  /** Burst size for getting one machine. @default 10 */
  getMachineBurst: number;
  /**
   * Extra milliseconds a queued request waits beyond its token. Fly counts a request when it
   * arrives, not when flydr queued it, so an earlier request that spent longer on the way
   * (opening its connection, a busy event loop) would otherwise leave a later one inside the
   * same window. @default 250
   */
  queueMarginMs: number;
}

/** Defaults that match Fly's published limits. */
export const DEFAULT_RATE_LIMITS: Readonly<RateLimitOptions> = Object.freeze({
  perSecond: 1,
  burst: 3,
  getMachinePerSecond: 5,
  getMachineBurst: 10,
  queueMarginMs: 250,
});

/** Published limit that applies to a call. */
export type RateClass = 'action' | 'getMachine';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Above this many buckets, full (idle) ones are dropped so memory stays bounded. */
const PRUNE_THRESHOLD = 1_000;

/**
 * Client-side token buckets, one per action and machine (or app), so flydr's own bursts stay
 * inside Fly's limits and do not earn 429s.
 */
export class RateLimiter {
  readonly #limits: RateLimitOptions;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  /**
   * @throws FlyInputError (`FLY_INVALID_INPUT`) when a rate or burst is not a number above 0,
   * or the queue margin is negative.
   */
  constructor(overrides: Partial<RateLimitOptions> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...overrides };
    for (const [field, value] of Object.entries(this.#limits)) {
      const mayBeZero = field === 'queueMarginMs';
      const inRange = typeof value === 'number' && (mayBeZero ? value >= 0 : value > 0);
      if (!inRange || !Number.isFinite(value)) {
        const expected = mayBeZero ? '0 or more' : 'a number above 0';
        throw new FlyInputError(
          `rateLimit.${field}`,
          `invalid rateLimit.${field} ${String(value)}: expected ${expected}`,
          'Leave the field out to use Fly’s published limit, or pass rateLimit: false.',
        );
      }
    }
    this.#now = now;
  }

  /**
   * Milliseconds to wait before a request under `key` may go, and reserves its token.
   * Returns 0 when a token is free now, else the wait for its token plus the queue margin.
   */
  reserve(key: string, rateClass: RateClass): number {
    const { rate, burst } = this.#limitsFor(rateClass);
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: burst, updatedAt: now };

    // Refill for the time since the last update, then take one token. A negative balance is
    // the queue of callers already waiting, so each caller waits for its own token.
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate);
    bucket.updatedAt = now;
    bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    this.#prune(now);

    if (bucket.tokens >= 0) return 0;
    return Math.ceil((-bucket.tokens / rate) * 1000) + this.#limits.queueMarginMs;
  }

  /**
   * Waits until a request under `key` may go.
   *
   * @throws the signal's reason when it aborts while waiting.
   */
  async acquire(key: string, rateClass: RateClass, signal?: AbortSignal): Promise<number> {
    const waitMs = this.reserve(key, rateClass);
    if (waitMs > 0) await sleep(waitMs, signal);
    return waitMs;
  }

  #limitsFor(rateClass: RateClass): { rate: number; burst: number } {
    return rateClass === 'getMachine'
      ? { rate: this.#limits.getMachinePerSecond, burst: this.#limits.getMachineBurst }
      : { rate: this.#limits.perSecond, burst: this.#limits.burst };
  }

  #prune(now: number): void {
    if (this.#buckets.size <= PRUNE_THRESHOLD) return;
    for (const [key, bucket] of this.#buckets) {
      const idleSeconds = (now - bucket.updatedAt) / 1000;
      if (bucket.tokens + idleSeconds * this.#limits.perSecond >= this.#limits.burst) {
        this.#buckets.delete(key);
      }
    }
  }
}
