import { DrError } from './errors.js';
import type { DrEventListener } from './events.js';
import { isSettled } from './failover-preflight.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { OperationRecord } from './journal.js';
import type { RunnerOptions } from './operation-runner.js';

/**
 * Builds the runner options of one run of a journaled operation: its signal and step hook,
 * with each runner event sent to the instance's listeners and to the caller's.
 */
export function runnerOptionsFor(emit: DrEventListener, run: FailoverRunOptions): RunnerOptions {
  return {
    ...(run.signal === undefined ? {} : { signal: run.signal }),
    ...(run.afterStepPersisted === undefined ? {} : { afterStepPersisted: run.afterStepPersisted }),
    onEvent: (event) => {
      emit(event);
      run.onRunnerEvent?.(event);
    },
  };
}

/**
 * Raises when an operation has nothing left to resume or roll back: it succeeded, was
 * aborted, or every step is pending or undone.
 *
 * @param noun how the message names the operation, such as `sync` or `operation`.
 * @param hint the next step for the user.
 * @throws DrError `DR_REFUSED` naming the operation and its status.
 */
export function refuseFinished(
  record: OperationRecord<unknown>,
  action: 'resume' | 'abort',
  noun: string,
  hint: string,
): void {
  if (record.status === 'succeeded' || record.status === 'aborted' || isSettled(record)) {
    const status = record.status === 'running' ? 'rolled back' : record.status;
    throw new DrError(
      'DR_REFUSED',
      `${noun} ${record.id} is ${status}; there is nothing to ${action}`,
      hint,
      { operationId: record.id },
    );
  }
}
