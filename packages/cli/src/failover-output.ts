import type { FailoverReport } from '@flydr/dr-core';
import type { CommandContext } from './context.js';
import { CliError, ExitCode } from './exit-codes.js';
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
 * 4, leaving the operation for `flydr resume` or `flydr abort`. A second Ctrl-C ends the
 * process at once; the journal then shows the operation as interrupted.
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
        throw new CliError(
          `interrupted: ${id} is paused after step ${step}`,
          ExitCode.Interrupted,
          `run \`flydr resume ${id}\` to continue, or \`flydr abort ${id}\` to roll back`,
        );
      },
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

/**
 * Runs `work` with an AbortSignal that the first Ctrl-C (SIGINT) fires, so an operation
 * stops at a safe point and rolls back what it did. A second Ctrl-C ends the process at
 * once; the journal then shows the operation as interrupted for `flydr resume` or `abort`.
 */
export async function withInterrupt<T>(
  context: CommandContext,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    context.out.warn(
      'interrupted: stopping at the next safe point and rolling back; press Ctrl-C again to stop now and run `flydr resume` later',
    );
    controller.abort(new Error('interrupted by Ctrl-C'));
  };
  process.once('SIGINT', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}
