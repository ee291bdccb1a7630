import { mountHolding } from '@flydr/dr-core';
import type { FlyClient, MachineGuest } from '@flydr/fly-client';

/** The size of the app's database machine, used to ask Fly where another one fits. */
export interface AppShape {
  orgSlug: string;
  /** Guest of the machine that mounts the database volume, when one was found. */
  guest: MachineGuest | undefined;
  /** Size of that machine's volume, in bytes, when found. */
  volumeSizeBytes: number | undefined;
  /** Region of that machine. */
  region: string | undefined;
}

/**
 * Finds the app's organization and the guest and volume size of the machine that mounts
 * the database: the started one when there is one, else any that mounts it.
 */
export async function readAppShape(
  client: FlyClient,
  app: string,
  databasePath: string | undefined,
): Promise<AppShape> {
  const details = await client.apps.get(app);
  const orgSlug = details.organization?.slug ?? 'personal';
  if (databasePath === undefined) {
    return { orgSlug, guest: undefined, volumeSizeBytes: undefined, region: undefined };
  }

  const machines = (await client.machines.list(app)).filter(
    (machine) => mountHolding(machine, databasePath) !== undefined,
  );
  const machine = machines.find((m) => m.state === 'started') ?? machines[0];
  const volumeId = machine === undefined ? undefined : mountHolding(machine, databasePath)?.volume;
  const volume =
    volumeId === undefined || volumeId === null
      ? undefined
      : await client.volumes.get(app, volumeId);
  return {
    orgSlug,
    guest: machine?.config?.guest ?? undefined,
    volumeSizeBytes: typeof volume?.size_gb === 'number' ? volume.size_gb * 1024 ** 3 : undefined,
    region: machine?.region ?? undefined,
  };
}
