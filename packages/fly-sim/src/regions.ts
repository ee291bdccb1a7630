import type { SimRegionSpec } from './options.js';
import { DEFAULT_REGIONS } from './options.js';

/** A region of the simulated platform with its current capacity. */
export interface RegionRecord {
  code: string;
  name: string;
  latitude: number;
  longitude: number;
  /** Machines that may run here at once, across all apps. */
  machineLimit: number;
  /** Volumes that may exist here, across all apps. */
  volumeLimit: number;
}

const COORDINATES: Record<string, [number, number]> = {
  nrt: [35.6762, 139.6503],
  sin: [1.3521, 103.8198],
  iad: [38.9445, -77.4558],
  ord: [41.9786, -87.9048],
  lhr: [51.47, -0.4543],
  fra: [50.0379, 8.5622],
  syd: [-33.9399, 151.1753],
  ams: [52.3676, 4.9041],
};

/** The region table: codes, names and the capacity that tests change at run time. */
export class RegionTable {
  private readonly regions = new Map<string, RegionRecord>();

  constructor(specs: SimRegionSpec[] | undefined) {
    for (const spec of specs ?? DEFAULT_REGIONS) this.add(spec);
  }

  /** Adds a region or replaces its row. */
  add(spec: SimRegionSpec): void {
    const code = spec.code.toLowerCase();
    const [latitude, longitude] = COORDINATES[code] ?? [0, 0];
    this.regions.set(code, {
      code,
      name: spec.name ?? DEFAULT_REGIONS.find((r) => r.code === code)?.name ?? code,
      latitude,
      longitude,
      machineLimit: spec.machines ?? Number.POSITIVE_INFINITY,
      volumeLimit: spec.volumes ?? Number.POSITIVE_INFINITY,
    });
  }

  /** Returns the region, or undefined for an unknown code. */
  get(code: string): RegionRecord | undefined {
    return this.regions.get(code.toLowerCase());
  }

  /** Returns every region in table order. */
  list(): RegionRecord[] {
    return [...this.regions.values()];
  }

  /**
   * Sets how many machines may run and how many volumes may exist in a region; an omitted
   * field keeps its value.
   *
   * @throws Error when the region is not in the table.
   */
  setCapacity(code: string, capacity: { machines?: number; volumes?: number }): void {
    const region = this.get(code);
    if (region === undefined) {
      throw new Error(
        `region "${code}" is not in the simulated region table; add it with the regions option`,
      );
    }
    if (capacity.machines !== undefined) region.machineLimit = capacity.machines;
    if (capacity.volumes !== undefined) region.volumeLimit = capacity.volumes;
  }
}
