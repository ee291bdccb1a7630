import type { SimRateLimit } from './options.js';

/** Fly's documented default: 1 request/s per action with bursts of 3. */
export const FLY_DEFAULT_RATE: SimRateLimit = { perSecond: 1, burst: 3 };

/** Fly's documented limit for Get Machine: 5 requests/s with bursts of 10. */
export const FLY_GET_MACHINE_RATE: SimRateLimit = { perSecond: 5, burst: 10 };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Token buckets per action and key (a machine id or an app name). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Takes a token for one request.
   *
   * @returns 0 when allowed, else the milliseconds until a token is free.
   */
  take(key: string, rate: SimRateLimit, now = Date.now()): number {
    const bucket = this.buckets.get(key) ?? { tokens: rate.burst, updatedAt: now };
    bucket.tokens = Math.min(
      rate.burst,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate.perSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rate.perSecond) * 1000);
  }
}
