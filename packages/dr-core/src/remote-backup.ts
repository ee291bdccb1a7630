import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { commitBackup, newBackupFileName } from './backup-store.js';
import type { BackupReason, BackupRecord, Catalog } from './catalog.js';
import { tempPathFor } from './durable-fs.js';
import { type DrEventListener, type DrOperation, runStep } from './events.js';
import type { MachineTransport } from './fly-types.js';
import type { DrLogger } from './logger.js';
import { chooseStrategy, type RemoteStrategy, takeRemoteSnapshot } from './remote-snapshot.js';
import { imageRefOf, type SelectedMachine } from './source-machine.js';
import type { CheckKind } from './verify.js';

/** Context of a remote backup: app, catalog, logger and event sink. */
export interface RemoteBackupContext {
  app: string;
  databasePath: string;
  catalog: Catalog;
  logger: DrLogger;
  emit: DrEventListener;
  operation: DrOperation;
  now: () => Date;
}

/** Options of one remote backup. */
export interface RemoteBackupOptions {
  /** @default 'auto' */
  strategy?: RemoteStrategy | 'auto';
  /** @default 'quick' */
  check?: CheckKind;
  reason?: BackupReason;
  signal?: AbortSignal;
  /** copy-validate attempts. @default 5 */
  maxAttempts?: number;
  /** copy-validate: pause before the first retry, doubled each time. @default 200 */
  retryDelayMs?: number;
  /** Idle timeout of each transfer. @default the transport's */
  idleTimeoutMs?: number;
}

/**
 * Snapshots the database on a selected machine through an open transport, verifies the
 * snapshot and catalogues it. The snapshot is written in a private temporary directory
 * of the state directory and gets its final name only after it is verified and durable.
 *
 * @throws DrError from {@link takeRemoteSnapshot} or {@link commitBackup}; nothing is
 *   catalogued and no file is left under a final name on failure.
 */
export async function backupFromMachine(
  context: RemoteBackupContext,
  source: SelectedMachine,
  transport: MachineTransport,
  options: RemoteBackupOptions = {},
): Promise<BackupRecord> {
  const { catalog, emit, operation } = context;
  const strategy = await runStep(emit, operation, 'choose-strategy', () =>
    chooseStrategy(transport, options.strategy ?? 'auto'),
  );

  const startedAt = context.now();
  const fileName = await newBackupFileName(
    catalog.stateDir,
    context.databasePath,
    startedAt,
    catalog.fileNames(),
  );
  const workDir = tempPathFor(join(catalog.stateDir, fileName));
  await mkdir(workDir, { mode: 0o700 });
  try {
    const outputPath = join(workDir, posix.basename(context.databasePath));
    const snapshot = await runStep(emit, operation, 'snapshot', () =>
      takeRemoteSnapshot(strategy, {
        transport,
        databasePath: context.databasePath,
        outputPath,
        logger: context.logger,
        ...(options.check === undefined ? {} : { check: options.check }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
        ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
        ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
        onProgress: (progress) => emit({ type: 'transfer-progress', operation, ...progress }),
        onEvent: emit,
        operation,
      }),
    );

    const finishedAt = context.now().toISOString();
    const record = await runStep(emit, operation, 'catalog', () =>
      commitBackup(catalog, outputPath, {
        app: context.app,
        fileName,
        databasePath: context.databasePath,
        region: source.machine.region ?? null,
        machineId: source.machine.id,
        volumeId: source.volumeId,
        imageRef: imageRefOf(source.machine),
        strategy: snapshot.strategy,
        reason: options.reason ?? 'backup',
        startedAt: startedAt.toISOString(),
        finishedAt,
        size: snapshot.size,
        sha256: snapshot.sha256,
        check: snapshot.check,
        checkResult: snapshot.checkResult,
        status: 'verified',
        verifiedAt: finishedAt,
        description: snapshot.description,
        sourceJournalMode: snapshot.sourceJournalMode,
      }),
    );
    context.logger.info('backup catalogued', {
      app: context.app,
      backup_id: record.id,
      machine_id: source.machine.id,
      strategy: snapshot.strategy,
      attempts: snapshot.attempts,
      size: record.size,
    });
    return record;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}
