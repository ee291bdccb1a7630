import { DrError } from './errors.js';
import type { FlyClient } from './fly-types.js';

/** A Fly region as the platform lists it. */
export interface RegionInfo {
  code: string;
  name: string;
}

/**
 * Lists Fly's regions and checks that every code in `codes` is one of them.
 *
 * @returns the regions named by `codes`, in the same order.
 * @throws DrError `DR_UNKNOWN_REGION` naming the unknown codes and listing the valid ones;
 *   `DR_INVALID_INPUT` for an empty list.
 */
export async function validateRegions(
  client: FlyClient,
  codes: readonly string[],
  signal?: AbortSignal,
): Promise<RegionInfo[]> {
  if (codes.length === 0) {
    throw new DrError(
      'DR_INVALID_INPUT',
      'no region given',
      'Name at least one region code, such as nrt or sin.',
    );
  }
  const { regions } = await client.platform.regions(signal === undefined ? {} : { signal });
  const known = new Map(regions.map((region) => [region.code, region.name ?? region.code]));
  const unknown = codes.filter((code) => !known.has(code));
  if (unknown.length > 0) {
    const valid = [...known.keys()].sort();
    throw new DrError(
      'DR_UNKNOWN_REGION',
      `unknown region code${unknown.length > 1 ? 's' : ''} ${unknown.map((code) => JSON.stringify(code)).join(', ')}; valid codes: ${valid.join(', ')}`,
      `Use one of: ${valid.join(', ')}.`,
      { regions: unknown, validRegions: valid },
    );
  }
  return codes.map((code) => ({ code, name: known.get(code) ?? code }));
}
