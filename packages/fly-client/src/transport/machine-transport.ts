/** Size, modification time and permission bits of a file on a machine. */
export interface RemoteFileStat {
  size: number;
  mtimeMs: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

/** Progress of one transfer, reported at most every 100 ms and once at the end. */
export interface TransferProgress {
  /** Bytes in the destination so far, including bytes kept from a resumed partial file. */
  bytes: number;
  total: number;
  /** Mean rate of this attempt, in bytes per second. */
  bytesPerSecond: number;
}

/** Options of {@link MachineTransport.download} and {@link MachineTransport.upload}. */
export interface TransferOptions {
  signal?: AbortSignal;
  /**
   * Fails the transfer with TRANSPORT_TIMEOUT when no byte moves for this long.
   * @default 30000
   */
  idleTimeoutMs?: number;
  /** Fails the transfer with TRANSPORT_TIMEOUT when it has not finished this long after it started. */
  deadlineMs?: number;
  onProgress?: (progress: TransferProgress) => void;
  /**
   * Continues from the partial file (`<destination>.flydr-partial`) a failed attempt left.
   * The final sha256 comparison decides whether the result is kept.
   * @default true
   */
  resume?: boolean;
}

/** Outcome of a verified transfer. */
export interface TransferResult {
  bytes: number;
  /** Hex sha256 of the whole file, equal at both ends. */
  sha256: string;
  durationMs: number;
  /** Offset the transfer continued from, when it resumed a partial file. */
  resumedFrom?: number;
}

/** Options of {@link MachineTransport.exec}. */
export interface ExecOptions {
  stdin?: Buffer | string;
  /** @default 60000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Returns a non-zero exit code instead of throwing TRANSPORT_COMMAND_FAILED. */
  allowFailure?: boolean;
}

/** Exit code and output of a command run on a machine. */
export interface ExecOutput {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Options taken by the small file operations. */
export interface OperationOptions {
  signal?: AbortSignal;
}

/**
 * The fields of a Machines API machine that a transport reads. A `Machine` from the client
 * fits this type.
 */
export interface TransportMachine {
  id: string;
  name?: string | null;
  /** Machine state; a transport refuses to connect unless it is `started` or unknown. */
  state?: string | null;
  region?: string | null;
  /** The machine's 6PN (IPv6) address. */
  private_ip?: string | null;
}

/**
 * File access to one Fly machine. Remote paths are absolute paths on the machine.
 *
 * Every transfer writes to a temporary name, syncs it, compares size and sha256 at both ends
 * and then renames it into place, so the destination name only ever contains a complete file.
 */
export interface MachineTransport {
  readonly kind: 'ssh' | 'exec';
  readonly machineId: string;

  /** Returns the file's size, mtime and mode, or undefined when it does not exist. */
  stat(remotePath: string, opts?: OperationOptions): Promise<RemoteFileStat | undefined>;

  /**
   * Reads `length` bytes at `offset`; fewer at the end of the file. Meant for headers.
   * @throws TransportError TRANSPORT_REMOTE_NOT_FOUND when the file does not exist.
   */
  readRange(
    remotePath: string,
    offset: number,
    length: number,
    opts?: OperationOptions,
  ): Promise<Buffer>;

  /**
   * Copies a remote file to `localPath`, verified.
   * @throws TransportError TRANSPORT_LOCAL_DIR_MISSING, TRANSPORT_REMOTE_NOT_FOUND,
   * TRANSPORT_DISK_FULL, TRANSPORT_CHECKSUM_MISMATCH, TRANSPORT_TIMEOUT, TRANSPORT_ABORTED.
   */
  download(remotePath: string, localPath: string, opts?: TransferOptions): Promise<TransferResult>;

  /**
   * Copies a local file to `remotePath` on the machine, verified.
   * @throws TransportError TRANSPORT_LOCAL_NOT_FOUND, TRANSPORT_REMOTE_NOT_FOUND (folder),
   * TRANSPORT_DISK_FULL, TRANSPORT_CHECKSUM_MISMATCH, TRANSPORT_TIMEOUT, TRANSPORT_ABORTED.
   */
  upload(localPath: string, remotePath: string, opts?: TransferOptions): Promise<TransferResult>;

  /** Renames `from` to `to` on the machine, atomically replacing `to`. */
  rename(from: string, to: string, opts?: OperationOptions): Promise<void>;

  /** Removes a file on the machine; a missing file is not an error. */
  remove(remotePath: string, opts?: OperationOptions): Promise<void>;

  /**
   * Runs a command given as an argv array on the machine.
   * @throws TransportError TRANSPORT_COMMAND_FAILED on a non-zero exit unless `allowFailure`,
   * TRANSPORT_TOOL_MISSING when the program does not exist (exit 127).
   */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecOutput>;

  /** Closes the connection; later calls fail with TRANSPORT_CLOSED. */
  close(): Promise<void>;
}

/**
 * Receiver of the transports' log lines: lowercase events with fields such as `machine_id`.
 * A FlyLogger from the client fits. Lines never contain keys, certificates or tokens.
 */
export interface TransportLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Opens a transport to a machine; dr-core takes one of these. */
export type MachineTransportFactory = (machine: TransportMachine) => Promise<MachineTransport>;
