import { createHash } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { posix } from 'node:path';

import { TransportError } from './errors.js';
import {
  assertLocalDirectory,
  assertLocalSpace,
  commitLocalFile,
  existingSize,
  hashFilePrefix,
  localFileSize,
  partialPath,
} from './local-files.js';
import type {
  ExecOptions,
  ExecOutput,
  MachineTransport,
  OperationOptions,
  RemoteFileStat,
  TransferOptions,
  TransferResult,
  TransportLogger,
  TransportMachine,
} from './machine-transport.js';
import {
  assertRemotePath,
  EXIT_COMMAND_NOT_FOUND,
  parseDiskFreeOutput,
  parseSha256Output,
  parseStatOutput,
  remoteCommands,
} from './remote-commands.js';
import { checkExit } from './ssh-connection.js';
import { remoteNotFound } from './ssh-download.js';
import { assertStarted } from './ssh-transport.js';
import {
  assertSameDigest,
  attemptResult,
  planTransfer,
  RestartFromZero,
  sizeMismatch,
  type TransferPlan,
} from './transfer-attempt.js';
import { TransferWatch } from './transfer-watch.js';

/** Request of the Machines API exec call, as `client.machines.exec` takes it. */
export interface MachineExecRequest {
  command: string[];
  stdin?: string;
  timeoutSeconds?: number;
  allowFailure?: boolean;
}

/** Result of the Machines API exec call. */
export interface MachineExecResult {
  exitCode: number;
  exitSignal?: number;
  stdout: string;
  stderr: string;
}

/** The exec method of `client.machines` (structural, so this subpath does not load the client). */
export interface MachineExecApi {
  exec(
    app: string,
    machineId: string,
    request: MachineExecRequest,
    options?: { signal?: AbortSignal },
  ): Promise<MachineExecResult>;
}

/** Calls one chunk may take, counting retries after failures. */
const MAX_CHUNK_ATTEMPTS = 8;

/** Attempts of one exec call that Fly rejects with 429 (rate limited). */
const MAX_RATE_LIMITED_ATTEMPTS = 6;

/** Client error codes after which retrying a chunk cannot help. */
const FINAL_API_CODES = new Set([
  'FLY_UNAUTHORIZED',
  'FLY_NOT_FOUND',
  'FLY_INVALID_STATE',
  'FLY_INVALID_INPUT',
]);

/** Options of {@link ExecTransport.connect}. */
export interface ExecTransportOptions {
  app: string;
  machine: TransportMachine;
  /** Usually `client.machines`. */
  machines: MachineExecApi;
  /**
   * File bytes per exec call at the start; halved after a call fails, down to `minChunkSize`.
   * Must be a power of two. @default 1048576 (1 MiB)
   */
  chunkSize?: number;
  /** Smallest chunk before a failing call is reported. Must be a power of two. @default 16384 */
  minChunkSize?: number;
  /** Timeout of one exec call on the machine, in seconds. @default 60 */
  callTimeoutSeconds?: number;
  /** Receives chunk size reductions and rate-limit waits. @default no logging */
  logger?: TransportLogger;
}

/**
 * Machine file transport over the Machines API exec call: needs only an API token, no
 * WireGuard. Files move as base64 through stdout (`dd | base64`) and stdin (`base64 -d`), in
 * chunks that shrink when the endpoint rejects a call, and are checked by sha256 at both ends.
 * The image needs `sh`, `dd`, `base64`, `stat`, `sha256sum`, `mv` and `rm`.
 */
export class ExecTransport implements MachineTransport {
  readonly kind = 'exec' as const;
  readonly machineId: string;
  readonly #options: ExecTransportOptions;
  readonly #minChunkSize: number;
  #chunkSize: number;
  #closed = false;

  private constructor(options: ExecTransportOptions) {
    this.#options = options;
    this.machineId = options.machine.id;
    this.#chunkSize = options.chunkSize ?? 1 << 20;
    this.#minChunkSize = options.minChunkSize ?? 1 << 14;
    for (const [name, value] of [
      ['chunkSize', this.#chunkSize],
      ['minChunkSize', this.#minChunkSize],
    ] as const) {
      if (!Number.isInteger(Math.log2(value)) || value < 1) {
        throw new TransportError(
          'TRANSPORT_INVALID_INPUT',
          `invalid ${name}: ${value} is not a power of two`,
          {
            hint: `pass a power of two such as ${1 << 20}`,
          },
        );
      }
    }
  }

  /**
   * Returns a transport for the machine; no call is made yet.
   * @throws TransportError TRANSPORT_NOT_STARTED when the machine is known not to be started.
   */
  static async connect(options: ExecTransportOptions): Promise<ExecTransport> {
    assertStarted(options.app, options.machine);
    return new ExecTransport(options);
  }

  /** Current chunk size, after any reductions. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Runs one exec call and returns its raw result; API errors are thrown as they come. */
  async #call(command: string[], stdin?: string, signal?: AbortSignal): Promise<MachineExecResult> {
    if (this.#closed) {
      throw new TransportError(
        'TRANSPORT_CLOSED',
        `transport to machine ${this.machineId} is closed`,
        {
          machineId: this.machineId,
          hint: 'open a new transport',
        },
      );
    }
    const request = {
      command,
      ...(stdin === undefined ? {} : { stdin }),
      timeoutSeconds: this.#options.callTimeoutSeconds ?? 60,
      allowFailure: true,
    };

    // A 429 means Fly did not run the command, so even an append is safe to send again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#options.machines.exec(
          this.#options.app,
          this.machineId,
          request,
          signal ? { signal } : undefined,
        );
      } catch (error) {
        const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
        if (code !== 'FLY_RATE_LIMITED' || attempt >= MAX_RATE_LIMITED_ATTEMPTS) throw error;
        const delay = typeof retryAfterMs === 'number' ? retryAfterMs : 1000;
        this.#options.logger?.debug('exec call rate limited; waiting', {
          machine_id: this.machineId,
          delay_ms: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, Math.min(delay, 30_000)));
      }
    }
  }

  /** Runs a command that must succeed; exit 127 becomes TRANSPORT_TOOL_MISSING. */
  async #run(command: string[], signal?: AbortSignal): Promise<string> {
    const result = await this.#call(command, undefined, signal);
    checkExit(command, toOutput(result), {}, this.machineId);
    return result.stdout;
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecOutput> {
    if (argv.length === 0) {
      throw new TransportError('TRANSPORT_INVALID_INPUT', 'invalid command: empty argv', {
        machineId: this.machineId,
        hint: 'pass the program and its arguments, e.g. ["ls", "/data"]',
      });
    }
    // NOTE: the exec API carries stdin and stdout as JSON strings, so binary output is not
    // preserved here; transfers use base64 for that reason.
    const stdin = opts.stdin === undefined ? undefined : opts.stdin.toString();
    const result = await this.#call(argv, stdin, opts.signal);
    return checkExit(argv, toOutput(result), opts, this.machineId);
  }

  async stat(remotePath: string, opts?: OperationOptions): Promise<RemoteFileStat | undefined> {
    assertRemotePath(remotePath, this.machineId);
    const result = await this.#call(remoteCommands.stat(remotePath), undefined, opts?.signal);
    if (result.exitCode === 1) return undefined;
    checkExit(['stat'], toOutput(result), {}, this.machineId);

    const parsed = parseStatOutput(result.stdout);
    if (!parsed) {
      throw new TransportError(
        'TRANSPORT_COMMAND_FAILED',
        `unexpected stat output for ${remotePath}: ${result.stdout.slice(0, 100)}`,
        {
          machineId: this.machineId,
          path: remotePath,
          hint: 'the image needs GNU coreutils or busybox stat with -c',
        },
      );
    }
    return parsed;
  }

  async readRange(
    remotePath: string,
    offset: number,
    length: number,
    opts?: OperationOptions,
  ): Promise<Buffer> {
    assertRemotePath(remotePath, this.machineId);
    if (!(await this.stat(remotePath, opts))) throw remoteNotFound(this.machineId, remotePath);
    if (length <= 0) return Buffer.alloc(0);

    // Read the aligned block (or two) that covers the range, then cut the range out of it.
    const blockSize = 2 ** Math.ceil(Math.log2(length));
    const firstBlock = Math.floor(offset / blockSize);
    const lastBlock = Math.floor((offset + length - 1) / blockSize);
    const blocks: Buffer[] = [];
    for (let block = firstBlock; block <= lastBlock; block += 1) {
      blocks.push(await this.#readBlock(remotePath, blockSize, block, opts?.signal));
    }
    const start = offset - firstBlock * blockSize;
    return Buffer.concat(blocks).subarray(start, start + length);
  }

  /** Reads block `index` of `blockSize` bytes; fewer at the end of the file. */
  async #readBlock(
    remotePath: string,
    blockSize: number,
    index: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const command = remoteCommands.readBlockBase64(remotePath, blockSize, index);
    const result = await this.#call(command, undefined, signal);
    if (result.exitCode === EXIT_COMMAND_NOT_FOUND || /not found/.test(result.stderr)) {
      throw toolMissing(this.machineId, 'dd or base64', result.stderr);
    }
    checkExit(['dd'], toOutput(result), {}, this.machineId);
    return Buffer.from(result.stdout.trim(), 'base64');
  }

  async download(
    remotePath: string,
    localPath: string,
    opts?: TransferOptions,
  ): Promise<TransferResult> {
    assertRemotePath(remotePath, this.machineId);
    await assertLocalDirectory(localPath, this.machineId);
    const plan = planTransfer(opts);
    try {
      return await this.#downloadOnce(remotePath, localPath, plan);
    } catch (error) {
      if (!(error instanceof RestartFromZero)) throw error;
      // A resumed partial file that fails the checksum is discarded and fetched again once.
      plan.resume = false;
      return this.#downloadOnce(remotePath, localPath, plan);
    }
  }

  async #downloadOnce(
    remotePath: string,
    localPath: string,
    plan: TransferPlan,
  ): Promise<TransferResult> {
    const startedAt = Date.now();
    // The watch starts before the setup calls, so a stalled call is bound by the same limits.
    const watch = this.#watch(plan, remotePath);
    let file: FileHandle | undefined;
    let succeeded = false;
    try {
      watch.throwIfFailed();
      const info = await watch.guard(this.stat(remotePath, plan.options));
      if (!info) throw remoteNotFound(this.machineId, remotePath);
      const total = info.size;

      // Resume from a whole number of the smallest chunk, so block offsets stay aligned.
      const temporary = partialPath(localPath);
      const existing = plan.resume ? ((await existingSize(temporary)) ?? 0) : 0;
      const start = existing <= total ? existing - (existing % this.#minChunkSize) : 0;
      const hash = createHash('sha256');
      // Hashing a large partial file moves no bytes, but the deadline still applies.
      watch.pauseIdle();
      await watch.guard(hashFilePrefix(temporary, start, hash));
      await assertLocalSpace(localPath, total - start, this.machineId);

      file = await open(temporary, start > 0 ? 'r+' : 'w', 0o600);
      watch.begin(total, start);
      watch.throwIfFailed();
      await file.truncate(start);
      let offset = start;
      while (offset < total) {
        const chunk = await this.#downloadChunk(remotePath, offset, total, watch, plan);
        hash.update(chunk);
        await file.write(chunk, 0, chunk.length, offset);
        offset += chunk.length;
        watch.advance(chunk.length);
      }
      await file.sync();
      await file.close();

      const localSha256 = hash.digest('hex');
      watch.pauseIdle();
      const remoteSha256 = await watch.guard(this.#sha256(remotePath, plan.options.signal));
      await assertSameDigest({
        machineId: this.machineId,
        path: remotePath,
        localSha256,
        remoteSha256,
        start,
        discard: () => rm(temporary, { force: true }),
      });
      await commitLocalFile(temporary, localPath);
      succeeded = true;
      return attemptResult(total, localSha256, startedAt, start);
    } catch (error) {
      throw watch.failure ?? error;
    } finally {
      await file?.close().catch(() => undefined);
      watch.finish(succeeded);
    }
  }

  /** Fetches the next chunk at `offset`, shrinking the chunk size while calls fail. */
  async #downloadChunk(
    remotePath: string,
    offset: number,
    total: number,
    watch: TransferWatch,
    plan: TransferPlan,
  ): Promise<Buffer> {
    for (let attempt = 1; ; attempt += 1) {
      watch.throwIfFailed();
      let blockSize = this.#chunkSize;
      while (offset % blockSize !== 0) blockSize /= 2;
      const expected = Math.min(blockSize, total - offset);

      try {
        const chunk = await watch.guard(
          this.#readBlock(remotePath, blockSize, offset / blockSize, plan.options.signal),
        );
        if (chunk.length !== expected) {
          throw sizeMismatch(this.machineId, remotePath, offset + expected, offset + chunk.length);
        }
        return chunk;
      } catch (error) {
        this.#recover(error, attempt, watch);
      }
    }
  }

  /**
   * Decides what follows a failed chunk call: shrink the chunk and retry, or throw for
   * transport errors, for API errors that a retry cannot fix, and after
   * {@link MAX_CHUNK_ATTEMPTS} attempts. At the smallest size it retries unchanged, because
   * the failure may have had another cause.
   */
  #recover(error: unknown, attempt: number, watch: TransferWatch): void {
    const { code } = error as { code?: unknown };
    const final = error instanceof TransportError || FINAL_API_CODES.has(String(code));
    if (final || attempt >= MAX_CHUNK_ATTEMPTS) throw watch.failure ?? error;
    const previous = this.#chunkSize;
    this.#shrink();
    this.#options.logger?.warn('exec chunk call failed; retrying', {
      machine_id: this.machineId,
      attempt,
      chunk_size: this.#chunkSize,
      previous_chunk_size: previous,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  /** Halves the chunk size; returns false when it is already at the minimum. */
  #shrink(): boolean {
    if (this.#chunkSize <= this.#minChunkSize) return false;
    this.#chunkSize /= 2;
    return true;
  }

  async upload(
    localPath: string,
    remotePath: string,
    opts?: TransferOptions,
  ): Promise<TransferResult> {
    assertRemotePath(remotePath, this.machineId);
    const plan = planTransfer(opts);
    let result: TransferResult;
    try {
      result = await this.#uploadOnce(localPath, remotePath, plan);
    } catch (error) {
      if (!(error instanceof RestartFromZero)) throw error;
      plan.resume = false;
      result = await this.#uploadOnce(localPath, remotePath, plan);
    }
    await this.rename(partialPath(remotePath), remotePath, opts);
    return result;
  }

  async #uploadOnce(
    localPath: string,
    remotePath: string,
    plan: TransferPlan,
  ): Promise<TransferResult> {
    const startedAt = Date.now();
    const signal = plan.options.signal;
    const total = await localFileSize(localPath, this.machineId);
    // The watch starts before the setup calls, so a stalled call is bound by the same limits.
    const watch = this.#watch(plan, remotePath);
    let file: FileHandle | undefined;
    let succeeded = false;
    try {
      watch.throwIfFailed();
      const folder = posix.dirname(remotePath);
      const folderCheck = await watch.guard(
        this.#call(remoteCommands.testDirectory(folder), undefined, signal),
      );
      if (folderCheck.exitCode !== 0) throw remoteNotFound(this.machineId, folder, 'folder');

      // Continue a remote partial file when it is not longer than the source.
      const temporary = partialPath(remotePath);
      const existing = plan.resume
        ? await watch.guard(this.stat(temporary, plan.options))
        : undefined;
      const start = existing && existing.size <= total ? existing.size : 0;
      if (start === 0) await watch.guard(this.#run(remoteCommands.truncate(temporary), signal));
      await watch.guard(this.#assertRemoteSpace(folder, total - start, remotePath));

      const hash = createHash('sha256');
      // Hashing a large local prefix moves no bytes, but the deadline still applies.
      watch.pauseIdle();
      await watch.guard(hashFilePrefix(localPath, start, hash));
      file = await open(localPath, 'r');
      watch.begin(total, start);
      watch.throwIfFailed();
      let offset = start;
      while (offset < total) {
        const sent = await this.#uploadChunk(file, temporary, offset, total, watch, plan);
        hash.update(sent);
        offset += sent.length;
        watch.advance(sent.length);
      }

      await this.#run(remoteCommands.sync(), signal);
      const localSha256 = hash.digest('hex');
      watch.pauseIdle();
      const remoteSha256 = await watch.guard(this.#sha256(temporary, signal));
      await assertSameDigest({
        machineId: this.machineId,
        path: remotePath,
        localSha256,
        remoteSha256,
        start,
        discard: () => this.remove(temporary),
      });
      succeeded = true;
      return attemptResult(total, localSha256, startedAt, start);
    } catch (error) {
      throw watch.failure ?? error;
    } finally {
      await file?.close();
      watch.finish(succeeded);
    }
  }

  /**
   * Appends the chunk at `offset` to the remote partial file, shrinking the chunk size while
   * calls fail. A failed call may still have appended, so the remote size decides what to do.
   */
  async #uploadChunk(
    file: Awaited<ReturnType<typeof open>>,
    temporary: string,
    offset: number,
    total: number,
    watch: TransferWatch,
    plan: TransferPlan,
  ): Promise<Buffer> {
    for (let attempt = 1; ; attempt += 1) {
      watch.throwIfFailed();
      const length = Math.min(this.#chunkSize, total - offset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      if (bytesRead !== length)
        throw new Error(`local file changed size during the upload at ${offset}`);

      try {
        const result = await watch.guard(
          this.#call(
            remoteCommands.appendBase64(temporary),
            buffer.toString('base64'),
            plan.options.signal,
          ),
        );
        if (result.exitCode === EXIT_COMMAND_NOT_FOUND)
          throw toolMissing(this.machineId, 'base64', result.stderr);
        checkExit(['base64'], toOutput(result), {}, this.machineId);
        return buffer;
      } catch (error) {
        if (error instanceof TransportError) throw watch.failure ?? error;
        const size = (await this.stat(temporary, plan.options))?.size;
        if (size === offset + length) return buffer;
        if (size !== offset) throw watch.failure ?? error;
        this.#recover(error, attempt, watch);
      }
    }
  }

  async #assertRemoteSpace(folder: string, needed: number, remotePath: string): Promise<void> {
    const result = await this.#call(remoteCommands.diskFree(folder));
    const available = result.exitCode === 0 ? parseDiskFreeOutput(result.stdout) : undefined;
    if (available === undefined || available >= needed) return;
    throw new TransportError(
      'TRANSPORT_DISK_FULL',
      `volume of machine ${this.machineId} is full for ${remotePath}: ${needed} bytes needed, ${available} available`,
      {
        machineId: this.machineId,
        path: remotePath,
        hint: 'free space on the volume or extend it (`fly volumes extend`), then run the upload again',
      },
    );
  }

  async #sha256(remotePath: string, signal?: AbortSignal): Promise<string> {
    const result = await this.#call(remoteCommands.sha256(remotePath), undefined, signal);
    if (result.exitCode === EXIT_COMMAND_NOT_FOUND)
      throw toolMissing(this.machineId, 'sha256sum', result.stderr);
    checkExit(['sha256sum'], toOutput(result), {}, this.machineId);
    const digest = parseSha256Output(result.stdout);
    if (!digest) {
      throw new TransportError(
        'TRANSPORT_COMMAND_FAILED',
        `unexpected sha256sum output for ${remotePath}`,
        {
          machineId: this.machineId,
          path: remotePath,
          hint: 'the image needs GNU coreutils or busybox sha256sum',
        },
      );
    }
    return digest;
  }

  /** Starts the watch of one attempt; {@link TransferWatch.begin} sets its size later. */
  #watch(plan: TransferPlan, path: string): TransferWatch {
    return new TransferWatch({
      idleTimeoutMs: plan.options.idleTimeoutMs ?? 120_000,
      deadlineAt: plan.deadlineAt,
      signal: plan.options.signal,
      onProgress: plan.options.onProgress,
      // Exec calls in flight are not cancelled, so the next step checks for the failure.
      onFailure: () => undefined,
      machineId: this.machineId,
      path,
    });
  }

  async rename(from: string, to: string, opts?: OperationOptions): Promise<void> {
    assertRemotePath(from, this.machineId);
    assertRemotePath(to, this.machineId);
    if (!(await this.stat(from, opts))) throw remoteNotFound(this.machineId, from);
    await this.#run(remoteCommands.move(from, to), opts?.signal);
  }

  async remove(remotePath: string, opts?: OperationOptions): Promise<void> {
    assertRemotePath(remotePath, this.machineId);
    await this.#run(remoteCommands.remove(remotePath), opts?.signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function toOutput(result: MachineExecResult): ExecOutput {
  return {
    exitCode: result.exitCode,
    stdout: Buffer.from(result.stdout),
    stderr: Buffer.from(result.stderr),
  };
}

function toolMissing(machineId: string, tool: string, stderr: string): TransportError {
  return new TransportError(
    'TRANSPORT_TOOL_MISSING',
    `the machine's image lacks ${tool}, which the exec transport needs${stderr ? ` (${stderr.trim().slice(0, 200)})` : ''}`,
    {
      machineId,
      hint: 'add coreutils (or busybox) to the image, or use the SSH transport',
    },
  );
}
