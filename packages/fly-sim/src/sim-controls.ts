import type { AppWriterLog } from './live-app.js';

/** Options of {@link Sim.seedMachine}: a machine with its own new volume. */
export interface SeedMachineOptions {
  /** Region of the machine and its volume. @default the app's primary region, else the first region */
  region?: string;
  /** @default "registry.fly.io/<app>:deployment-1" */
  image?: string;
  /** Mount path of the volume. @default "/app/data" */
  mountPath?: string;
  /** @default "data" */
  volumeName?: string;
  /** @default 1 */
  volumeSizeGb?: number;
  env?: Record<string, string>;
  metadata?: Record<string, string>;
  /** Init override; a non-empty exec, entrypoint or cmd keeps the app from running. */
  init?: { exec?: string[]; entrypoint?: string[]; cmd?: string[] };
  /** Create the machine without starting it. @default false */
  skipLaunch?: boolean;
}

/** Ids and address of a machine that {@link Sim.seedMachine} created. */
export interface SeededMachine {
  machineId: string;
  volumeId: string;
  privateIp: string;
  region: string;
}

/** A view of a machine for tests. */
export interface SimMachineView {
  id: string;
  state: string;
  region: string;
  privateIp: string;
  /** Local folder of the mounted volume, undefined without one. */
  volumeDir: string | undefined;
  /** Path of the app's database on the machine, undefined without a volume. */
  databasePath: string | undefined;
  /** Host key as an authorized_keys / known_hosts key ("ssh-ed25519 AAAA..."). */
  hostPublicKey: string;
}

/** The ground truth of one machine's simulated app. */
export interface AppWriterView {
  /** Every row id the app saw committed, across its runs on this machine. */
  committedIds(): number[];
  /** Whether the app (and its writer) runs now. */
  running(): boolean;
  /** URL of `GET /health` while the app runs. */
  healthUrl(): string | undefined;
  /** Errors the writer hit. */
  errors(): string[];
}

/** Builds the writer view from a log and the runtime's state. */
export function appWriterView(
  log: AppWriterLog,
  running: () => boolean,
  healthUrl: () => string | undefined,
): AppWriterView {
  return {
    committedIds: () => [...log.committedIds],
    running,
    healthUrl,
    errors: () => [...log.errors],
  };
}
