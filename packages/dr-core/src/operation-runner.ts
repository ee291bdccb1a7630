import { DrError, isDrError } from './errors.js';
import type { OperationJournal, OperationRecord } from './journal.js';

/** One step of a journaled operation. */
export interface OperationStep<State> {
  name: string;
  /**
   * Does the step's work and returns what to merge into the operation's state. After a
   * crash the step runs again from the start, so it must check what an earlier run did
   * (for example, look for a machine it created by its recorded name) before acting.
   */
  run(state: State, signal: AbortSignal): Promise<Partial<State> | undefined>;
  /**
   * Reverts the step, also after a partial run. Runs during rollback and `abort`, in
   * reverse step order, so it must be safe to call when the step did nothing.
   */
  undo?(state: State): Promise<void>;
}

/** Events the runner sends while it works. */
export type RunnerEvent =
  | { type: 'operation-step-start'; operationId: string; step: string; position: number }
  | {
      type: 'operation-step-end';
      operationId: string;
      step: string;
      ok: boolean;
      durationMs: number;
      error?: string;
    }
  | { type: 'operation-undo'; operationId: string; step: string; ok: boolean; error?: string };

/** Options of {@link runOperation} and {@link rollbackOperation}. */
export interface RunnerOptions {
  signal?: AbortSignal;
  onEvent?: (event: RunnerEvent) => void;
  /**
   * Called after a step's result is in the journal, before the next step starts. Tests use it
   * to kill the process at every step boundary.
   */
  afterStepPersisted?: (step: string, position: number) => void | Promise<void>;
}

/**
 * Runs an operation's steps in order from its first unfinished step, journaling each step
 * before it runs and its result after. When a step fails, the steps already done are
 * rolled back in reverse order and the operation ends `failed`; the error names the step.
 *
 * @throws DrError `DR_OPERATION_FAILED` with the failed step, after the rollback ran; its
 *   `details.rollbackErrors` lists undo steps that failed too.
 */
export async function runOperation<State>(
  journal: OperationJournal,
  operationId: string,
  steps: readonly OperationStep<State>[],
  options: RunnerOptions = {},
): Promise<OperationRecord<State>> {
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent ?? (() => {});
  journal.setStatus(operationId, 'running');

  for (const [position, step] of steps.entries()) {
    const record = journal.get<State>(operationId);
    if (record.steps[position]?.status === 'done') continue;

    journal.startStep(operationId, position);
    emit({ type: 'operation-step-start', operationId, step: step.name, position });
    const startedAt = Date.now();

    try {
      signal.throwIfAborted();
      const patch = await step.run(record.state, signal);
      journal.finishStep(operationId, position, patch ?? {});
      emit({
        type: 'operation-step-end',
        operationId,
        step: step.name,
        ok: true,
        durationMs: Date.now() - startedAt,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      journal.failStep(operationId, position, message);
      emit({
        type: 'operation-step-end',
        operationId,
        step: step.name,
        ok: false,
        durationMs: Date.now() - startedAt,
        error: message,
      });

      const rollbackErrors = await undoSteps(journal, operationId, steps, position, emit);
      journal.setStatus(operationId, 'failed', message);
      throw new DrError(
        'DR_OPERATION_FAILED',
        `${journal.get(operationId).kind} ${operationId} failed at step ${step.name}: ${message}`,
        rollbackErrors.length === 0
          ? 'the steps before it were rolled back; fix the cause and run the command again'
          : `rollback of ${rollbackErrors.map((item) => item.step).join(', ')} failed too; run \`flydr abort ${operationId}\` to retry it`,
        { cause: error, operationId, step: step.name, rollbackErrors },
      );
    }

    await options.afterStepPersisted?.(step.name, position);
  }

  journal.setStatus(operationId, 'succeeded');
  return journal.get<State>(operationId);
}

/**
 * Rolls back an unfinished operation: undoes every step that is done, running or failed,
 * in reverse order, and marks the operation `aborted`.
 *
 * @throws DrError `DR_OPERATION_FAILED` when an undo step fails; the operation stays
 *   `failed`, so `abort` can run again.
 */
export async function rollbackOperation<State>(
  journal: OperationJournal,
  operationId: string,
  steps: readonly OperationStep<State>[],
  options: RunnerOptions = {},
): Promise<OperationRecord<State>> {
  const emit = options.onEvent ?? (() => {});
  const record = journal.get<State>(operationId);
  const touched = record.steps.filter(
    (step) => step.status !== 'pending' && step.status !== 'undone',
  );
  const last = touched.length === 0 ? -1 : Math.max(...touched.map((step) => step.position));

  const rollbackErrors = await undoSteps(journal, operationId, steps, last, emit);
  if (rollbackErrors.length > 0) {
    const message = rollbackErrors.map((item) => `${item.step}: ${item.error}`).join('; ');
    journal.setStatus(operationId, 'failed', `rollback failed: ${message}`);
    throw new DrError(
      'DR_OPERATION_FAILED',
      `abort of ${operationId} failed: ${message}`,
      `fix the cause, then run \`flydr abort ${operationId}\` again`,
      { operationId, rollbackErrors },
    );
  }

  journal.setStatus(operationId, 'aborted');
  return journal.get<State>(operationId);
}

async function undoSteps<State>(
  journal: OperationJournal,
  operationId: string,
  steps: readonly OperationStep<State>[],
  fromPosition: number,
  emit: (event: RunnerEvent) => void,
): Promise<Array<{ step: string; error: string }>> {
  const failures: Array<{ step: string; error: string }> = [];

  for (let position = fromPosition; position >= 0; position--) {
    const step = steps[position];
    const status = journal.get(operationId).steps[position]?.status;
    if (step === undefined || status === 'pending' || status === 'undone') continue;

    try {
      // The state is read again for each undo, because an undo may record what it restored.
      await step.undo?.(journal.get<State>(operationId).state);
      journal.undoStep(operationId, position);
      emit({ type: 'operation-undo', operationId, step: step.name, ok: true });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push({ step: step.name, error: message });
      emit({ type: 'operation-undo', operationId, step: step.name, ok: false, error: message });
    }
  }
  return failures;
}

/**
 * After a clean rollback, returns the failed step's own error (a DrError gets the operation
 * id and step), so callers branch on `DR_LOCKED` or `DR_NO_SPACE` rather than a generic
 * failure. A failed rollback keeps `DR_OPERATION_FAILED`, whose hint names the abort command.
 */
export function surfaceStepError(error: unknown): unknown {
  if (!isDrError(error, 'DR_OPERATION_FAILED')) {
    return error;
  }
  const rollbackErrors = error.details.rollbackErrors;
  if (Array.isArray(rollbackErrors) && rollbackErrors.length > 0) {
    return error;
  }
  const cause = (error as Error & { cause?: unknown }).cause;
  if (!isDrError(cause)) {
    return cause ?? error;
  }
  return new DrError(
    cause.code,
    `${error.details.operationId as string} stopped at step ${error.details.step as string}: ${cause.message}`,
    `${cause.hint} Every step done before was rolled back.`,
    {
      ...cause.details,
      operationId: error.details.operationId,
      step: error.details.step,
      cause,
    },
  );
}
