import { createFlyClient } from '@flydr/fly-client';
import type { CapacityErrorShapeName, FaultSpec, Sim, SimOptions } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { reportError } from '../packages/cli/src/error-exit.js';
import type { ExitCodeValue } from '../packages/cli/src/exit-codes.js';
import {
  type SimContext,
  seedApp,
  startTestSim,
  waitForRows,
} from '../packages/dr-core/test/sim-setup.js';

// Setup shared by the fault-matrix files: a sim per test, an app whose client retries
// quickly, and the checks every cell repeats.

export { ExitCode } from '../packages/cli/src/exit-codes.js';
export {
  missing,
  rejection,
  simRunOptions,
  volumeIds,
} from '../packages/dr-core/test/failover-setup.js';
export { type SimContext, waitForRows } from '../packages/dr-core/test/sim-setup.js';

/** A seeded app together with the sim that serves it. */
export interface FaultContext extends SimContext {
  sim: Sim;
}

const openSims = new Set<Sim>();

/**
 * Starts a sim and seeds an app with one started machine in nrt that has committed 10 rows.
 * Its client retries quickly (5 attempts, 20-200 ms apart) and times out each request after
 * `timeoutMs`. {@link closeFaultSims} closes the sim.
 */
export async function setUpFaultApp(
  options: SimOptions = {},
  timeoutMs = 30_000,
): Promise<FaultContext> {
  const sim = await startTestSim(options);
  openSims.add(sim);
  const client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
    timeoutMs,
    retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
  });
  const ctx = await seedApp(sim, { extra: { client } });
  await waitForRows(sim, ctx.machineId, 10);
  return { ...ctx, sim };
}

/** Closes every sim that {@link setUpFaultApp} started. Call it in `afterEach`. */
export async function closeFaultSims(): Promise<void> {
  const sims = [...openSims];
  openSims.clear();
  await Promise.all(sims.map((sim) => sim.close()));
}

/** Exit code that the `flydr` command ends with for this error. */
export function exitCodeOf(error: unknown): ExitCodeValue {
  return reportError(error).exitCode;
}

/** Awaits a promise that must reject with a coded error (DrError, FlyError or TransportError). */
export async function anyRejection(promise: Promise<unknown>): Promise<Error & { code: string }> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(caught instanceof Error) || typeof (caught as { code?: unknown }).code !== 'string') {
    throw new Error(`expected a rejection with a code, got ${String(caught)}`);
  }
  return caught as Error & { code: string };
}

/** Row ids in the `writes` table of a local database file. */
export function databaseIds(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM writes ORDER BY id').all() as { id: number }[]).map(
      (row) => row.id,
    );
  } finally {
    db.close();
  }
}

/** Bodies the sim sends on a machine create when a region has no room for a machine. */
export const machineCapacityShapes: readonly CapacityErrorShapeName[] = [
  'create-with-volume-412',
  'reserve-resource-409',
  'insufficient-capacity-status',
];

/** Bodies the sim sends on a volume create when a region has no room for a volume. */
export const volumeCapacityShapes: readonly CapacityErrorShapeName[] = [
  'volume-placement-status',
  'volume-insufficient-resources',
];

/** One 412 on a machine update, as Fly returns while the machine is being replaced. */
export const replacing412: FaultSpec = {
  method: 'POST',
  path: '/v1/apps/:app/machines/:id',
  status: 412,
  body: { error: 'failed_precondition: machine is replacing, try again' },
  times: 1,
};

/**
 * Returns the seed for the random parts of a cell: `FLYDR_FAULT_SEED` when it is set (to
 * replay a failure), else a fresh one. Print it with the test so a failure can be replayed.
 *
 * @throws Error when `FLYDR_FAULT_SEED` is not a non-negative integer.
 */
export function faultSeed(): number {
  const text = process.env.FLYDR_FAULT_SEED;
  if (text === undefined || text === '') {
    return Math.floor(Math.random() * 2 ** 31);
  }
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(
      `invalid FLYDR_FAULT_SEED ${JSON.stringify(text)}: expected a non-negative integer`,
    );
  }
  return seed;
}

/** Random numbers in [0, 1) from a 32-bit seed (mulberry32), the same for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
