import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { badRequest, SimApiError } from './api-error.js';
import { newSnapshotId, newVolumeId } from './ids.js';
import type { JsonObject, SnapshotRecord, VolumeRecord } from './model.js';
import type { SimWorld } from './world.js';

const VOLUME_NAME = /^[a-z0-9_]{1,30}$/;

/** Bytes used by the files under a folder (0 for a missing folder). */
export function folderBytes(dir: string): number {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Bytes used on a volume: its files plus the bytes a test reserved. */
export function volumeUsedBytes(volume: VolumeRecord): number {
  return folderBytes(volume.dir) + volume.reservedBytes;
}

function folderDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (folder: string, prefix: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else if (entry.isFile()) hash.update(`${prefix}${entry.name}\0`).update(readFileSync(path));
    }
  };
  walk(dir, '');
  return hash.digest('hex');
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw badRequest(`invalid ${field} ${JSON.stringify(value)}: expected a positive integer`);
  }
  return value;
}

/** Finds the data of a new volume: a snapshot, a source volume (fork), or none. */
function initialData(
  world: SimWorld,
  appName: string,
  body: JsonObject,
): { dir?: string; minGb: number } {
  if (typeof body.snapshot_id === 'string' && body.snapshot_id !== '') {
    const snapshot = world.snapshots.get(body.snapshot_id);
    const source = snapshot === undefined ? undefined : world.volumes.get(snapshot.volumeId);
    if (snapshot === undefined || source?.app !== appName) {
      throw badRequest(`snapshot ${body.snapshot_id} not found in app ${appName}`);
    }
    return { dir: snapshot.dir, minGb: snapshot.volumeSizeGb };
  }
  if (typeof body.source_volume_id === 'string' && body.source_volume_id !== '') {
    const source = world.getVolume(appName, body.source_volume_id);
    const holder =
      source.attachedMachineId === null ? undefined : world.machines.get(source.attachedMachineId);
    if (holder?.hostDown === true) {
      throw new SimApiError(412, {
        error: `cannot fork volume ${source.id}: its host is unreachable; fork from a snapshot instead`,
      });
    }
    return { dir: source.dir, minGb: source.sizeGb };
  }
  return { minGb: 1 };
}

/**
 * Creates a volume, empty or from a snapshot (`snapshot_id`) or a fork (`source_volume_id`).
 *
 * @throws SimApiError 400 for invalid fields, the region's capacity error when full.
 */
export function createVolume(world: SimWorld, appName: string, body: JsonObject): VolumeRecord {
  const app = world.getApp(appName);
  if (typeof body.name !== 'string' || !VOLUME_NAME.test(body.name)) {
    throw badRequest(
      `invalid volume name ${JSON.stringify(body.name)}: use 1 to 30 lowercase letters, digits or underscores`,
    );
  }
  const region =
    typeof body.region === 'string' && body.region !== '' ? body.region : app.primaryRegion;
  if (region === undefined || world.regions.get(region) === undefined) {
    throw badRequest(`invalid region ${JSON.stringify(body.region)}: name a known region code`);
  }
  const data = initialData(world, appName, body);
  const sizeGb = positiveInteger(body.size_gb, 'size_gb', Math.max(3, data.minGb));
  if (sizeGb < data.minGb) {
    throw badRequest(
      `invalid size_gb ${sizeGb}: the source is ${data.minGb} GB; use at least that`,
    );
  }

  const limit = world.regions.get(region)?.volumeLimit ?? 0;
  if (world.volumesIn(region) >= limit) {
    throw world.capacityErrors.errorFor({ kind: 'volume', region });
  }

  const id = newVolumeId();
  const dir = join(world.dataDir, 'volumes', id);
  if (data.dir !== undefined) cpSync(data.dir, dir, { recursive: true });
  else mkdirSync(dir, { recursive: true });

  const volume: VolumeRecord = {
    id,
    name: body.name,
    app: appName,
    region,
    zone: randomBytes(2).toString('hex'),
    sizeGb,
    encrypted: body.encrypted !== false,
    state: 'created',
    attachedMachineId: null,
    createdAt: new Date(),
    snapshotRetention: positiveInteger(body.snapshot_retention, 'snapshot_retention', 5),
    autoBackupEnabled: body.auto_backup_enabled !== false,
    fstype: typeof body.fstype === 'string' ? body.fstype : 'ext4',
    dir,
    reservedBytes: 0,
  };
  world.volumes.set(id, volume);
  return volume;
}

/** Applies `snapshot_retention` and `auto_backup_enabled` from an update body. */
export function updateVolume(volume: VolumeRecord, body: JsonObject): void {
  if (body.snapshot_retention !== undefined) {
    volume.snapshotRetention = positiveInteger(body.snapshot_retention, 'snapshot_retention', 5);
  }
  if (typeof body.auto_backup_enabled === 'boolean') {
    volume.autoBackupEnabled = body.auto_backup_enabled;
  }
}

/**
 * Grows a volume.
 *
 * @throws SimApiError 400 when the new size is not larger.
 */
export function extendVolume(volume: VolumeRecord, body: JsonObject): void {
  const sizeGb = positiveInteger(body.size_gb, 'size_gb', 0);
  if (sizeGb <= volume.sizeGb) {
    throw badRequest(
      `invalid size_gb ${sizeGb}: volumes only grow, and ${volume.id} has ${volume.sizeGb} GB`,
    );
  }
  volume.sizeGb = sizeGb;
}

/**
 * Destroys a volume that no live machine mounts. Its snapshots stay listable.
 *
 * @throws SimApiError 412 while a machine that is not destroyed mounts it.
 */
export function destroyVolume(world: SimWorld, volume: VolumeRecord): void {
  const holder =
    volume.attachedMachineId === null ? undefined : world.machines.get(volume.attachedMachineId);
  if (holder !== undefined && holder.state !== 'destroyed') {
    throw new SimApiError(412, {
      error: `volume ${volume.id} is attached to machine ${holder.id}; destroy the machine first`,
    });
  }
  volume.state = 'destroyed';
  volume.attachedMachineId = null;
}

/** Takes a snapshot: a copy of the volume's folder as it is now. */
export function snapshotVolume(world: SimWorld, volume: VolumeRecord): SnapshotRecord {
  const id = newSnapshotId();
  const dir = join(world.dataDir, 'snapshots', id);
  cpSync(volume.dir, dir, { recursive: true });
  const snapshot: SnapshotRecord = {
    id,
    volumeId: volume.id,
    createdAt: new Date(),
    size: folderBytes(dir),
    volumeSizeGb: volume.sizeGb,
    digest: folderDigest(dir),
    retentionDays: volume.snapshotRetention,
    dir,
  };
  world.snapshots.set(id, snapshot);
  return snapshot;
}
