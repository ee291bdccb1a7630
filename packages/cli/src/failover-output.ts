import { DrError, type FailoverReport, isDrError } from '@flydr/dr-core';
import type { CommandContext } from './context.js';
import { formatDuration } from './output.js';

/** Converts a failover or failback report to its `--json` shape, documented in docs/cli-json.md. */
export function failoverJson(report: FailoverReport) {
  return {
    ok: true as const,
    operationId: report.operationId,
    kind: report.kind,
    from: report.from,
    to: report.to,
    sourceMachineId: report.sourceMachineId,
    targetMachineId: report.targetMachineId,
    generation: report.generation,
    backupId: report.backupId,
    rpoMs: report.rpoMs,
    rtoMs: report.rtoMs,
    steps: report.steps.map((step) => ({ name: step.name, durationMs: step.durationMs })),
  };
}

/** Prints the outcome of a failover or failback with its RPO and RTO. */
export function printFailoverReport(context: CommandContext, report: FailoverReport): void {
  context.out.line(
    `${report.kind} ${report.operationId}: ${report.from} -> ${report.to}, machine ${report.targetMachineId} is the primary (generation ${report.generation})`,
  );
  context.out.line(
    `  RPO ${formatDuration(report.rpoMs)}${report.rpoMs === 0 ? ' (final snapshot taken after the fence: no committed write lost)' : ' (writes in this window are lost)'}`,
  );
  context.out.line(`  RTO ${formatDuration(report.rtoMs)} (fence to healthy target)`);
  context.out.line(`  final snapshot: backup ${report.backupId}`);
}

/** Run options that pause a journaled operation at the next step boundary on Ctrl-C. */
export interface PausableRun {
  afterStepPersisted: (step: string) => void;
  onRunnerEvent: (event: { type: string; operationId?: string }) => void;
}

/**
 * Runs a journaled operation (failover, failback, resume) so that Ctrl-C (SIGINT) pauses
 * it: the step that runs finishes and is journaled, then the command ends with exit code
 * 4 (`DR_INTERRUPTED` with the operation id), leaving the operation for `flydr resume` or
 * `flydr abort`. A second Ctrl-C ends the process at once; the journal then shows the
 * operation as interrupted.
 */
export async function withPause<T>(
  context: CommandContext,
  work: (run: PausableRun) => Promise<T>,
): Promise<T> {
  let paused = false;
  let operationId: string | undefined;
  const onSignal = () => {
    paused = true;
    context.out.warn(
      'interrupted: pausing after the step that runs now; press Ctrl-C again to stop at once',
    );
  };
  process.once('SIGINT', onSignal);
  try {
    return await work({
      onRunnerEvent: (event) => {
        operationId = event.operationId ?? operationId;
      },
      afterStepPersisted: (step) => {
        if (!paused) return;
        const id = operationId ?? '<id>';
        throw new DrError(
          'DR_INTERRUPTED',
          `interrupted: ${id} is paused after step ${step}`,
          `run \`flydr resume ${id}\` to continue, or \`flydr abort ${id}\` to roll back`,
          operationId === undefined ? {} : { operationId },
        );
      },
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

/**
 * Runs a journaled sync or restore with an AbortSignal that the first Ctrl-C (SIGINT)
 * fires. The operation stops at a safe point and rolls back what it did. The command then
 * ends with exit code 4 (`DR_INTERRUPTED` with the operation id), with nothing left to
 * resume. When the rollback fails too, its own error (`DR_OPERATION_FAILED`, exit 1, with
 * a hint to run `flydr abort`) is kept. A second Ctrl-C ends the process at once, and the
 * journal then shows the operation as interrupted for `flydr resume` or `flydr abort`.
 *
 * @param rerun the command line that starts the operation again, for the hint.
 */
export async function withInterrupt<T>(
  context: CommandContext,
  rerun: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    context.out.warn(
      'interrupted: stopping at the next safe point and rolling back; press Ctrl-C again to stop at once and leave the operation for `flydr resume` or `flydr abort`',
    );
    controller.abort(new Error('interrupted by Ctrl-C'));
  };
  process.once('SIGINT', onSignal);
  try {
    return await work(controller.signal);
  } catch (error) {
    const operationId = context.steps.lastOperationId;
    // Without a journaled operation (an error before it started), the error itself is kept.
    if (!controller.signal.aborted || operationId === undefined) throw error;
    if (isDrError(error, 'DR_OPERATION_FAILED')) throw error;
    throw rolledBack(context, operationId, rerun, error);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

// The error of a sync or restore that Ctrl-C stopped and that rolled back cleanly. The
// step's own error (often a transfer "aborted by the caller") would point at the network.
function rolledBack(
  context: CommandContext,
  operationId: string,
  rerun: string,
  cause: unknown,
): DrError {
  const failed = context.steps.steps.filter((step) => !step.ok).at(-1);
  const where = failed === undefined ? '' : ` at step ${failed.step}`;
  return new DrError(
    'DR_INTERRUPTED',
    `interrupted: ${operationId} stopped${where} and was rolled back`,
    `nothing is left to resume; run \`${rerun}\` again when you are ready`,
    { operationId, cause },
  );
}
