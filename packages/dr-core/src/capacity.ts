import { setTimeout as sleep } from 'node:timers/promises';
import type { MachineGuest } from '@flydr/fly-client';
import { DrError } from './errors.js';
import type { FlyClient } from './fly-types.js';
import { validateRegions } from './regions.js';

/** Request of a capacity check: one machine of a size, with or without a new volume. */
export interface CapacityRequest {
  /** Organization that would own the machines (the app's). */
  orgSlug: string;
  /** Guest of the machine. @default Fly's default guest */
  guest?: MachineGuest | undefined;
  /** Size of the volume that must be created too, in bytes; omit when the volume exists. */
  volumeSizeBytes?: number | undefined;
  /** Name of that volume. */
  volumeName?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Whether a region can take one more machine of the requested size now. */
export interface RegionCapacity {
  region: string;
  /** Region name, such as "Tokyo, Japan". */
  name: string;
  canPlace: boolean;
  /** How many such machines Fly could place there now (capped by the organization's limit). */
  count: number;
}

/**
 * Checks, per region, whether a machine of the requested size (and its volume) can be
 * placed now. Sends `GET /v1/platform/regions` to validate the codes, then one
 * `POST /v1/platform/placements` for all of them.
 *
 * @throws DrError `DR_UNKNOWN_REGION` listing the valid codes; the client's FlyError classes.
 */
export async function checkCapacity(
  client: FlyClient,
  regions: readonly string[],
  request: CapacityRequest,
): Promise<RegionCapacity[]> {
  const known = await validateRegions(client, regions, request.signal);
  const placed = await client.platform.placements(
    {
      orgSlug: request.orgSlug,
      region: known.map((region) => region.code).join(','),
      count: 1,
      ...(request.guest === undefined ? {} : { compute: request.guest }),
      ...(request.volumeSizeBytes === undefined
        ? {}
        : { volumeSizeBytes: request.volumeSizeBytes, volumeName: request.volumeName ?? 'data' }),
    },
    request.signal === undefined ? {} : { signal: request.signal },
  );
  return known.map((region) => {
    const count = placed.regions.find((row) => row.region === region.code)?.count ?? 0;
    return { region: region.code, name: region.name, canPlace: count > 0, count };
  });
}

/** Options of {@link waitForCapacity}. */
export interface WaitForCapacityOptions extends CapacityRequest {
  /** Give up after this long. @default 0 (check once) */
  timeoutMs?: number;
  /** First pause between checks; it doubles after each check. @default 5000 */
  initialDelayMs?: number;
  /** Maximum pause between checks. @default 60000 */
  maxDelayMs?: number;
  /** Called after every check that found no room. */
  onWait?: (attempt: number, nextDelayMs: number) => void;
}

/**
 * Checks a region's capacity until it can take the machine, pausing with exponential
 * backoff between checks, up to `timeoutMs`.
 *
 * @throws DrError `DR_NO_CAPACITY` when the time runs out, `DR_UNKNOWN_REGION`; the
 *   client's FlyError classes.
 */
export async function waitForCapacity(
  client: FlyClient,
  region: string,
  options: WaitForCapacityOptions,
): Promise<RegionCapacity> {
  const deadline = Date.now() + (options.timeoutMs ?? 0);
  let delayMs = options.initialDelayMs ?? 5_000;

  for (let attempt = 1; ; attempt += 1) {
    const [capacity] = await checkCapacity(client, [region], options);
    if (capacity?.canPlace === true) {
      return capacity;
    }
    if (Date.now() + delayMs > deadline) {
      throw noCapacityError(region, options, attempt);
    }
    options.onWait?.(attempt, delayMs);
    await sleep(delayMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
    delayMs = Math.min(delayMs * 2, options.maxDelayMs ?? 60_000);
  }
}

/** Next step after a capacity error when nothing was changed. */
const NOTHING_CHANGED_HINT =
  'Nothing was changed. Try again later, wait for capacity (failback can poll), or choose another region with `flydr regions`.';

/**
 * Builds the error for a region without room for the requested machine and volume. The
 * message names the region and the size; `hint` replaces the default next step, which
 * states that nothing was changed.
 */
export function noCapacityError(
  region: string,
  request: Pick<CapacityRequest, 'guest' | 'volumeSizeBytes'>,
  attempts = 1,
  hint = NOTHING_CHANGED_HINT,
): DrError {
  const guest = request.guest;
  const size =
    guest === undefined
      ? "a machine of Fly's default size"
      : `a ${guest.cpu_kind ?? 'shared'} machine with ${guest.cpus ?? 1} CPU and ${guest.memory_mb ?? 256} MB`;
  const volume =
    request.volumeSizeBytes === undefined
      ? ''
      : ` and a ${Math.ceil(request.volumeSizeBytes / 1024 ** 3)} GB volume`;
  return new DrError(
    'DR_NO_CAPACITY',
    `region ${region} has no capacity for ${size}${volume}${attempts > 1 ? ` after ${attempts} checks` : ''}`,
    hint,
    { region, attempts },
  );
}
