/** How long each machine transition takes, in milliseconds. */
export interface SimLatencies {
  /** From `created` to `starting` after a create that launches. */
  createMs: number;
  /** From `starting` to `started`. */
  startMs: number;
  /** From `stopping` to `stopped`. */
  stopMs: number;
  /** From `replacing` to the new version's next state on update. */
  updateMs: number;
  /** From `suspending` to `suspended`. */
  suspendMs: number;
  /** From `destroying` to `destroyed`. */
  destroyMs: number;
}

/** Transitions on the next timer tick: for tests. */
export const INSTANT_LATENCIES: SimLatencies = {
  createMs: 0,
  startMs: 0,
  stopMs: 0,
  updateMs: 0,
  suspendMs: 0,
  destroyMs: 0,
};

/** Latencies of the order seen on Fly for a small machine: for the demo. */
export const REALISTIC_LATENCIES: SimLatencies = {
  createMs: 400,
  startMs: 1_500,
  stopMs: 1_000,
  updateMs: 2_500,
  suspendMs: 1_500,
  destroyMs: 800,
};

/** One row of the simulated region table. */
export interface SimRegionSpec {
  /** Three-letter region code, e.g. "nrt". */
  code: string;
  name?: string;
  /** How many machines may run in this region at once, across all apps. @default Infinity */
  machines?: number;
  /** How many volumes may exist in this region, across all apps. @default Infinity */
  volumes?: number;
}

/** Spec of a machine image: its tools and the app's database path. */
export interface SimImageSpec {
  /** Whether `sqlite3` exists on the image. @default true */
  sqlite3?: boolean;
  /**
   * Path of the app's database on the machine. The app's env `DATABASE_PATH` wins over it.
   * @default "app.db" inside the machine's mount
   */
  databasePath?: string;
}

/** Requests allowed per action, as a token bucket. */
export interface SimRateLimit {
  perSecond: number;
  burst: number;
}

/** Options of {@link startSim}. */
export interface SimOptions {
  /** The API token the sim accepts, sent as `Bearer` or `FlyV1`. @default a random token */
  token?: string;
  /** Organization slug that new apps belong to. @default "personal" */
  orgSlug?: string;
  /** The region table. @default nrt, sin, iad, ord, lhr, fra, syd, ams with no capacity limit */
  regions?: SimRegionSpec[];
  /** Transition latencies: a preset name or milliseconds per transition. @default "instant" */
  latencies?: 'instant' | 'realistic' | Partial<SimLatencies>;
  /**
   * Per-action rate limiting that returns 429. `true` uses Fly's documented limits
   * (1 request/s with bursts of 3, Get Machine 5/s with bursts of 10). @default false
   */
  rateLimit?: boolean | SimRateLimit;
  /** Milliseconds after a create during which the API returns 404 for the new machine. @default 0 */
  notFoundAfterCreateMs?: number;
  /**
   * Whether an update of a machine that is still `replacing` (its previous update not done)
   * gets 412 `failed_precondition`, as Fly can return. @default false (the update is applied)
   */
  rejectUpdatesWhileReplacing?: boolean;
  /**
   * Capacity error body to send: "rotate" cycles through every shape Fly is known to
   * send for the operation, or pin one shape by name. @default "rotate"
   */
  capacityErrors?: 'rotate' | CapacityErrorShapeName;
  /** Image specs by image reference (the `config.image` string). */
  images?: Record<string, SimImageSpec>;
  /** Spec of every image not named in `images`. @default { sqlite3: true } */
  defaultImage?: SimImageSpec;
  /** Milliseconds between two rows the simulated app inserts. @default 25 */
  writeIntervalMs?: number;
  /** SSH port of every machine (on its own loopback address). @default a free port */
  sshPort?: number;
  /** authorized_keys lines that may log in as root on every machine. */
  authorizedKeys?: string[];
  /** Folder that contains volumes and snapshots. @default a new temporary folder, removed on close */
  dataDir?: string;
}

/** Names of the capacity error bodies, see `capacity-errors.ts`. */
export type CapacityErrorShapeName =
  | 'create-with-volume-412'
  | 'reserve-resource-409'
  | 'insufficient-capacity-status'
  | 'volume-placement-status'
  | 'volume-insufficient-resources';

/** Resolves the latency option to milliseconds per transition. */
export function resolveLatencies(option: SimOptions['latencies']): SimLatencies {
  if (option === undefined || option === 'instant') return { ...INSTANT_LATENCIES };
  if (option === 'realistic') return { ...REALISTIC_LATENCIES };
  return { ...INSTANT_LATENCIES, ...option };
}

/** The region table used when the options name none. */
export const DEFAULT_REGIONS: ReadonlyArray<Required<Pick<SimRegionSpec, 'code' | 'name'>>> = [
  { code: 'nrt', name: 'Tokyo, Japan' },
  { code: 'sin', name: 'Singapore, Singapore' },
  { code: 'iad', name: 'Ashburn, Virginia (US)' },
  { code: 'ord', name: 'Chicago, Illinois (US)' },
  { code: 'lhr', name: 'London, United Kingdom' },
  { code: 'fra', name: 'Frankfurt, Germany' },
  { code: 'syd', name: 'Sydney, Australia' },
  { code: 'ams', name: 'Amsterdam, Netherlands' },
];
