import { z } from 'zod';

/** One region row; Go-cased keys (`Code`, `Name`) are copied to the snake_case names. */
export const regionSchema = z.looseObject({
  code: z.string(),
  name: z.string().nullish(),
  latitude: z.number().nullish(),
  longitude: z.number().nullish(),
  gateway_available: z.boolean().nullish(),
  requires_paid_plan: z.boolean().nullish(),
  deprecated: z.boolean().nullish(),
  geo_region: z.string().nullish(),
  // NOTE: older responses carried `capacity`; Fly dropped it from the spec and it was
  // described as inaccurate, so do not rely on it.
  capacity: z.number().nullish(),
});

const KNOWN_REGION_KEYS = [
  'code',
  'name',
  'latitude',
  'longitude',
  'gateway_available',
  'requires_paid_plan',
  'deprecated',
  'geo_region',
  'mpg_available',
  'capacity',
];

/** Copies `Code`/`GatewayAvailable`-style keys to their snake_case names, keeping the originals. */
export function normalizeKeyCasing(value: unknown, known: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = { ...(value as Record<string, unknown>) };
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    if (known.includes(snake) && !(snake in record)) record[snake] = item;
  }
  return record;
}

/** Response of `GET /platform/regions`, with `regions`/`Regions` and `nearest`/`Nearest`. */
export const regionsResponseSchema = z.preprocess(
  (value) => {
    const top = normalizeKeyCasing(value, ['regions', 'nearest']);
    if (typeof top !== 'object' || top === null) return top;
    const record = top as Record<string, unknown>;
    if (Array.isArray(record.regions)) {
      record.regions = record.regions.map((row) => normalizeKeyCasing(row, KNOWN_REGION_KEYS));
    }
    return record;
  },
  z.looseObject({ nearest: z.string().nullish(), regions: z.array(regionSchema) }),
);

/** Response of `POST /platform/placements`. */
export const placementsResponseSchema = z.preprocess(
  (value) => normalizeKeyCasing(value, ['regions']),
  z.looseObject({
    regions: z
      .array(
        z.preprocess(
          (row) => normalizeKeyCasing(row, ['region', 'count', 'concurrency']),
          z.looseObject({
            region: z.string(),
            count: z.number(),
            concurrency: z.number().nullish(),
          }),
        ),
      )
      .nullable(),
  }),
);

/** One Fly region; Go-cased keys are copied to snake_case names. */
export type Region = z.infer<typeof regionSchema>;
