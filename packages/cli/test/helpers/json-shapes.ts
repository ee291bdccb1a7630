import { z } from 'zod';

/** `--json` shape of one backup. */
export const backupShape = z.strictObject({
  id: z.number().int().positive(),
  app: z.string(),
  path: z.string(),
  databasePath: z.string(),
  region: z.string().nullable(),
  machineId: z.string().nullable(),
  volumeId: z.string().nullable(),
  imageRef: z.string().nullable(),
  strategy: z.enum(['sqlite3-backup', 'copy-validate', 'local-file']),
  reason: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  status: z.enum(['verified', 'failed']),
  check: z.enum(['quick', 'integrity']),
  checkResult: z.string(),
  verifiedAt: z.iso.datetime(),
  journalMode: z.enum(['wal', 'delete']),
  tableCount: z.number().int(),
  pageCount: z.number().int(),
  pageSize: z.number().int(),
});

/** The document every failed `--json` run prints. */
export const errorShape = z.strictObject({
  ok: z.literal(false),
  error: z.strictObject({
    message: z.string(),
    code: z.string().nullable(),
    hint: z.string().nullable(),
    exitCode: z.number().int(),
    operationId: z.string().nullable(),
  }),
});

export const backupResultShape = z.strictObject({ ok: z.literal(true), backup: backupShape });

export const backupsListShape = z.strictObject({
  ok: z.literal(true),
  app: z.string(),
  backups: z.array(backupShape),
});

export const verifyShape = z.strictObject({
  ok: z.boolean(),
  results: z.array(
    z.strictObject({
      ok: z.boolean(),
      result: z.string(),
      code: z.string().nullable(),
      backup: backupShape,
    }),
  ),
});

export const pruneShape = z.strictObject({
  ok: z.literal(true),
  dryRun: z.boolean(),
  keepDays: z.number(),
  keepLast: z.number(),
  kept: z.array(z.number()),
  remove: z.array(z.strictObject({ reason: z.string(), backup: backupShape })),
  removedIds: z.array(z.number()),
});

export const restoreFileShape = z.strictObject({
  ok: z.literal(true),
  target: z.literal('file'),
  path: z.string(),
  previousPath: z.string().nullable(),
  sha256: z.string(),
  backup: backupShape,
});

export const restoreMachineShape = z.strictObject({
  ok: z.literal(true),
  target: z.literal('machine'),
  operationId: z.string(),
  machineId: z.string(),
  backup: backupShape,
  preRestoreBackup: backupShape.nullable(),
  movedAside: z.array(z.strictObject({ from: z.string(), to: z.string() })),
  durationMs: z.number(),
});

export const regionsShape = z.strictObject({
  ok: z.literal(true),
  orgSlug: z.string().nullable(),
  guest: z.record(z.string(), z.unknown()).nullable(),
  volumeSizeBytes: z.number().nullable(),
  regions: z.array(
    z.strictObject({
      region: z.string(),
      name: z.string(),
      canPlace: z.boolean().nullable(),
      count: z.number().nullable(),
      current: z.boolean(),
    }),
  ),
});

export const doctorShape = z.strictObject({
  ok: z.boolean(),
  checks: z.array(
    z.strictObject({
      name: z.string(),
      status: z.enum(['ok', 'warn', 'fail', 'skip']),
      detail: z.string(),
      hint: z.string().optional(),
    }),
  ),
});

export const diffShape = z.looseObject({
  ok: z.literal(true),
  first: z.string(),
  second: z.string(),
  identical: z.boolean(),
  tablesOnlyInFirst: z.array(z.string()),
  tablesOnlyInSecond: z.array(z.string()),
  tables: z.array(
    z.looseObject({
      table: z.string(),
      onlyInFirst: z.number(),
      onlyInSecond: z.number(),
      changed: z.number(),
    }),
  ),
});

export const standbyConfigShape = z.strictObject({
  ok: z.literal(true),
  path: z.string(),
  primaryRegion: z.string(),
  mountSource: z.string().nullable(),
});

export const failoverShape = z.strictObject({
  ok: z.literal(true),
  operationId: z.string(),
  kind: z.enum(['failover', 'failback']),
  from: z.string(),
  to: z.string(),
  sourceMachineId: z.string(),
  targetMachineId: z.string(),
  generation: z.number().int(),
  backupId: z.number().int(),
  rpoMs: z.number().nonnegative(),
  rtoMs: z.number().nonnegative(),
  steps: z.array(z.strictObject({ name: z.string(), durationMs: z.number() })),
});

export const standbyPrepareShape = z.strictObject({
  ok: z.literal(true),
  region: z.string(),
  primaryMachineId: z.string(),
  volumeId: z.string(),
  volumeName: z.string(),
  sizeGb: z.number(),
  createdVolume: z.boolean(),
  machineId: z.string().nullable(),
  createdMachine: z.boolean().nullable(),
});

export const statusShape = z.looseObject({
  ok: z.literal(true),
  app: z.string(),
  regions: z.array(
    z.looseObject({
      region: z.string(),
      machines: z.array(
        z.looseObject({
          id: z.string(),
          region: z.string(),
          state: z.string(),
          role: z.string().nullable(),
        }),
      ),
    }),
  ),
  primary: z
    .looseObject({ machineId: z.string(), region: z.string(), generation: z.number().nullable() })
    .nullable(),
  newestBackup: z.looseObject({ id: z.number(), ageMs: z.number() }).nullable(),
  unfinishedOperations: z.array(
    z.looseObject({
      id: z.string(),
      kind: z.string(),
      status: z.string(),
      step: z.string().nullable(),
    }),
  ),
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string() })),
});

export const syncShape = z.strictObject({
  ok: z.literal(true),
  operationId: z.string(),
  from: z.string(),
  to: z.string(),
  sourceMachineId: z.string(),
  targetMachineId: z.string(),
  backup: backupShape,
  preRestoreBackup: backupShape.nullable(),
  divergenceReportPath: z.string().nullable(),
  durationMs: z.number(),
});

/** `flydr resume` of a sync. */
export const resumeSyncShape = z.strictObject({
  ok: z.literal(true),
  operationId: z.string(),
  kind: z.literal('sync'),
  from: z.string(),
  to: z.string(),
  sourceMachineId: z.string(),
  targetMachineId: z.string(),
  backupId: z.number(),
  durationMs: z.number(),
});

/** `flydr resume` of a restore. */
export const resumeRestoreShape = z.strictObject({
  ok: z.literal(true),
  operationId: z.string(),
  kind: z.literal('restore'),
  machineId: z.string(),
  backupId: z.number(),
  preRestoreBackupId: z.number().nullable(),
  durationMs: z.number(),
});

export const abortShape = z.strictObject({
  ok: z.literal(true),
  operationId: z.string(),
  kind: z.string(),
  status: z.string(),
  steps: z.array(z.strictObject({ name: z.string(), status: z.string() })),
});

export const dryRunShape = z.strictObject({
  ok: z.literal(true),
  dryRun: z.literal(true),
  from: z.string(),
  to: z.string(),
  sourceMachineId: z.string().nullable(),
  steps: z.array(z.strictObject({ name: z.string(), description: z.string() })),
});
