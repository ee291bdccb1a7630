import { isFlyError } from '@flydr/fly-client';
import type { FlyClient, Machine } from './fly-types.js';

/**
 * How long after a create Fly may still return 404 for the new machine, in milliseconds.
 * NOTE: an estimate, because Fly documents no bound for this delay.
 */
export const NEW_MACHINE_NOT_FOUND_MS = 30_000;

/**
 * Reads a machine created at `createdAt` (Unix ms), sending the read again on 404 until
 * `windowMs` after the create. Only this read does so, because the client does not keep the
 * window: a later lease, metadata or lease-release call that gets 404 on purpose fails at
 * once instead of repeating for the whole window.
 *
 * @throws FlyNotFoundError when the machine is still not found after the window; the
 *   client's other FlyError classes.
 */
export async function getNewMachine(
  client: FlyClient,
  app: string,
  machineId: string,
  createdAt: number,
  options: { windowMs?: number; signal?: AbortSignal } = {},
): Promise<Machine> {
  const remainingMs = Math.ceil(
    createdAt + (options.windowMs ?? NEW_MACHINE_NOT_FOUND_MS) - Date.now(),
  );
  return client.machines.get(app, machineId, {
    ...(remainingMs > 0 ? { notFoundRetryMs: remainingMs } : {}),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/**
 * Reads a machine that this operation created at `createdAt`, or any machine when
 * `createdAt` is undefined, and returns undefined when it is not found (after the window
 * for a new one).
 *
 * @throws the client's FlyError classes other than FLY_NOT_FOUND.
 */
export async function findMachine(
  client: FlyClient,
  app: string,
  machineId: string,
  createdAt?: number,
): Promise<Machine | undefined> {
  try {
    return createdAt === undefined
      ? await client.machines.get(app, machineId)
      : await getNewMachine(client, app, machineId, createdAt);
  } catch (error) {
    if (isFlyError(error, 'FLY_NOT_FOUND')) return undefined;
    throw error;
  }
}
