/**
 * The parts of @flydr/fly-client that dr-core uses, declared structurally so that the
 * package builds against any client and transport with these shapes (the real ones, or
 * a test double).
 */

/** Mount of a volume in a machine config. */
export interface MachineMountLike {
  volume: string;
  path: string;
  name?: string;
  size_gb?: number;
}

/** Image reference of a machine. */
export interface ImageRefLike {
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
}

/** Health check status of a machine. */
export interface CheckStatusLike {
  name?: string;
  status?: string;
  output?: string;
}

/** Machine config fields that dr-core reads or changes. */
export interface MachineConfigLike {
  image?: string;
  init?: { exec?: string[]; entrypoint?: string[]; cmd?: string[] } & Record<string, unknown>;
  mounts?: MachineMountLike[];
  metadata?: Record<string, string>;
  [key: string]: unknown;
}

/** Machine fields that dr-core reads. */
export interface MachineLike {
  id: string;
  name?: string;
  state: string;
  region: string;
  instance_id?: string;
  private_ip?: string;
  config?: MachineConfigLike;
  image_ref?: ImageRefLike;
  checks?: CheckStatusLike[];
}

/** Machines API lease. */
export interface LeaseLike {
  nonce: string;
  expiresAt?: number | string;
  owner?: string;
  description?: string;
}

/** Per-call options of the fly-client methods. */
export interface CallOptionsLike {
  signal?: AbortSignal;
  nonce?: string;
}

/** The fly-client methods that dr-core calls. */
export interface FlyClientLike {
  machines: {
    list(
      app: string,
      options?: { region?: string; states?: string[] } & CallOptionsLike,
    ): Promise<MachineLike[]>;
    get(app: string, machineId: string, options?: CallOptionsLike): Promise<MachineLike>;
    update(
      app: string,
      machineId: string,
      request: { config: MachineConfigLike; [key: string]: unknown },
      options?: CallOptionsLike,
    ): Promise<MachineLike>;
    wait(
      app: string,
      machineId: string,
      options: { state: string; instanceId?: string; timeoutMs?: number } & CallOptionsLike,
    ): Promise<unknown>;
    acquireLease(
      app: string,
      machineId: string,
      options: { ttlSeconds: number; description?: string } & CallOptionsLike,
    ): Promise<LeaseLike>;
    releaseLease(
      app: string,
      machineId: string,
      nonce: string,
      options?: CallOptionsLike,
    ): Promise<unknown>;
  };
}

/** Size, modification time and mode of a remote file. */
export interface RemoteFileStatLike {
  size: number;
  mtimeMs: number;
  mode: number;
}

/** Progress of a transfer. */
export interface TransferProgressLike {
  bytes: number;
  total: number;
  bytesPerSecond: number;
}

/** Options of a file transfer. */
export interface TransferOptionsLike {
  signal?: AbortSignal;
  idleTimeoutMs?: number;
  deadlineMs?: number;
  onProgress?(progress: TransferProgressLike): void;
  resume?: boolean;
}

/** Outcome of a file transfer. */
export interface TransferResultLike {
  bytes: number;
  sha256: string;
  durationMs: number;
  resumedFrom?: number;
}

/** Result of a command run on a machine. */
export interface RemoteExecResultLike {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** File access to one machine, over SSH/SFTP or the exec API. */
export interface MachineTransportLike {
  readonly kind: 'ssh' | 'exec';
  readonly machineId: string;
  stat(
    remotePath: string,
    options?: { signal?: AbortSignal },
  ): Promise<RemoteFileStatLike | undefined>;
  readRange(
    remotePath: string,
    offset: number,
    length: number,
    options?: { signal?: AbortSignal },
  ): Promise<Buffer>;
  download(
    remotePath: string,
    localPath: string,
    options?: TransferOptionsLike,
  ): Promise<TransferResultLike>;
  upload(
    localPath: string,
    remotePath: string,
    options?: TransferOptionsLike,
  ): Promise<TransferResultLike>;
  rename(from: string, to: string, options?: { signal?: AbortSignal }): Promise<void>;
  remove(remotePath: string, options?: { signal?: AbortSignal }): Promise<void>;
  exec(
    argv: string[],
    options?: {
      stdin?: Buffer | string;
      timeoutMs?: number;
      signal?: AbortSignal;
      allowFailure?: boolean;
    },
  ): Promise<RemoteExecResultLike>;
  close(): Promise<void>;
}

/** Opens a transport to a machine. */
export type MachineTransportFactoryLike = (machine: MachineLike) => Promise<MachineTransportLike>;
