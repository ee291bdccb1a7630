import type { SimRateLimit } from './options.js';

/** One API request that the sim handled. */
export interface SimRequest {
  /** Route action, the rate-limit name, e.g. "machines.list". */
  action: string;
  /** Rate-limit key: the machine id, volume id or app name in the path. */
  key: string;
  method: string;
  /** Path without the origin or query. */
  path: string;
  /** Status of the response; 0 for a reset connection. */
  status: number;
  /** When the sim received the request, in milliseconds since the epoch. */
  receivedAt: number;
  /** Fly's documented rate limit of the route, whether or not the sim enforces it. */
  rate: SimRateLimit;
}

/** Requests of one action and key, see {@link RequestLog.summary}. */
export interface SimRequestSummary {
  action: string;
  key: string;
  /** Fly's documented rate limit of the action. */
  rate: SimRateLimit;
  count: number;
  /** Largest number of requests received within any window of the summary's length. */
  maxInWindow: number;
  /** Responses with status 429. */
  throttled: number;
}

/**
 * @default 100,000 requests (an estimated 20 MB), so a long demo run keeps its memory bounded.
 */
export const DEFAULT_REQUEST_LOG_SIZE = 100_000;

/**
 * The sim's record of the API requests it handled, oldest first, so tests can count them
 * per route and check them against Fly's rate limits. Past `maxEntries` the oldest go.
 */
export class RequestLog {
  private readonly entries: SimRequest[] = [];
  private droppedCount = 0;

  constructor(private readonly maxEntries = DEFAULT_REQUEST_LOG_SIZE) {}

  /** Number of requests dropped because the log was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Adds one handled request. */
  record(request: SimRequest): void {
    this.entries.push(request);
    if (this.entries.length > this.maxEntries) {
      this.entries.shift();
      this.droppedCount += 1;
    }
  }

  /** Returns a copy of the recorded requests, oldest first. */
  list(): SimRequest[] {
    return [...this.entries];
  }

  /** Forgets every recorded request. */
  clear(): void {
    this.entries.length = 0;
    this.droppedCount = 0;
  }

  /**
   * Counts the requests per action and key: the total, the 429 responses and the largest
   * number received within any `windowMs` (a window starts at a request and ends before
   * `windowMs` has passed).
   *
   * @throws RangeError when `windowMs` is not a number above 0.
   */
  summary(windowMs = 1_000): SimRequestSummary[] {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new RangeError(`invalid windowMs ${windowMs}: expected milliseconds above 0`);
    }
    const groups = new Map<string, SimRequest[]>();
    for (const entry of this.entries) {
      const id = `${entry.action}\n${entry.key}`;
      const group = groups.get(id);
      if (group === undefined) groups.set(id, [entry]);
      else group.push(entry);
    }
    return [...groups.values()].map((group) => summarize(group, windowMs));
  }
}

function summarize(group: SimRequest[], windowMs: number): SimRequestSummary {
  const first = group[0] as SimRequest;
  const times = group.map((entry) => entry.receivedAt).sort((a, b) => a - b);

  // Two pointers: for each request, count the requests from it up to windowMs later.
  let maxInWindow = 0;
  let end = 0;
  for (let start = 0; start < times.length; start += 1) {
    while (end < times.length && (times[end] as number) - (times[start] as number) < windowMs) {
      end += 1;
    }
    maxInWindow = Math.max(maxInWindow, end - start);
  }

  return {
    action: first.action,
    key: first.key,
    rate: first.rate,
    count: group.length,
    maxInWindow,
    throttled: group.filter((entry) => entry.status === 429).length,
  };
}
