import { setTimeout as sleep } from 'node:timers/promises';
import { FlyApiError, isFlyError } from '@flydr/fly-client';
import { DrError, messageOf } from './errors.js';
import type { FlyClient } from './fly-types.js';
import type { DrLogger } from './logger.js';

/** Options of {@link deleteDetachedVolume}. */
export interface VolumeDeleteOptions {
  /** Budget for the machine that mounts the volume to let it go, in milliseconds. @default 60000 */
  timeoutMs?: number;
  /** First pause between two deletes; it doubles up to 2 s. @default 200 */
  pollMs?: number;
  logger?: DrLogger;
}

/**
 * Deletes a volume that a machine destroyed moments ago may still hold. Fly rejects the
 * delete with 412 while the volume is attached, so the delete is sent again, with a doubling
 * pause, until it succeeds or `timeoutMs` has passed. A volume that is not found is gone
 * already, which counts as deleted.
 *
 * @throws DrError `DR_MACHINE_BUSY` naming the volume and the machine that still mounts it;
 *   the client's other FlyError classes.
 */
export async function deleteDetachedVolume(
  client: FlyClient,
  app: string,
  volumeId: string,
  options: VolumeDeleteOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let pauseMs = options.pollMs ?? 200;

  for (;;) {
    try {
      await client.volumes.delete(app, volumeId);
      return;
    } catch (error) {
      if (isFlyError(error, 'FLY_NOT_FOUND')) {
        return;
      }
      if (!(error instanceof FlyApiError) || error.status !== 412) {
        throw error;
      }
      if (Date.now() + pauseMs > deadline) {
        throw await stillAttachedError(client, app, volumeId, timeoutMs, error);
      }
      options.logger?.warn('volume is still attached; deleting it again after a pause', {
        app,
        volume_id: volumeId,
        pause_ms: pauseMs,
        error: messageOf(error),
      });
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, 2_000);
    }
  }
}

async function stillAttachedError(
  client: FlyClient,
  app: string,
  volumeId: string,
  timeoutMs: number,
  cause: FlyApiError,
): Promise<DrError> {
  const volume = await client.volumes.get(app, volumeId).catch(() => undefined);
  const machineId = volume?.attached_machine_id ?? undefined;
  const holder = machineId === undefined ? 'a machine' : `machine ${machineId}`;
  return new DrError(
    'DR_MACHINE_BUSY',
    `volume ${volumeId} of app ${app} is still attached to ${holder} after ${timeoutMs} ms, so it cannot be deleted (${messageOf(cause)})`,
    `Destroy ${holder} (fly machine destroy --force), then delete the volume with \`fly volumes destroy ${volumeId}\` or run the abort again.`,
    { volumeId, machineId, cause },
  );
}
