import { createHash } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';

import type { SFTPWrapper } from 'ssh2';

import { TransportError } from './errors.js';
import {
  assertLocalSpace,
  commitLocalFile,
  existingSize,
  hashFilePrefix,
  isDiskFullError,
  localDiskFull,
  partialPath,
} from './local-files.js';
import type { TransferResult } from './machine-transport.js';
import type { PreparedSha256 } from './remote-sha256.js';
import { closeRemote, openRemote, statRemote } from './sftp-calls.js';
import { pipelineShape, readPipelined } from './sftp-pipeline.js';
import type { SshConnection } from './ssh-connection.js';
import {
  assertSameDigest,
  attemptResult,
  sizeMismatch,
  type TransferPlan,
} from './transfer-attempt.js';
import type { TransferWatch } from './transfer-watch.js';

/** Connection, SFTP session and settings of one SSH transfer attempt. */
export interface SshTransferContext {
  connection: SshConnection;
  sftp: SFTPWrapper;
  machineId: string;
  /** After a protocol error: one request at a time. */
  degraded: boolean;
  /**
   * Watch of this attempt, started before connecting: idle timeout, deadline and abort
   * signal apply to every step; on failure it destroys the connection.
   */
  watch: TransferWatch;
  /** Returns the remote file's sha256, or undefined when the machine has no hashing tool. */
  remoteSha256(path: string): Promise<string | undefined>;
  /** Opens a session that hashes the remote file when signalled; see {@link PreparedSha256}. */
  prepareRemoteSha256(path: string): PreparedSha256;
}

/** Returns TRANSPORT_REMOTE_NOT_FOUND for a path on the machine. */
export function remoteNotFound(
  machineId: string,
  path: string,
  kind: 'file' | 'folder' = 'file',
): TransportError {
  return new TransportError(
    'TRANSPORT_REMOTE_NOT_FOUND',
    `remote ${kind} ${path} not found on machine ${machineId}`,
    {
      machineId,
      path,
      hint: 'check the path and that the volume is mounted on this machine (`fly machine status`)',
    },
  );
}

/**
 * Downloads `remotePath` into `localPath` over SFTP, in one attempt. The bytes go to the
 * partial file (continued when allowed), which is synced, compared by size and sha256 with
 * the machine and then renamed into place. The partial file is removed when the checksum differs.
 * @throws RestartFromZero when a resumed file failed its checksum.
 */
export async function downloadOnce(
  context: SshTransferContext,
  remotePath: string,
  localPath: string,
  plan: TransferPlan,
): Promise<TransferResult> {
  const { sftp, machineId, watch } = context;
  const startedAt = Date.now();

  const info = await statRemote(sftp, remotePath);
  if (!info) throw remoteNotFound(machineId, remotePath);
  if (!info.isFile()) {
    throw new TransportError(
      'TRANSPORT_INVALID_INPUT',
      `remote path ${remotePath} is not a regular file`,
      {
        machineId,
        path: remotePath,
        hint: 'pass the path of a file, not a folder',
      },
    );
  }
  const total = info.size;

  // Continue a partial file from an earlier attempt when it is not longer than the source.
  const temporary = partialPath(localPath);
  const hash = createHash('sha256');
  const existing = plan.resume ? await existingSize(temporary) : undefined;
  const start = existing !== undefined && existing <= total ? existing : 0;
  // Hashing a large partial file moves no bytes; the deadline still applies.
  watch.pauseIdle();
  await watch.guard(hashFilePrefix(temporary, start, hash));
  await assertLocalSpace(localPath, total - start, machineId);
  watch.begin(total, start);

  try {
    watch.throwIfFailed();
    // The machine hashes its file while the bytes stream, so the check adds little time.
    // A file that changes during the download then fails the comparison, as it should.
    const remoteDigest = context.remoteSha256(remotePath);
    remoteDigest.catch(() => undefined);
    await watch.guard(streamToPartial(context, remotePath, temporary, start, total, hash, watch));
    const localSha256 = hash.digest('hex');

    // Compare with the machine's own view of the file, then keep the copy.
    const finalSize = await existingSize(temporary);
    if (finalSize !== total) throw sizeMismatch(machineId, localPath, total, finalSize ?? 0);
    watch.pauseIdle();
    const remoteSha256 =
      (await watch.guard(remoteDigest)) ??
      (await watch.guard(readBackSha256(context, remotePath, total, watch)));
    watch.throwIfFailed();
    await assertSameDigest({
      machineId,
      path: remotePath,
      localSha256,
      remoteSha256,
      start,
      discard: () => rm(temporary, { force: true }),
    });

    await commitLocalFile(temporary, localPath);
    return attemptResult(total, localSha256, startedAt, start);
  } catch (error) {
    throw watch.failure ?? error;
  }
}

async function streamToPartial(
  context: SshTransferContext,
  remotePath: string,
  temporary: string,
  start: number,
  total: number,
  hash: ReturnType<typeof createHash>,
  watch: TransferWatch,
): Promise<void> {
  const { sftp, machineId } = context;
  const local = await open(temporary, start > 0 ? 'r+' : 'w', 0o600);
  const flusher = new BackgroundFlush(local);
  let remote: Buffer | undefined;
  try {
    remote = await openRemote(sftp, remotePath, 'r');
    let position = start;
    await readPipelined({
      sftp,
      handle: remote,
      start,
      end: total,
      ...pipelineShape(sftp, 'read', context.degraded),
      consume: async (chunk) => {
        hash.update(chunk);
        await writeFully(local, chunk, position).catch((error: unknown) => {
          throw isDiskFullError(error)
            ? localDiskFull(temporary, machineId, String((error as Error).message))
            : error;
        });
        position += chunk.length;
        watch.advance(chunk.length);
        flusher.wrote(chunk.length);
      },
    });
    await flusher.settle();
    await local.sync();
  } finally {
    await flusher.settle().catch(() => undefined);
    await local.close();
    if (remote && !context.connection.closed) await closeRemote(sftp, remote);
  }
}

/** Bytes written between two background flushes of the partial file. */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Starts an fdatasync of the partial file every {@link FLUSH_EVERY_BYTES} written, without
 * waiting for it, so the disk writes back while the transfer goes on and the final fsync has
 * little left to do. The final fsync still decides durability; a failed background flush fails
 * the transfer at {@link BackgroundFlush.settle}.
 */
class BackgroundFlush {
  readonly #file: FileHandle;
  #sinceFlush = 0;
  #pending: Promise<void> | undefined;
  #error: unknown;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /** Counts `bytes` written and starts a flush when enough piled up and none is running. */
  wrote(bytes: number): void {
    this.#sinceFlush += bytes;
    if (this.#sinceFlush < FLUSH_EVERY_BYTES || this.#pending) return;

    this.#sinceFlush = 0;
    this.#pending = this.#file.datasync().then(
      () => {
        this.#pending = undefined;
      },
      (error: unknown) => {
        this.#error ??= error;
        this.#pending = undefined;
      },
    );
  }

  /** Waits for a running flush; throws the first flush error. */
  async settle(): Promise<void> {
    await this.#pending;
    if (this.#error !== undefined) throw this.#error;
  }
}

async function writeFully(file: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < chunk.length) {
    const { bytesWritten } = await file.write(
      chunk,
      written,
      chunk.length - written,
      position + written,
    );
    written += bytesWritten;
  }
}

/** Hashes the remote file by reading it again, for machines without sha256sum. */
export async function readBackSha256(
  context: SshTransferContext,
  remotePath: string,
  total: number,
  watch: TransferWatch,
): Promise<string> {
  const { sftp } = context;
  const hash = createHash('sha256');
  const handle = await openRemote(sftp, remotePath, 'r');
  try {
    await readPipelined({
      sftp,
      handle,
      start: 0,
      end: total,
      ...pipelineShape(sftp, 'read', context.degraded),
      consume: async (chunk) => {
        hash.update(chunk);
        watch.touch();
      },
    });
  } finally {
    if (!context.connection.closed) await closeRemote(sftp, handle);
  }
  return hash.digest('hex');
}
