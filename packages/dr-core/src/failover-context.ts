import type { Catalog } from './catalog.js';
import type { DrEventListener } from './events.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, MachineTransportFactory } from './fly-types.js';
import type { OperationJournal } from './journal.js';
import type { DrLogger } from './logger.js';
import type { PrimaryRecords } from './primary-record.js';

/** What the steps of a failover share: clients, stores and the operation's id. */
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

/** Wait options for machine state changes, from the run options. */
export function waitOptions(context: FailoverContext): {
  timeoutMs?: number;
  signal?: AbortSignal;
} {
  return {
    ...(context.run.startTimeoutMs === undefined ? {} : { timeoutMs: context.run.startTimeoutMs }),
    ...(context.run.signal === undefined ? {} : { signal: context.run.signal }),
  };
}
