import { z } from 'zod';
import { identifierSchema, timestampSchema } from './common.js';

/** A volume as returned by list, get, create, update and delete; unknown fields are kept. */
export const volumeSchema = z.looseObject({
  id: identifierSchema,
  name: identifierSchema,
  // Open string: creating, created, extending, restoring, hydrating, pending_destroy, ...
  state: identifierSchema,
  size_gb: z.number(),
  region: identifierSchema,
  zone: z.string().nullish(),
  encrypted: z.boolean().nullish(),
  attached_machine_id: z.string().nullish(),
  attached_alloc_id: z.string().nullish(),
  created_at: timestampSchema.nullish(),
  fstype: z.string().nullish(),
  snapshot_retention: z.number().nullish(),
  auto_backup_enabled: z.boolean().nullish(),
  host_status: z.string().nullish(),
  host_dedication_id: z.string().nullish(),
  type: z.string().nullish(),
  block_size: z.number().nullish(),
  blocks: z.number().nullish(),
  blocks_free: z.number().nullish(),
  blocks_avail: z.number().nullish(),
  bytes_total: z.number().nullish(),
  bytes_used: z.number().nullish(),
});

/** Response of `PUT /volumes/{id}/extend`. */
export const extendVolumeResponseSchema = z.looseObject({
  volume: volumeSchema,
  needs_restart: z.boolean().optional(),
});

/** One volume snapshot; `size` and `volume_size` are bytes. */
export const volumeSnapshotSchema = z.looseObject({
  id: z.string(),
  size: z.number().nullish(),
  volume_size: z.number().nullish(),
  digest: z.string().nullish(),
  created_at: timestampSchema.nullish(),
  status: z.string().nullish(),
  retention_days: z.number().nullish(),
});

/** Volume as Fly returns it; unknown fields are kept. */
export type Volume = z.infer<typeof volumeSchema>;
/** One snapshot of a volume; sizes are bytes. */
export type VolumeSnapshot = z.infer<typeof volumeSnapshotSchema>;
