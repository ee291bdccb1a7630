import { FlyInputError } from '../errors.js';
import type { MachineConfig } from '../schemas/machine.js';
import type { Volume } from '../schemas/volume.js';
import {
  checkInteger,
  checkMachineName,
  checkMountPath,
  checkRegionExpression,
  checkVolumeId,
  checkVolumeSizeGb,
} from '../validate.js';

/** Body of `POST /v1/apps/{app}/machines`, in the API's own field names. */
export interface CreateMachineRequest {
  /** Full machine config; only `image` is required. */
  config: MachineConfig;
  name?: string | undefined;
  /** Region code, or a comma-separated priority list such as `nrt,sin`. */
  region?: string | undefined;
  /** Acquire a lease of this many seconds with the create; the machine then carries `nonce`. */
  lease_ttl?: number | undefined;
  /** Create the machine without starting it. */
  skip_launch?: boolean | undefined;
  /** Create the machine cordoned: the proxy does not route to it. */
  skip_service_registration?: boolean | undefined;
  skip_secrets?: boolean | undefined;
  min_secrets_version?: number | undefined;
  [key: string]: unknown;
}

/** Body of `POST /v1/apps/{app}/machines/{id}`: the FULL config, as updates are not partial. */
export interface UpdateMachineRequest {
  config: MachineConfig;
  /** Expected current `instance_id`; Fly rejects the update when the machine moved on. */
  current_version?: string | undefined;
  /** Keep a stopped machine stopped after the update. */
  skip_launch?: boolean | undefined;
  skip_service_registration?: boolean | undefined;
  min_secrets_version?: number | undefined;
  [key: string]: unknown;
}

/** Volume facts the caller may pass so the client can check a mount before sending. */
export type MountVolume = Pick<Volume, 'id' | 'region'>;

/** Memory per CPU by CPU kind, in MB, from the machine size presets in fly-go. */
const MEMORY_PER_CPU: Record<string, [number, number]> = {
  shared: [256, 2048],
  performance: [2048, 8192],
};

/**
 * Checks a machine config before it is sent: image, guest size, mounts and their paths.
 *
 * @throws FlyInputError naming the first invalid field.
 */
export function checkMachineConfig(config: unknown): MachineConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new FlyInputError('config', 'missing machine config', 'Pass { config: { image, ... } }.');
  }
  const candidate = config as MachineConfig;
  if (typeof candidate.image !== 'string' || !/^\S+$/.test(candidate.image)) {
    throw new FlyInputError(
      'config.image',
      `invalid config.image ${JSON.stringify(candidate.image)}: expected an image reference such as "registry.fly.io/app:tag"`,
      'Copy image_ref from the source machine, or pass the image you deploy.',
    );
  }
  checkGuest(candidate.guest);
  checkMounts(candidate.mounts);
  return candidate;
}

function checkGuest(guest: MachineConfig['guest']): void {
  if (guest === undefined || guest === null) return;
  const kind = guest.cpu_kind ?? undefined;
  if (kind !== undefined && !(kind in MEMORY_PER_CPU)) {
    throw new FlyInputError(
      'config.guest.cpu_kind',
      `invalid config.guest.cpu_kind ${JSON.stringify(kind)}: expected "shared" or "performance"`,
      'Use "shared" for shared-cpu sizes.',
    );
  }
  const cpus = guest.cpus ?? undefined;
  if (cpus !== undefined)
    checkInteger(cpus, 'config.guest.cpus', 1, 64, 'Use 1, 2, 4, 8 or 16 CPUs.');

  const memory = guest.memory_mb ?? undefined;
  if (memory === undefined) return;
  checkInteger(memory, 'config.guest.memory_mb', 256, 512 * 1024, 'Use a multiple of 256 MB.');
  if (memory % 256 !== 0) {
    throw new FlyInputError(
      'config.guest.memory_mb',
      `invalid config.guest.memory_mb ${memory}: expected a multiple of 256`,
      'Round memory_mb to a multiple of 256, such as 256, 512 or 1024.',
    );
  }
  const range = kind === undefined ? undefined : MEMORY_PER_CPU[kind];
  if (range && cpus !== undefined && (memory < range[0] * cpus || memory > range[1] * cpus)) {
    throw new FlyInputError(
      'config.guest.memory_mb',
      `invalid config.guest.memory_mb ${memory} for ${cpus} ${kind} CPU(s): expected ` +
        `${range[0] * cpus} to ${range[1] * cpus} MB`,
      `A ${kind} CPU takes ${range[0]} to ${range[1]} MB; change cpus or memory_mb.`,
    );
  }
}

function checkMounts(mounts: MachineConfig['mounts']): void {
  if (mounts === undefined || mounts === null) return;
  if (!Array.isArray(mounts)) {
    throw new FlyInputError(
      'config.mounts',
      'invalid config.mounts: expected an array',
      'Pass [{ volume, path }].',
    );
  }
  if (mounts.length > 1) {
    throw new FlyInputError(
      'config.mounts',
      `invalid config.mounts: ${mounts.length} mounts given, but a machine takes one volume`,
      'Mount one volume per machine.',
    );
  }
  mounts.forEach((mount, index) => {
    checkMountPath(mount.path, `config.mounts[${index}].path`);
    if (mount.volume !== undefined && mount.volume !== null) {
      checkVolumeId(mount.volume, `config.mounts[${index}].volume`);
    }
    if (mount.size_gb !== undefined && mount.size_gb !== null) {
      checkVolumeSizeGb(mount.size_gb, `config.mounts[${index}].size_gb`);
    }
  });
}

/**
 * Checks a create request, and that each mounted volume the caller describes lies in the
 * machine's region, since a machine must run on its volume's host.
 *
 * @throws FlyInputError naming the first invalid field.
 */
export function checkCreateMachineRequest(
  request: unknown,
  mountVolumes: readonly MountVolume[] = [],
): CreateMachineRequest {
  if (typeof request !== 'object' || request === null) {
    throw new FlyInputError('request', 'missing create request', 'Pass { config, region? }.');
  }
  const candidate = request as CreateMachineRequest;
  const config = checkMachineConfig(candidate.config);
  if (candidate.name !== undefined) checkMachineName(candidate.name);
  const regions =
    candidate.region === undefined ? undefined : checkRegionExpression(candidate.region);
  if (candidate.lease_ttl !== undefined) {
    checkInteger(
      candidate.lease_ttl,
      'lease_ttl',
      1,
      3600,
      'Use a short lease, such as 30 seconds.',
    );
  }

  for (const mount of config.mounts ?? []) {
    const volume = mountVolumes.find((item) => item.id === mount.volume);
    if (!volume || !regions) continue;
    if (!regions.includes(volume.region)) {
      throw new FlyInputError(
        'region',
        `invalid region ${JSON.stringify(candidate.region)}: volume ${volume.id} mounted at ` +
          `${mount.path} is in region ${volume.region}`,
        `Create the machine in ${volume.region}, or fork the volume into the target region first.`,
      );
    }
  }
  return candidate;
}

/**
 * Checks an update request.
 *
 * @throws FlyInputError naming the first invalid field, including `name` or `region`, which an
 *   update cannot change.
 */
export function checkUpdateMachineRequest(request: unknown): UpdateMachineRequest {
  if (typeof request !== 'object' || request === null) {
    throw new FlyInputError(
      'request',
      'missing update request',
      'Pass { config } with the full config.',
    );
  }
  const candidate = request as UpdateMachineRequest;
  for (const immutable of ['name', 'region']) {
    if (candidate[immutable] !== undefined) {
      throw new FlyInputError(
        immutable,
        `invalid ${immutable} in update: a machine's ${immutable} cannot change`,
        'Create a new machine (for example from this config) to move or rename it.',
      );
    }
  }
  checkMachineConfig(candidate.config);
  if (candidate.current_version !== undefined && typeof candidate.current_version !== 'string') {
    throw new FlyInputError(
      'current_version',
      'invalid current_version: expected the instance_id string',
      'Pass machine.instance_id.',
    );
  }
  return candidate;
}
