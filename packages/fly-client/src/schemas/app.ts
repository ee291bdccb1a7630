import { z } from 'zod';
import { timestampSchema } from './common.js';

/** An app as returned by get and list; unknown fields are kept. */
export const appSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string(),
  status: z.string().nullish(),
  network: z.string().nullish(),
  machine_count: z.number().nullish(),
  volume_count: z.number().nullish(),
  organization: z.looseObject({ name: z.string().nullish(), slug: z.string().nullish() }).nullish(),
});

/** Response of `GET /apps?org_slug=`. */
export const listAppsResponseSchema = z.looseObject({
  total_apps: z.number().optional(),
  apps: z.array(appSchema).nullable(),
});

/** Response of `POST /apps`: `{ id, created_at }`, or an empty body. */
export const createAppResponseSchema = z.looseObject({
  id: z.string().optional(),
  created_at: timestampSchema.optional(),
});

/** App as Fly returns it; unknown fields are kept. */
export type App = z.infer<typeof appSchema>;
