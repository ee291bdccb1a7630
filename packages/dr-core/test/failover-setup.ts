import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type {
  MachineTransport,
  MachineTransportFactory,
  TransferOptions,
} from '@flydr/fly-client/transport';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { type DrError, isDrError } from '../src/errors.js';
import type { FailoverRunOptions } from '../src/failover-types.js';

/** Run options for the sim: its per-machine health URL, quick polls, short budgets. */
export function simRunOptions(sim: Sim, extra: FailoverRunOptions = {}): FailoverRunOptions {
  return {
    healthUrl: (machine) => sim.appWriter(machine.id).healthUrl(),
    healthPollMs: 20,
    healthTimeoutMs: 10_000,
    startTimeoutMs: 10_000,
    ...extra,
  };
}

/** Row ids in the `writes` table of the database on a machine's volume. */
export function volumeIds(sim: Sim, app: string, machineId: string): number[] {
  const dir = sim.app(app).machine(machineId).volumeDir as string;
  const path = join(dir, 'app.db');
  if (!existsSync(path)) {
    return [];
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM writes ORDER BY id').all() as { id: number }[]).map(
      (row) => row.id,
    );
  } finally {
    db.close();
  }
}

/** Ids of `committed` that are not in `present`. */
export function missing(committed: readonly number[], present: readonly number[]): number[] {
  const set = new Set(present);
  return committed.filter((id) => !set.has(id));
}

/** Awaits a promise that must reject with a DrError, and returns the error. */
export async function rejection(promise: Promise<unknown>): Promise<DrError> {
  try {
    await promise;
  } catch (error) {
    if (isDrError(error)) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a rejection');
}

/** Waits until a machine's app has committed `count` more rows than it had. */
export async function waitForMoreRows(sim: Sim, machineId: string, count: number): Promise<void> {
  const start = sim.appWriter(machineId).committedIds().length;
  const deadline = Date.now() + 10_000;
  while (sim.appWriter(machineId).committedIds().length < start + count) {
    if (Date.now() > deadline) {
      throw new Error(`the app on ${machineId} committed fewer than ${count} new rows in 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Wraps a transport factory so every upload and download gives up after `idleTimeoutMs`
 * without data, instead of the transport's default, so a cut connection fails fast.
 */
export function withIdleTimeout(
  factory: MachineTransportFactory,
  idleTimeoutMs: number,
): MachineTransportFactory {
  return async (machine) => {
    const transport = await factory(machine);
    const wrapped: MachineTransport = {
      kind: transport.kind,
      machineId: transport.machineId,
      stat: (path, options) => transport.stat(path, options),
      readRange: (path, offset, length, options) =>
        transport.readRange(path, offset, length, options),
      upload: (local: string, remote: string, options: TransferOptions = {}) =>
        transport.upload(local, remote, { idleTimeoutMs, ...options }),
      download: (remote: string, local: string, options: TransferOptions = {}) =>
        transport.download(remote, local, { idleTimeoutMs, ...options }),
      rename: (from, to, options) => transport.rename(from, to, options),
      remove: (path, options) => transport.remove(path, options),
      exec: (argv, options) => transport.exec(argv, options),
      close: () => transport.close(),
    };
    return wrapped;
  };
}
