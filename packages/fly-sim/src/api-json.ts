import { leaseJson } from './leases.js';
import { parseImageRef } from './machine-config.js';
import type { AppRecord, MachineRecord, OrgRecord, SnapshotRecord, VolumeRecord } from './model.js';
import type { SimWorld } from './world.js';

/** Options of the machine representation, from the request's query. */
export interface MachineJsonOptions {
  summary?: boolean;
  includeLease?: boolean;
  nonce?: string;
}

function checksJson(world: SimWorld, machine: MachineRecord): Record<string, unknown>[] {
  const passing = machine.state === 'started' && world.appRunning(machine.id);
  const updatedAt = machine.updatedAt.toISOString();
  return Object.keys(machine.config.checks ?? {}).map((name) => ({
    name,
    status: passing ? 'passing' : 'critical',
    output: passing ? 'HTTP GET /health: 200 OK' : 'connect: connection refused',
    updated_at: updatedAt,
  }));
}

/** A machine as the Machines API returns it. */
export function machineJson(
  world: SimWorld,
  machine: MachineRecord,
  options: MachineJsonOptions = {},
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: machine.id,
    name: machine.name,
    state: machine.state,
    region: machine.region,
    instance_id: machine.instanceId,
    private_ip: machine.privateIp,
    image_ref: parseImageRef(machine.config.image),
    cordoned: machine.cordoned,
    created_at: machine.createdAt.toISOString(),
    updated_at: machine.updatedAt.toISOString(),
  };
  if (options.summary === true) return json;

  json.config = structuredClone(machine.config);
  json.incomplete_config = false;
  json.events = machine.events.slice(0, 10).map((event) => ({ ...event }));
  json.checks = checksJson(world, machine);
  json.host_status = machine.hostDown ? 'unreachable' : 'ok';
  if (options.nonce !== undefined) json.nonce = options.nonce;
  if (options.includeLease === true && machine.lease !== undefined) {
    json.lease = leaseJson(machine.lease).data;
  }
  return json;
}

/** A volume as the Machines API returns it. */
export function volumeJson(
  world: SimWorld,
  volume: VolumeRecord,
  usedBytes: number,
): Record<string, unknown> {
  const holder =
    volume.attachedMachineId === null ? undefined : world.machines.get(volume.attachedMachineId);
  const blockSize = 4096;
  const bytesTotal = volume.sizeGb * 1024 ** 3;
  const blocks = Math.floor(bytesTotal / blockSize);
  const blocksUsed = Math.ceil(usedBytes / blockSize);
  return {
    id: volume.id,
    name: volume.name,
    state: volume.state,
    size_gb: volume.sizeGb,
    region: volume.region,
    zone: volume.zone,
    encrypted: volume.encrypted,
    attached_machine_id: holder?.state === 'destroyed' ? null : volume.attachedMachineId,
    attached_alloc_id:
      holder === undefined || holder.state === 'destroyed' ? null : holder.instanceId,
    created_at: volume.createdAt.toISOString(),
    fstype: volume.fstype,
    snapshot_retention: volume.snapshotRetention,
    auto_backup_enabled: volume.autoBackupEnabled,
    host_status: holder?.hostDown === true ? 'unreachable' : 'ok',
    type: 'local',
    block_size: blockSize,
    blocks,
    blocks_free: Math.max(0, blocks - blocksUsed),
    blocks_avail: Math.max(0, blocks - blocksUsed),
    bytes_total: bytesTotal,
    bytes_used: usedBytes,
  };
}

/** A volume snapshot as the Machines API returns it. */
export function snapshotJson(snapshot: SnapshotRecord): Record<string, unknown> {
  return {
    id: snapshot.id,
    size: snapshot.size,
    volume_size: snapshot.volumeSizeGb * 1024 ** 3,
    digest: snapshot.digest,
    created_at: snapshot.createdAt.toISOString(),
    status: 'created',
    retention_days: snapshot.retentionDays,
  };
}

/** An app as the Machines API returns it. */
export function appJson(world: SimWorld, app: AppRecord, org: OrgRecord): Record<string, unknown> {
  let machineCount = 0;
  for (const machine of world.machines.values()) {
    if (machine.app === app.name && machine.state !== 'destroyed') machineCount += 1;
  }
  let volumeCount = 0;
  for (const volume of world.volumes.values()) {
    if (volume.app === app.name && volume.state !== 'destroyed') volumeCount += 1;
  }
  return {
    id: app.id,
    name: app.name,
    status: machineCount > 0 ? 'deployed' : 'pending',
    network: app.network,
    internal_numeric_id: app.internalNumericId,
    machine_count: machineCount,
    volume_count: volumeCount,
    organization: { name: org.name, slug: org.slug, internal_numeric_id: org.internalNumericId },
  };
}
