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

/**
 * Maximum length of an id, name, state or region code in a response. Fly's are far shorter (a
 * machine id has 14 characters, a region code 3), so a longer one is a broken response,
 * and it is rejected before a command prints it or stores it in the catalog.
 */
export const MAX_IDENTIFIER_LENGTH = 256;

/** An id, name, state or region code in a response. */
export const identifierSchema = z.string().max(MAX_IDENTIFIER_LENGTH);

/** Fly's error body: `{ error?, message?, status?, details? }`, other fields kept. */
export const errorBodySchema = z.looseObject({
  error: z.string().nullish(),
  message: z.string().nullish(),
  status: z.string().nullish(),
  code: z.string().nullish(),
  details: z.unknown().optional(),
});
