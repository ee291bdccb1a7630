import { z } from 'zod';

/**
 * Go duration in a response: a string such as "10s", or a number of nanoseconds, because
 * fly-go decodes both.
 */
export const durationSchema = z.union([z.string(), z.number()]);

/** Timestamp as Fly sends it: an RFC 3339 string, or Unix time as a number. */
export const timestampSchema = z.union([z.string(), z.number()]);

/** String map such as `env` or `metadata`; Go sends null for an empty map. */
export const stringMapSchema = z.record(z.string(), z.string());

/** Fly's error body: `{ error?, message?, status?, details? }`, other fields kept. */
export const errorBodySchema = z.looseObject({
  error: z.string().nullish(),
  message: z.string().nullish(),
  status: z.string().nullish(),
  code: z.string().nullish(),
  details: z.unknown().optional(),
});
