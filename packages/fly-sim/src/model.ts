import type { Ed25519KeyPair } from './ssh/ed25519-keys.js';

/** A JSON object as received in a request body. */
export type JsonObject = Record<string, unknown>;

/** A mount in a machine config. */
export interface MachineMount extends JsonObject {
  volume: string;
  path: string;
}

/** The parts of a machine config that the sim reads; the rest is stored as sent. */
export interface MachineConfig extends JsonObject {
  image: string;
  env?: Record<string, string>;
  init?: { exec?: string[]; entrypoint?: string[]; cmd?: string[] } & JsonObject;
  mounts?: MachineMount[];
  metadata?: Record<string, string>;
  checks?: Record<string, JsonObject>;
}

/** An organization. */
export interface OrgRecord {
  /** GraphQL node id. */
  id: string;
  slug: string;
  name: string;
  internalNumericId: number;
  /** The org's SSH certificate authority. */
  sshCa: Ed25519KeyPair;
}

/** An app. */
export interface AppRecord {
  id: string;
  name: string;
  orgSlug: string;
  network: string;
  internalNumericId: number;
  createdAt: Date;
  primaryRegion?: string;
}

/** A held lease on a machine. */
export interface LeaseRecord {
  nonce: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  owner: string;
  description: string;
  version: string;
}

/** One entry of a machine's event log. */
export interface MachineEventRecord {
  id: string;
  type: string;
  status: string;
  source: 'user' | 'flyd';
  timestamp: number;
  request?: JsonObject;
}

/** A machine with its state and the sim's bookkeeping. */
export interface MachineRecord {
  id: string;
  name: string;
  app: string;
  region: string;
  state: string;
  instanceId: string;
  privateIp: string;
  config: MachineConfig;
  createdAt: Date;
  updatedAt: Date;
  events: MachineEventRecord[];
  versions: { version: string; config: MachineConfig }[];
  cordoned: boolean;
  lease?: LeaseRecord;
  /** Whether the machine's host is down (set by the test control `hostDown`). */
  hostDown: boolean;
  /** Whether the app keeps running while the host is down (a partition, not a power cut). */
  appRunsWhileHostDown: boolean;
  hostKey: Ed25519KeyPair;
  /** Before this time (ms since the epoch) the API returns 404 for the machine. */
  visibleAt: number;
  /** Timer of the transition in progress, if any. */
  pending?: NodeJS.Timeout;
  /** Increases with every transition, so that a superseded one stops. */
  transitionSeq: number;
}

/** A volume: a folder on local disk. */
export interface VolumeRecord {
  id: string;
  name: string;
  app: string;
  region: string;
  zone: string;
  sizeGb: number;
  encrypted: boolean;
  state: string;
  attachedMachineId: string | null;
  createdAt: Date;
  snapshotRetention: number;
  autoBackupEnabled: boolean;
  fstype: string;
  /** Local folder with the volume's files. */
  dir: string;
  /** Bytes counted as used on top of the folder's files (test control `fillVolume`). */
  reservedBytes: number;
}

/** A volume snapshot: a copy of the volume's folder. */
export interface SnapshotRecord {
  id: string;
  volumeId: string;
  createdAt: Date;
  /** Bytes of data in the snapshot. */
  size: number;
  volumeSizeGb: number;
  digest: string;
  retentionDays: number;
  dir: string;
}

/** Machine states that hold a slot of their region's machine capacity. */
export const RUNNING_STATES: ReadonlySet<string> = new Set([
  'starting',
  'started',
  'replacing',
  'restarting',
  'stopping',
  'suspending',
]);

/** Checks whether the config's init overrides the image's command (maintenance: the app does not run). */
export function initOverridesApp(config: MachineConfig): boolean {
  const init = config.init;
  if (init === undefined) return false;
  return [init.exec, init.entrypoint, init.cmd].some((v) => Array.isArray(v) && v.length > 0);
}
