import { isFlyError } from '@flydr/fly-client';
import { DrError, isDrError } from './errors.js';
import { activeSignal, type FailoverContext } from './failover-context.js';
import { preflight } from './failover-preflight.js';
import { buildReport, recordPrimary, unrecordPrimary } from './failover-record.js';
import { fenceSource, snapshotSource, stopSource, unfenceSource } from './failover-source-steps.js';
import {
  createStandbyMachine,
  createTargetVolume,
  deleteTargetVolume,
  destroyStandbyMachine,
  prepareTarget,
  restoreTarget,
  settleTarget,
  startTarget,
  stopTarget,
} from './failover-target-steps.js';
import {
  FAILOVER_STEPS,
  type FailoverParams,
  type FailoverReport,
  type FailoverRunOptions,
  type FailoverState,
  type FailoverStepName,
} from './failover-types.js';
import type { OperationRecord } from './journal.js';
import { refuseFinished, runnerOptionsFor } from './journaled-run.js';
import { type OperationStep, rollbackOperation, runOperation } from './operation-runner.js';
import { retryRateLimited } from './step-retry.js';

/** Description of each step, for a dry run's plan. */
export const FAILOVER_STEP_DESCRIPTIONS: Record<FailoverStepName, string> = {
  preflight:
    'check the app, both regions, the source machine, leases, the target volume or machine, and capacity',
  volume: 'create the target volume with compute hints, unless one was found',
  fence: 'cordon the source and put it into maintenance mode, so the app stops writing',
  snapshot:
    'take the final verified snapshot of the quiet source (or, if allowed, use a stale backup)',
  standby:
    'create the target machine stopped from the source config and pinned image, unless one was found',
  'prepare-target': 'start the target in maintenance mode (no app), before the fence',
  restore: 'restore the snapshot onto the target, which stays in maintenance mode',
  'stop-source': 'stop the source, so it cannot write once the target starts',
  'start-target': 'start the app on the target, wait for checks and the health URL',
  record:
    'record the new primary in machine metadata and the catalog; put the stopped source config back',
};

/** Result of a dry run: what preflight found and the steps a real run would take. */
export interface FailoverPlan {
  params: FailoverParams;
  /** Source, target, volume and generation that preflight chose. */
  found: Partial<FailoverState>;
  steps: { name: FailoverStepName; description: string }[];
}

/** Builds the journaled steps of a failover, each with its undo. */
export function failoverSteps(context: FailoverContext): OperationStep<FailoverState>[] {
  const steps: Record<FailoverStepName, OperationStep<FailoverState>> = {
    preflight: { name: 'preflight', run: (state) => preflight(context, state) },
    volume: {
      name: 'volume',
      run: (state) => createTargetVolume(context, state),
      undo: (state) => deleteTargetVolume(context, state),
    },
    fence: {
      name: 'fence',
      run: (state) => fenceSource(context, state),
      undo: (state) => unfenceSource(context, state),
    },
    snapshot: { name: 'snapshot', run: (state) => snapshotSource(context, state) },
    standby: {
      name: 'standby',
      run: (state) => createStandbyMachine(context, state),
      undo: (state) => destroyStandbyMachine(context, state),
    },
    'prepare-target': {
      name: 'prepare-target',
      run: (state) => prepareTarget(context, state),
      undo: (state) => settleTarget(context, state),
    },
    restore: {
      name: 'restore',
      run: (state) => restoreTarget(context, state),
      undo: (state) => settleTarget(context, state),
    },
    'stop-source': { name: 'stop-source', run: (state) => stopSource(context, state) },
    'start-target': {
      name: 'start-target',
      run: (state) => startTarget(context, state),
      undo: (state) => stopTarget(context, state),
    },
    record: {
      name: 'record',
      run: (state) => recordPrimary(context, state),
      undo: (state) => unrecordPrimary(context, state),
    },
  };
  return FAILOVER_STEPS.map((name) => withRateLimitRetry(context, steps[name]));
}

/** Wraps a step so that a 429 storm re-runs it (or its undo) instead of failing it. */
function withRateLimitRetry(
  context: FailoverContext,
  step: OperationStep<FailoverState>,
): OperationStep<FailoverState> {
  const undo = step.undo;
  const signal = () => {
    const active = activeSignal(context);
    return active === undefined ? {} : { signal: active };
  };
  return {
    name: step.name,
    run: (state, abort) =>
      retryRateLimited(step.name, context.logger, () => step.run(state, abort), signal()),
    ...(undo === undefined
      ? {}
      : {
          undo: (state: FailoverState) =>
            retryRateLimited(`undo ${step.name}`, context.logger, () => undo(state), signal()),
        }),
  };
}

/** A failover context without an operation id yet. */
export type FailoverBase = Omit<FailoverContext, 'operationId' | 'run'>;

/**
 * Journals a new failover (or failback) and runs it.
 *
 * @throws DrError with the failing step's own code (`DR_NO_CAPACITY`, `DR_DIVERGED`,
 *   `DR_REFUSED`, `DR_LOCKED`, ...) when every done step was rolled back, else
 *   `DR_OPERATION_FAILED` listing what could not be rolled back.
 */
export async function startFailover(
  base: FailoverBase,
  params: FailoverParams,
  run: FailoverRunOptions = {},
): Promise<FailoverReport> {
  const operationId = base.journal.create(params.kind, params.app, FAILOVER_STEPS, params);
  return execute({ ...base, operationId, run });
}

/**
 * Continues a journaled failover from its first unfinished step, after a crash or a
 * failed rollback.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation, and the
 *   errors of {@link startFailover}.
 */
export async function resumeFailover(
  base: FailoverBase,
  operationId: string,
  run: FailoverRunOptions = {},
): Promise<FailoverReport> {
  const record = base.journal.get<FailoverState>(operationId);
  refuseFinishedFailover(record, 'resume');
  return execute({ ...base, operationId, run });
}

/**
 * Rolls an unfinished failover back: the target is stopped and removed if the operation
 * created it, and the source runs its app again, uncordoned.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation,
 *   `DR_OPERATION_FAILED` when an undo fails (run abort again).
 */
export async function abortFailover(
  base: FailoverBase,
  operationId: string,
  run: FailoverRunOptions = {},
): Promise<OperationRecord<FailoverState>> {
  const record = base.journal.get<FailoverState>(operationId);
  refuseFinishedFailover(record, 'abort');
  const context: FailoverContext = { ...base, operationId, run };
  return rollbackOperation(
    base.journal,
    operationId,
    failoverSteps(context),
    runnerOptionsFor(context.emit, context.run),
  );
}

/**
 * Runs preflight only, changing nothing, and returns the plan.
 *
 * @throws the preflight errors.
 */
export async function planFailover(
  base: FailoverBase,
  params: FailoverParams,
  run: FailoverRunOptions = {},
): Promise<FailoverPlan> {
  // Preflight reads the journal only to skip its own operation; a dry run has none.
  const context: FailoverContext = { ...base, operationId: 'dry-run', run };
  const found = await preflight(context, { ...params });
  return {
    params,
    found,
    steps: FAILOVER_STEPS.map((name) => ({ name, description: FAILOVER_STEP_DESCRIPTIONS[name] })),
  };
}

async function execute(context: FailoverContext): Promise<FailoverReport> {
  const { journal, operationId } = context;
  try {
    const record = await runOperation(
      journal,
      operationId,
      failoverSteps(context),
      runnerOptionsFor(context.emit, context.run),
    );
    const report = buildReport(record, record.state);
    journal.patchState(operationId, { report });
    context.logger.info('failover finished', {
      app: record.app,
      operation_id: operationId,
      rpo_ms: report.rpoMs,
      rto_ms: report.rtoMs,
    });
    return report;
  } catch (error) {
    throw surfaceCause(error, journal.get<FailoverState>(operationId).state);
  }
}

/**
 * After a clean rollback, rethrows the step's own DrError (with the operation id), so
 * callers branch on `DR_NO_CAPACITY` or `DR_DIVERGED` rather than a generic failure. A
 * capacity error from Fly becomes `DR_NO_CAPACITY` naming the target region.
 */
function surfaceCause(error: unknown, state: FailoverState): unknown {
  if (!isDrError(error, 'DR_OPERATION_FAILED')) {
    return error;
  }
  const rollbackErrors = error.details.rollbackErrors;
  let cause = (error as Error & { cause?: unknown }).cause;
  if (Array.isArray(rollbackErrors) && rollbackErrors.length > 0) {
    return error;
  }
  const flyCapacity = flyCapacityCause(cause);
  if (flyCapacity !== undefined) {
    cause = midwayCapacityError(flyCapacity, state);
  }
  if (!isDrError(cause)) {
    return error;
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

/**
 * Returns Fly's capacity error behind a failed step: the step's own error, or the cause of
 * a `DR_NO_CAPACITY` raised for a machine update.
 */
function flyCapacityCause(cause: unknown): Error | undefined {
  if (isFlyError(cause, 'FLY_CAPACITY')) {
    return cause;
  }
  const inner = cause instanceof Error ? cause.cause : undefined;
  return isDrError(cause, 'DR_NO_CAPACITY') && isFlyError(inner, 'FLY_CAPACITY')
    ? inner
    : undefined;
}

/** Capacity that preflight saw can be gone by the time the target machine starts. */
function midwayCapacityError(cause: Error, state: FailoverState): DrError {
  const region = state.to;
  const next =
    state.kind === 'failback'
      ? `Run \`flydr failback --to ${region} --wait-for-capacity 30m\` to wait for capacity there`
      : `Run \`flydr failover --to ${region}\` again later`;
  return new DrError(
    'DR_NO_CAPACITY',
    `region ${region} ran out of capacity for the ${state.kind} target machine: ${cause.message}`,
    `${next}, or choose another region with \`flydr regions\`.`,
    { region, cause },
  );
}

/** Raises unless the failover or failback has steps left to resume or roll back. */
function refuseFinishedFailover(
  record: OperationRecord<FailoverState>,
  action: 'resume' | 'abort',
): void {
  const hint =
    record.status === 'succeeded'
      ? 'To go back, run a failback (or a failover to the old region).'
      : 'Start a new operation instead.';
  refuseFinished(record, action, 'operation', hint);
}
