import type { Volume } from '@flydr/fly-client';
import { isFlyError } from '@flydr/fly-client';
import { noCapacityError } from './capacity.js';
import { DrError } from './errors.js';
import { GENERATION_KEY, ROLE_KEY } from './failover-preflight.js';
import type { FlyClient, Machine, MachineConfig } from './fly-types.js';
import type { DrLogger } from './logger.js';
import { getNewMachine } from './new-machine.js';
import { validateRegions } from './regions.js';
import { mountHolding, selectSourceMachine } from './source-machine.js';

/** Options of {@link prepareStandby}. */
export interface StandbyOptions {
  /** Standby region, such as `sin`. */
  region: string;
  /** Volume name. @default the primary's mount name */
  volumeName?: string;
  /** Volume size in GB; never less than the primary's. @default the primary volume's size */
  sizeGb?: number;
  /** Also create a stopped standby machine cloned from the primary. @default false */
  machine?: boolean;
}

/** Volume and machine that {@link prepareStandby} found or created. */
export interface StandbyReport {
  region: string;
  primaryMachineId: string;
  volumeId: string;
  volumeName: string;
  sizeGb: number;
  createdVolume: boolean;
  machineId?: string;
  createdMachine?: boolean;
}

/**
 * Prepares a standby region with a volume at least as large as the primary's. The volume
 * is created with compute hints (the primary's guest and image), so Fly puts it on a host
 * that can run the machine. Optionally also creates a stopped machine (`skip_launch`,
 * metadata `flydr_role=standby`) from the primary's config and pinned image. It reuses what
 * exists, so a second run changes nothing.
 *
 * @throws DrError `DR_UNKNOWN_REGION`, `DR_INVALID_INPUT` (the primary's own region),
 *   `DR_NO_CAPACITY`, and the source selection errors.
 */
export async function prepareStandby(
  client: FlyClient,
  app: string,
  databasePath: string,
  options: StandbyOptions,
  logger: DrLogger,
): Promise<StandbyReport> {
  const { region } = options;
  await validateRegions(client, [region]);
  const primary = await selectSourceMachine(client, app, databasePath);
  if (primary.machine.region === region) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `region ${region} is the primary's own region`,
      'Name another region for the standby, such as one near your users.',
      { region },
    );
  }
  const primaryVolume =
    primary.volumeId === null ? undefined : await client.volumes.get(app, primary.volumeId);
  const sizeGb = Math.max(options.sizeGb ?? 0, primaryVolume?.size_gb ?? 1);
  const volumeName = options.volumeName ?? primary.mount.name ?? primaryVolume?.name ?? 'data';

  const existingMachine = (await client.machines.list(app, { region })).find(
    (machine) => machine.state !== 'destroyed' && mountHolding(machine, databasePath) !== undefined,
  );
  const volume =
    (await findVolume(client, app, region, volumeName, sizeGb, existingMachine)) ??
    (await createVolume(client, app, region, volumeName, sizeGb, primary.machine));
  const report: StandbyReport = {
    region,
    primaryMachineId: primary.machine.id,
    volumeId: volume.volume.id,
    volumeName: volume.volume.name,
    sizeGb: volume.volume.size_gb,
    createdVolume: volume.created,
  };
  logger.info(volume.created ? 'created standby volume' : 'reusing standby volume', {
    app,
    region,
    volume_id: volume.volume.id,
  });
  if (options.machine !== true) {
    return report;
  }

  if (existingMachine !== undefined) {
    return { ...report, machineId: existingMachine.id, createdMachine: false };
  }
  const created = await createMachine(client, app, region, primary.machine, volume.volume.id);
  logger.info('created stopped standby machine', { app, region, machine_id: created.id });
  return { ...report, machineId: created.id, createdMachine: true };
}

/**
 * Creates the stopped standby machine and returns once Fly returns it on a read, because
 * Fly can return 404 for a machine just after creating it, and the next command (a sync or
 * a failover) looks for it.
 *
 * @throws DrError `DR_NO_CAPACITY` naming the region; the client's FlyError classes.
 */
async function createMachine(
  client: FlyClient,
  app: string,
  region: string,
  primary: Machine,
  volumeId: string,
): Promise<Machine> {
  const createdAt = Date.now();
  try {
    const created = await client.machines.create(app, {
      region,
      skip_launch: true,
      config: standbyConfig(primary, volumeId),
    });
    return await getNewMachine(client, app, created.id, createdAt);
  } catch (error) {
    if (isFlyError(error, 'FLY_CAPACITY')) {
      throw noCapacityError(
        region,
        { guest: primary.config?.guest ?? undefined },
        1,
        `The standby volume in ${region} was kept. Run \`flydr standby prepare --region ${region} --machine\` again later, or choose another region with \`flydr regions\`.`,
      );
    }
    throw error;
  }
}

async function findVolume(
  client: FlyClient,
  app: string,
  region: string,
  name: string,
  sizeGb: number,
  machine: Machine | undefined,
): Promise<{ volume: Volume; created: boolean } | undefined> {
  const mounted = machine?.config?.mounts?.[0]?.volume;
  const volumes = (await client.volumes.list(app)).filter(
    (volume) => volume.region === region && volume.state !== 'destroyed',
  );
  const attachedToStandby = volumes.find(
    (volume) => machine !== undefined && volume.attached_machine_id === machine.id,
  );
  const volume =
    attachedToStandby ??
    volumes.find(
      (candidate) =>
        (candidate.id === mounted || !candidate.attached_machine_id) &&
        candidate.name === name &&
        candidate.size_gb >= sizeGb,
    );
  return volume === undefined ? undefined : { volume, created: false };
}

async function createVolume(
  client: FlyClient,
  app: string,
  region: string,
  name: string,
  sizeGb: number,
  primary: Machine,
): Promise<{ volume: Volume; created: boolean }> {
  const guest = primary.config?.guest ?? undefined;
  try {
    const volume = await client.volumes.create(app, {
      name,
      region,
      size_gb: sizeGb,
      require_unique_zone: false,
      ...(guest === undefined || guest === null ? {} : { compute: guest }),
      ...(primary.config?.image ? { compute_image: primary.config.image } : {}),
    });
    return { volume, created: true };
  } catch (error) {
    if (isFlyError(error, 'FLY_CAPACITY')) {
      throw noCapacityError(region, {
        guest: guest ?? undefined,
        volumeSizeBytes: sizeGb * 1024 ** 3,
      });
    }
    throw error;
  }
}

function standbyConfig(primary: Machine, volumeId: string): MachineConfig {
  const config = structuredClone(primary.config ?? ({} as MachineConfig));
  const digest = primary.image_ref?.digest;
  if (config.image && digest && !config.image.includes('@')) {
    config.image = `${config.image}@${digest}`;
  }
  const mount = config.mounts?.[0];
  config.mounts = [{ ...mount, path: mount?.path ?? '/data', volume: volumeId }];
  const metadata: Record<string, string> = { ...(config.metadata ?? {}), [ROLE_KEY]: 'standby' };
  delete metadata[GENERATION_KEY];
  config.metadata = metadata;
  return config;
}
