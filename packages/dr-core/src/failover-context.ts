import type { Catalog } from './catalog.js';
import type { DrEventListener } from './events.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, MachineTransportFactory } from './fly-types.js';
import type { OperationJournal } from './journal.js';
import type { DrLogger } from './logger.js';
import type { PrimaryRecords } from './primary-record.js';

/** Shared inputs of a failover's steps: clients, stores and the operation's id. */
export interface FailoverContext {
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  journal: OperationJournal;
  records: PrimaryRecords;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
  operationId: string;
  run: FailoverRunOptions;
}

/**
 * Wait options for machine state changes, from the run options, with the logger for
 * updates sent again. An aborted signal is left out, so that the rollback after a cancelled
 * run can still wait for the machines it fixes.
 */
export function waitOptions(context: FailoverContext): {
  timeoutMs?: number;
  signal?: AbortSignal;
  logger: DrLogger;
} {
  const signal = activeSignal(context);
  return {
    ...(context.run.startTimeoutMs === undefined ? {} : { timeoutMs: context.run.startTimeoutMs }),
    ...(signal === undefined ? {} : { signal }),
    logger: context.logger,
  };
}

/** Returns the run's signal while it is not aborted yet. */
export function activeSignal(context: FailoverContext): AbortSignal | undefined {
  const signal = context.run.signal;
  return signal === undefined || signal.aborted ? undefined : signal;
}
