/**
 * Typed client for Fly.io's Machines, Volumes, Apps and Platform APIs, and for SSH certificates
 * through Fly's GraphQL API.
 *
 * Every response is parsed with zod (unknown fields are kept), every argument is checked before
 * a request is sent, and every failure is a {@link FlyError} with a stable `code` and a `hint`.
 * Reads and other idempotent calls are retried on network errors, 429 and 502-504; calls that
 * create or run something are never retried. A client-side limiter keeps bursts inside Fly's
 * published rate limits, and {@link withLease} guards a machine with a refreshed lease.
 *
 * @example
 * ```ts
 * const fly = createFlyClient({ token: process.env.FLY_API_TOKEN ?? '' });
 * const [machine] = await fly.machines.list('live-schedule-api', { states: ['started'] });
 * await withLease(fly, 'live-schedule-api', machine.id, { description: 'flydr backup' }, async () => {
 *   await fly.machines.cordon('live-schedule-api', machine.id);
 * });
 * ```
 *
 * @packageDocumentation
 */
export { type AuthHeaders, buildAuthHeaders, isMacaroon } from './auth.js';
export { createFlyClient, type FlyClient, type FlyClientOptions } from './client.js';
export {
  type ExecResult,
  FlyApiError,
  type FlyApiErrorDetails,
  FlyCapacityError,
  FlyError,
  type FlyErrorCode,
  FlyExecError,
  FlyInputError,
  FlyInvalidStateError,
  FlyLeaseConflictError,
  FlyNetworkError,
  FlyNotFoundError,
  FlyRateLimitError,
  FlyResponseError,
  FlyTimeoutError,
  FlyUnauthorizedError,
  isFlyError,
} from './errors.js';
export { type CallOptions, LEASE_NONCE_HEADER } from './http.js';
export { type FlyLogFields, type FlyLogger, silentLogger } from './logger.js';
export { DEFAULT_RATE_LIMITS, type RateLimitOptions } from './rate-limiter.js';
export { REDACTED } from './redact.js';
export type { AppsResource, CreateAppRequest, CreatedApp } from './resources/apps.js';
export type { ExecRequest } from './resources/machine-exec.js';
export type { Lease, LeaseOptions } from './resources/machine-leases.js';
export type {
  CreateMachineRequest,
  MountVolume,
  UpdateMachineRequest,
} from './resources/machine-request.js';
export {
  WAIT_STATES,
  type WaitOptions,
  type WaitResult,
  type WaitState,
} from './resources/machine-wait.js';
export type {
  CreateMachineOptions,
  GetMachineOptions,
  ListMachinesOptions,
  MachinesResource,
  RestartMachineOptions,
  StopMachineOptions,
} from './resources/machines.js';
export type {
  PlacementsRequest,
  PlacementsResult,
  PlatformResource,
} from './resources/platform.js';
export type { IssueCertificateRequest, SshResource } from './resources/ssh.js';
export type {
  CreateVolumeRequest,
  ExtendVolumeResult,
  UpdateVolumeRequest,
  VolumesResource,
} from './resources/volumes.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { type App, appSchema, listAppsResponseSchema } from './schemas/app.js';
export { errorBodySchema } from './schemas/common.js';
export { type LeaseData, leaseDataSchema, leaseResponseSchema } from './schemas/lease.js';
export {
  checkStatusSchema,
  execResponseSchema,
  imageRefSchema,
  type Machine,
  type MachineConfig,
  type MachineEvent,
  type MachineGuest,
  type MachineMount,
  type MachineService,
  type MachineSummary,
  type MachineVersion,
  machineConfigSchema,
  machineEventSchema,
  machineGuestSchema,
  machineMountSchema,
  machineSchema,
  machineServiceSchema,
  machineSummarySchema,
  machineVersionSchema,
  type ProcessStat,
  processStatSchema,
  type StartResult,
  startResponseSchema,
  waitResponseSchema,
} from './schemas/machine.js';
export {
  placementsResponseSchema,
  type Region,
  regionSchema,
  regionsResponseSchema,
} from './schemas/platform.js';
export {
  extendVolumeResponseSchema,
  type Volume,
  type VolumeSnapshot,
  volumeSchema,
  volumeSnapshotSchema,
} from './schemas/volume.js';
export { STOP_SIGNALS, type StopSignal } from './validate.js';
export { type LeaseContext, type WithLeaseOptions, withLease } from './with-lease.js';

/** Package name, for diagnostics. */
export const packageName = '@flydr/fly-client';
