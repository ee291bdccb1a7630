import { messageOf } from './errors.js';
import type { FailoverContext } from './failover-context.js';
import { GENERATION_KEY, ROLE_KEY } from './failover-preflight.js';
import { restoreSourceConfig } from './failover-source-steps.js';
import type { FailoverReport, FailoverState } from './failover-types.js';
import type { OperationRecord } from './journal.js';
import { withOperationLease } from './machine-lease.js';

/**
 * Records the new primary: metadata `flydr_role=primary` and `flydr_generation` on the
 * target, `flydr_role=former-primary` on the source (whose normal config comes back while it
 * stays stopped), and a primary record in the catalog.
 * Returns the measured report (RPO, RTO, step durations).
 */
export async function recordPrimary(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId } = context;
  const { app } = state;
  const targetId = state.targetMachineId as string;
  const sourceId = state.sourceMachineId as string;
  const generation = state.generation ?? 1;

  await withOperationLease(client, journal, operationId, app, targetId, async () => {
    await client.machines.setMetadata(app, targetId, ROLE_KEY, 'primary');
    await client.machines.setMetadata(app, targetId, GENERATION_KEY, String(generation));
  });
  // The config update replaces the metadata too, so the role is set after it.
  await restoreSourceConfig(context, state);
  await setRoleQuietly(context, state, sourceId, 'former-primary');

  context.records.record({
    app,
    generation,
    region: state.to,
    machineId: targetId,
    volumeId: state.targetVolumeId ?? null,
    sha256: state.backupSha256 as string,
    operationId,
    recordedAt: context.now().toISOString(),
  });
  return { report: buildReport(journal.get<FailoverState>(operationId), state) };
}

/** Undoes the record: deletes the primary record and gives the machines their roles back. */
export async function unrecordPrimary(
  context: FailoverContext,
  state: FailoverState,
): Promise<void> {
  context.records.deleteForOperation(state.app, context.operationId);
  if (state.targetMachineId !== undefined) {
    await setRoleQuietly(context, state, state.targetMachineId, 'standby');
  }
  if (state.sourceMachineId !== undefined) {
    await setRoleQuietly(context, state, state.sourceMachineId, 'primary');
  }
}

/** Sets a machine's role; an unreachable or destroyed machine only gets a warning. */
async function setRoleQuietly(
  context: FailoverContext,
  state: FailoverState,
  machineId: string,
  role: string,
): Promise<void> {
  const { client, journal, operationId } = context;
  try {
    await withOperationLease(client, journal, operationId, state.app, machineId, () =>
      client.machines.setMetadata(state.app, machineId, ROLE_KEY, role),
    );
  } catch (error) {
    context.logger.warn('cannot set the role of a machine', {
      app: state.app,
      machine_id: machineId,
      role,
      error: messageOf(error),
    });
  }
}

/**
 * Builds the report of an operation from its journal: RPO from the snapshot step, RTO from
 * the start of the fence to the healthy target, and each step's duration.
 */
export function buildReport(
  record: OperationRecord<FailoverState>,
  state: FailoverState,
): FailoverReport {
  const fenceStartedAt = Date.parse(state.fenceStartedAt ?? record.createdAt);
  const healthyAt = Date.parse(state.targetHealthyAt ?? new Date().toISOString());
  return {
    operationId: record.id,
    kind: state.kind,
    from: state.from,
    to: state.to,
    sourceMachineId: state.sourceMachineId as string,
    targetMachineId: state.targetMachineId as string,
    generation: state.generation ?? 1,
    backupId: state.backupId as number,
    rpoMs: state.rpoMs ?? 0,
    rtoMs: Math.max(0, healthyAt - fenceStartedAt),
    steps: record.steps.map((step) => ({
      name: step.name,
      durationMs:
        step.startedAt === null || step.finishedAt === null
          ? 0
          : Date.parse(step.finishedAt) - Date.parse(step.startedAt),
    })),
  };
}
