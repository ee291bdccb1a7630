import type { Catalog } from './catalog.js';
import { errnoOf } from './errors.js';
import { ROLE_KEY } from './failover-preflight.js';
import type { FlyClient, Machine } from './fly-types.js';
import type { OperationJournal, OperationStatus } from './journal.js';
import type { PrimaryRecords } from './primary-record.js';
import { mountHolding } from './source-machine.js';
import { isMaintenanceConfig } from './stopped-config.js';

/** One machine as status shows it. */
export interface MachineStatus {
  id: string;
  name: string;
  region: string;
  state: string;
  /** `flydr_role` metadata: primary, standby, former-primary, or null. */
  role: string | null;
  cordoned: boolean;
  /** True while flydr's maintenance config keeps the app from running. */
  maintenance: boolean;
  /** True when the machine mounts the database's volume. */
  holdsDatabase: boolean;
  volumeId: string | null;
  hostStatus: string | null;
  checks: { name: string; status: string }[];
}

/** One volume as status shows it. */
export interface VolumeStatus {
  id: string;
  name: string;
  region: string;
  sizeGb: number;
  state: string;
  attachedMachineId: string | null;
}

/** An operation that is not finished. */
export interface UnfinishedOperation {
  id: string;
  kind: string;
  /** `interrupted` when the process that ran it is gone. */
  status: OperationStatus;
  pid: number;
  /** Step that was running or failed, if any. */
  step: string | null;
  updatedAt: string;
}

/** Something the operator should look at. */
export interface StatusWarning {
  code: 'two-writers' | 'unfinished-operation' | 'no-verified-backup' | 'primary-not-started';
  message: string;
}

/** The disaster-recovery state of an app. */
export interface RecoveryStatus {
  app: string;
  /** Machines grouped by region, regions sorted by code. */
  regions: { region: string; machines: MachineStatus[] }[];
  volumes: VolumeStatus[];
  /** The active primary: from flydr's record, else the one started machine holding the database. */
  primary: {
    machineId: string;
    region: string;
    generation: number | null;
    source: 'record' | 'started-machine';
  } | null;
  /** Newest verified backup and its age: the current RPO if the primary were lost now. */
  newestBackup: { id: number; finishedAt: string; ageMs: number } | null;
  unfinishedOperations: UnfinishedOperation[];
  warnings: StatusWarning[];
}

/** Sources that {@link readStatus} reads. */
export interface StatusSources {
  client: FlyClient;
  app: string;
  databasePath: string;
  catalog: Catalog;
  journal: OperationJournal;
  records: PrimaryRecords;
  now: () => Date;
}

/**
 * Reads the app's machines and volumes from the Machines API and flydr's catalog, and
 * returns the state with warnings: two started writers (split brain), an unfinished or
 * interrupted operation, no verified backup.
 *
 * @throws the client's FlyError classes.
 */
export async function readStatus(sources: StatusSources): Promise<RecoveryStatus> {
  const { client, app, databasePath } = sources;
  const machines = (await client.machines.list(app)).filter(
    (machine) => machine.state !== 'destroyed',
  );
  const volumes = await client.volumes.list(app);
  const machineStatuses = machines.map((machine) => describeMachine(machine, databasePath));
  const warnings: StatusWarning[] = [];

  const writers = machineStatuses.filter(
    (machine) => machine.holdsDatabase && !machine.maintenance && isRunning(machine.state),
  );
  if (writers.length > 1) {
    warnings.push({
      code: 'two-writers',
      message: `${writers.length} started machines run the app on the database: ${writers.map((m) => `${m.id} (${m.region})`).join(', ')}; stop all but the primary now (split brain)`,
    });
  }

  const primary = activePrimary(sources, writers);
  if (primary !== null && !writers.some((machine) => machine.id === primary.machineId)) {
    warnings.push({
      code: 'primary-not-started',
      message: `the recorded primary ${primary.machineId} (${primary.region}) is not running its app`,
    });
  }

  const unfinishedOperations = sources.journal.unfinished(app).flatMap((operation) => {
    const open = operation.steps.find(
      (step) => step.status === 'running' || step.status === 'failed',
    );
    const pending = operation.steps.some(
      (step) => step.status === 'done' || step.status === 'running' || step.status === 'failed',
    );
    if (!pending) return [];
    const status: OperationStatus =
      operation.status === 'running' && !processAlive(operation.pid)
        ? 'interrupted'
        : operation.status;
    return [
      {
        id: operation.id,
        kind: operation.kind,
        status,
        pid: operation.pid,
        step: open?.name ?? null,
        updatedAt: operation.updatedAt,
      },
    ];
  });
  for (const operation of unfinishedOperations) {
    warnings.push({
      code: 'unfinished-operation',
      message: `${operation.kind} ${operation.id} is ${operation.status}${operation.step === null ? '' : ` at step ${operation.step}`}; run \`flydr resume ${operation.id}\` or \`flydr abort ${operation.id}\``,
    });
  }

  const backup = sources.catalog.latestVerified();
  const newestBackup =
    backup === undefined
      ? null
      : {
          id: backup.id,
          finishedAt: backup.finishedAt,
          ageMs: sources.now().getTime() - Date.parse(backup.finishedAt),
        };
  if (newestBackup === null) {
    warnings.push({
      code: 'no-verified-backup',
      message: `app ${app} has no verified backup; run \`flydr backup\``,
    });
  }

  return {
    app,
    regions: groupByRegion(machineStatuses),
    volumes: volumes
      .filter((volume) => volume.state !== 'destroyed')
      .map((volume) => ({
        id: volume.id,
        name: volume.name,
        region: volume.region,
        sizeGb: volume.size_gb,
        state: volume.state,
        attachedMachineId: volume.attached_machine_id ?? null,
      })),
    primary,
    newestBackup,
    unfinishedOperations,
    warnings,
  };
}

function describeMachine(machine: Machine, databasePath: string): MachineStatus {
  const mount = mountHolding(machine, databasePath);
  return {
    id: machine.id,
    name: machine.name ?? machine.id,
    region: machine.region ?? 'unknown',
    state: machine.state ?? 'unknown',
    role: machine.config?.metadata?.[ROLE_KEY] ?? null,
    cordoned: machine.cordoned === true,
    maintenance: isMaintenanceConfig(machine.config),
    holdsDatabase: mount !== undefined,
    volumeId: mount?.volume ?? null,
    hostStatus: machine.host_status ?? null,
    checks: (machine.checks ?? []).map((check) => ({
      name: check.name ?? 'check',
      status: check.status ?? 'unknown',
    })),
  };
}

function isRunning(state: string): boolean {
  return state === 'started' || state === 'starting' || state === 'replacing';
}

function activePrimary(
  sources: StatusSources,
  writers: MachineStatus[],
): RecoveryStatus['primary'] {
  const recorded = sources.records.current(sources.app);
  if (recorded !== undefined) {
    return {
      machineId: recorded.machineId,
      region: recorded.region,
      generation: recorded.generation,
      source: 'record',
    };
  }
  const only = writers.length === 1 ? writers[0] : undefined;
  return only === undefined
    ? null
    : { machineId: only.id, region: only.region, generation: null, source: 'started-machine' };
}

function groupByRegion(machines: MachineStatus[]): RecoveryStatus['regions'] {
  const regions = new Map<string, MachineStatus[]>();
  for (const machine of machines) {
    regions.set(machine.region, [...(regions.get(machine.region) ?? []), machine]);
  }
  return [...regions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([region, list]) => ({ region, machines: list }));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) !== 'ESRCH';
  }
}
