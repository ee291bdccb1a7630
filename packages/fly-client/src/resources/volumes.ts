import { z } from 'zod';
import type { ClientContext } from '../context.js';
import { FlyInputError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import type { MachineGuest } from '../schemas/machine.js';
import {
  extendVolumeResponseSchema,
  type Volume,
  type VolumeSnapshot,
  volumeSchema,
  volumeSnapshotSchema,
} from '../schemas/volume.js';
import {
  checkAppName,
  checkInteger,
  checkRegionCode,
  checkSnapshotId,
  checkVolumeId,
  checkVolumeName,
  checkVolumeSizeGb,
} from '../validate.js';
import { appPath, volumePath } from './paths.js';

/** Body of `POST /v1/apps/{app}/volumes`, in the API's own field names. */
export interface CreateVolumeRequest {
  /** Volume name; the machine's mount refers to volumes by it. */
  name: string;
  /** Concrete region code such as `sin`; volume create does not take aliases like `us`. */
  region: string;
  /** Size in GB. @default 3 (Fly's default) */
  size_gb?: number | undefined;
  /** @default true */
  encrypted?: boolean | undefined;
  /** Refuse to share a host zone with the app's other volumes. @default true */
  require_unique_zone?: boolean | undefined;
  unique_zone_app_wide?: boolean | undefined;
  /** Restore from this snapshot; size must be at least the snapshot's volume size. */
  snapshot_id?: string | undefined;
  /** Fork this volume (same app, any region); data copies in the background (`hydrating`). */
  source_volume_id?: string | undefined;
  /** Days to keep automatic snapshots, 1 to 60. @default 5 */
  snapshot_retention?: number | undefined;
  auto_backup_enabled?: boolean | undefined;
  fstype?: 'ext4' | 'raw' | undefined;
  /** Guest of the machine that will mount it, so Fly picks a host that can run that machine. */
  compute?: MachineGuest | undefined;
  /** Image of that machine, for the same reason. */
  compute_image?: string | undefined;
  [key: string]: unknown;
}

/** Body of `PUT /v1/apps/{app}/volumes/{id}`. */
export interface UpdateVolumeRequest {
  snapshot_retention?: number | undefined;
  auto_backup_enabled?: boolean | undefined;
}

/** Result of {@link VolumesResource.extend}. */
export interface ExtendVolumeResult {
  volume: Volume;
  /** True when the attached machine must restart to see the new size. */
  needsRestart: boolean;
}

function checkRetention(value: unknown): void {
  if (value !== undefined) {
    checkInteger(value, 'snapshot_retention', 1, 60, 'Fly keeps snapshots 1 to 60 days.');
  }
}

/**
 * Checks a create request before it is sent.
 *
 * @throws FlyInputError naming the first invalid field.
 */
export function checkCreateVolumeRequest(request: unknown): CreateVolumeRequest {
  if (typeof request !== 'object' || request === null) {
    throw new FlyInputError(
      'request',
      'missing volume create request',
      'Pass { name, region, size_gb }.',
    );
  }
  const candidate = request as CreateVolumeRequest;
  checkVolumeName(candidate.name);
  checkRegionCode(candidate.region);
  if (candidate.size_gb !== undefined) checkVolumeSizeGb(candidate.size_gb, 'size_gb');
  if (candidate.snapshot_id !== undefined) checkSnapshotId(candidate.snapshot_id, 'snapshot_id');
  if (candidate.source_volume_id !== undefined)
    checkVolumeId(candidate.source_volume_id, 'source_volume_id');
  if (candidate.snapshot_id !== undefined && candidate.source_volume_id !== undefined) {
    throw new FlyInputError(
      'snapshot_id',
      'invalid volume create request: both snapshot_id and source_volume_id given',
      'Restore from a snapshot, or fork a volume, not both.',
    );
  }
  checkRetention(candidate.snapshot_retention);
  if (candidate.fstype !== undefined && candidate.fstype !== 'ext4' && candidate.fstype !== 'raw') {
    throw new FlyInputError(
      'fstype',
      `invalid fstype ${JSON.stringify(candidate.fstype)}: expected "ext4" or "raw"`,
      'Leave fstype out for ext4.',
    );
  }
  return candidate;
}

/** Volumes of one app: list, get, create (new, restore, fork), update, extend, delete, snapshots. */
export class VolumesResource {
  readonly #context: ClientContext;

  /** Built by {@link createFlyClient}; not meant to be constructed directly. */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  #onVolume(app: string, volumeId: string, action: string, options: CallOptions) {
    checkAppName(app);
    checkVolumeId(volumeId);
    return {
      rate: { key: `volumes.${action}:${app}/${volumeId}`, class: 'action' as const },
      signal: options.signal,
      subject: `volume ${volumeId} of app ${app}`,
    };
  }

  /**
   * Lists the app's volumes. Sends `GET /v1/apps/{app}/volumes`; retried like every read.
   *
   * @throws FlyInputError for a bad name (nothing sent); FlyNotFoundError; other FlyApiError classes.
   */
  async list(app: string, options: CallOptions = {}): Promise<Volume[]> {
    checkAppName(app);
    const volumes = await restRequest(this.#context, {
      endpoint: 'volumes.list',
      method: 'GET',
      path: `${appPath(app)}/volumes`,
      schema: z.array(volumeSchema).nullable(),
      idempotent: true,
      rate: { key: `volumes.list:${app}`, class: 'action' },
      signal: options.signal,
      subject: `volumes of app ${app}`,
    });
    return volumes ?? [];
  }

  /**
   * Gets one volume. Sends `GET .../volumes/{id}`; retried.
   *
   * @throws FlyInputError for a bad id (nothing sent); FlyNotFoundError; other FlyApiError classes.
   */
  async get(app: string, volumeId: string, options: CallOptions = {}): Promise<Volume> {
    const common = this.#onVolume(app, volumeId, 'get', options);
    return restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.get',
      method: 'GET',
      path: volumePath(app, volumeId),
      schema: volumeSchema,
      idempotent: true,
    });
  }

  /**
   * Creates a volume: empty, restored from `snapshot_id`, or forked from `source_volume_id`
   * (any region of the same app). Sends `POST /v1/apps/{app}/volumes` with the request.
   *
   * Never retried: after a network error or timeout the volume may exist. Reconcile by listing
   * the app's volumes for the name and region (and a `created_at` after the attempt) before
   * creating again; delete a duplicate if one appears.
   *
   * @throws FlyInputError for a bad name, region, size, snapshot or source id (nothing sent);
   *   FlyCapacityError when the region has no room; other FlyApiError classes.
   */
  async create(
    app: string,
    request: CreateVolumeRequest,
    options: CallOptions = {},
  ): Promise<Volume> {
    checkAppName(app);
    checkCreateVolumeRequest(request);
    return restRequest(this.#context, {
      endpoint: 'volumes.create',
      method: 'POST',
      path: `${appPath(app)}/volumes`,
      body: request,
      schema: volumeSchema,
      idempotent: false,
      rate: { key: `volumes.create:${app}`, class: 'action' },
      signal: options.signal,
      region: request.region,
      subject: `new volume ${request.name} in app ${app}`,
    });
  }

  /**
   * Changes snapshot settings. Sends `PUT .../volumes/{id}` with `{ snapshot_retention?,
   * auto_backup_enabled? }`; retried, as the same settings twice have the same effect.
   *
   * @throws FlyInputError for bad settings (nothing sent); FlyApiError classes.
   */
  async update(
    app: string,
    volumeId: string,
    request: UpdateVolumeRequest,
    options: CallOptions = {},
  ): Promise<Volume> {
    const common = this.#onVolume(app, volumeId, 'update', options);
    checkRetention(request?.snapshot_retention);
    return restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.update',
      method: 'PUT',
      path: volumePath(app, volumeId),
      body: {
        snapshot_retention: request.snapshot_retention,
        auto_backup_enabled: request.auto_backup_enabled,
      },
      schema: volumeSchema,
      idempotent: true,
    });
  }

  /**
   * Grows a volume to `sizeGb`. Sends `PUT .../volumes/{id}/extend` with `{ size_gb }`.
   * Volumes only grow. Not retried; after a network error, `get` shows the current size.
   *
   * @throws FlyInputError for a size outside 1-500 GB (nothing sent); FlyCapacityError when the
   *   host has no room; FlyApiError (400) when the size is not larger; other FlyApiError classes.
   */
  async extend(
    app: string,
    volumeId: string,
    sizeGb: number,
    options: CallOptions = {},
  ): Promise<ExtendVolumeResult> {
    const common = this.#onVolume(app, volumeId, 'extend', options);
    checkVolumeSizeGb(sizeGb);
    const response = await restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.extend',
      method: 'PUT',
      path: `${volumePath(app, volumeId)}/extend`,
      body: { size_gb: sizeGb },
      schema: extendVolumeResponseSchema,
      idempotent: false,
    });
    return { volume: response.volume, needsRestart: response.needs_restart ?? false };
  }

  /**
   * Deletes a volume; Fly keeps it recoverable (`pending_destroy`) for a while. Sends
   * `DELETE .../volumes/{id}` and returns the volume as Fly reports it. Not retried; after a
   * network error, `get` shows whether it is gone.
   *
   * @throws FlyInvalidStateError when a machine still has it attached; other FlyApiError classes.
   */
  async delete(
    app: string,
    volumeId: string,
    options: CallOptions = {},
  ): Promise<Volume | undefined> {
    const common = this.#onVolume(app, volumeId, 'delete', options);
    const volume = await restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.delete',
      method: 'DELETE',
      path: volumePath(app, volumeId),
      schema: volumeSchema.nullable(),
      emptyAs: null,
      idempotent: false,
    });
    return volume ?? undefined;
  }

  /**
   * Lists a volume's snapshots, also for a deleted volume within retention. Sends
   * `GET .../volumes/{id}/snapshots`; retried.
   *
   * @throws FlyNotFoundError; other FlyApiError classes.
   */
  async listSnapshots(
    app: string,
    volumeId: string,
    options: CallOptions = {},
  ): Promise<VolumeSnapshot[]> {
    const common = this.#onVolume(app, volumeId, 'snapshots', options);
    const snapshots = await restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.listSnapshots',
      method: 'GET',
      path: `${volumePath(app, volumeId)}/snapshots`,
      schema: z.array(volumeSnapshotSchema).nullable(),
      idempotent: true,
    });
    return snapshots ?? [];
  }

  /**
   * Starts an on-demand snapshot. Sends `POST .../volumes/{id}/snapshots`; the response body is
   * ignored because Fly documents none.
   *
   * Never retried, because a lost response may still mean a snapshot started. Reconcile with
   * {@link VolumesResource.listSnapshots}: a snapshot created after the attempt means it went
   * through.
   *
   * @throws FlyNotFoundError; FlyApiError classes.
   */
  async createSnapshot(app: string, volumeId: string, options: CallOptions = {}): Promise<void> {
    const common = this.#onVolume(app, volumeId, 'snapshot', options);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'volumes.createSnapshot',
      method: 'POST',
      path: `${volumePath(app, volumeId)}/snapshots`,
      idempotent: false,
    });
  }
}
