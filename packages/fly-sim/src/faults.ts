/** A response to inject for matching API requests. */
export interface FaultSpec {
  /** HTTP method to match, any when omitted. */
  method?: string;
  /**
   * Request path to match (without the origin or query). A RegExp is tested against the
   * path; a string matches the whole path, where `:name` matches one segment and `*` any text,
   * e.g. "/v1/apps/:app/machines/:id/start".
   */
  path: RegExp | string;
  /** Status of the injected response, sent instead of the real handler's. */
  status?: number;
  /** Body of the injected response: objects are sent as JSON, strings as text. */
  body?: unknown;
  /** Delay before the response (or before the real handler runs, when no status is set). */
  delayMs?: number;
  /**
   * Delay after the real handler ran, before its response is sent, as when Fly acted on a
   * request but the response comes late or not at all (the client gives up first).
   */
  delayResponseMs?: number;
  /** Reset the connection instead of sending a response. */
  reset?: boolean;
  /** How many matching requests the fault applies to. @default 1 */
  times?: number;
}

/** Handle of an injected fault. */
export interface FaultHandle {
  /** How many requests the fault has applied to so far. */
  readonly hits: number;
  /** Removes the fault before it is used up. */
  remove(): void;
}

interface ActiveFault {
  spec: FaultSpec;
  pattern: RegExp;
  remaining: number;
  hits: number;
}

function pathPattern(path: RegExp | string): RegExp {
  if (path instanceof RegExp) return path;
  const escaped = path
    .split('*')
    .map((part) =>
      part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '[^/]+'),
    )
    .join('.*');
  return new RegExp(`^${escaped}$`);
}

/** The injected faults, consulted by every route before its handler runs. */
export class FaultRegistry {
  private readonly faults: ActiveFault[] = [];

  /**
   * Adds a fault.
   *
   * @throws Error when the spec sets none of status, reset, delayMs and delayResponseMs, or
   *   `times` is not positive.
   */
  inject(spec: FaultSpec): FaultHandle {
    if (
      spec.status === undefined &&
      spec.reset !== true &&
      spec.delayMs === undefined &&
      spec.delayResponseMs === undefined
    ) {
      throw new Error(
        'injectFault needs status, reset or delayMs (or delayResponseMs); set one of them',
      );
    }
    const times = spec.times ?? 1;
    if (!(times > 0)) throw new Error(`injectFault times must be positive, got ${times}`);

    const fault: ActiveFault = { spec, pattern: pathPattern(spec.path), remaining: times, hits: 0 };
    this.faults.push(fault);
    return {
      get hits() {
        return fault.hits;
      },
      remove: () => {
        const index = this.faults.indexOf(fault);
        if (index >= 0) this.faults.splice(index, 1);
      },
    };
  }

  /** Takes one use of the first fault that matches the request, if any. */
  take(method: string, path: string): FaultSpec | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.spec.method === undefined || f.spec.method.toUpperCase() === method.toUpperCase()) &&
        f.pattern.test(path),
    );
    if (fault === undefined) return undefined;

    fault.remaining -= 1;
    fault.hits += 1;
    if (fault.remaining <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault.spec;
  }
}
