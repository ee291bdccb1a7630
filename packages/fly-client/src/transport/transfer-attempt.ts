import { TransportError } from './errors.js';
import type { TransferOptions, TransferResult } from './machine-transport.js';

/**
 * Thrown by one transfer attempt when a resumed file failed its checksum: the partial file
 * was removed and the transfer starts again from byte 0.
 */
export class RestartFromZero extends Error {
  /** The mismatch, thrown to the caller when the restart fails as well. */
  readonly mismatch: TransportError;

  constructor(mismatch: TransportError) {
    super('resumed transfer failed its checksum; restarting from byte 0');
    this.mismatch = mismatch;
  }
}

/** Settings shared by all attempts of one transfer. */
export interface TransferPlan {
  options: TransferOptions;
  /** Absolute deadline (ms since epoch) for all attempts together. */
  deadlineAt: number | undefined;
  /** Whether this attempt may continue from a partial file. */
  resume: boolean;
}

/** Starts the plan of a transfer from the caller's options. */
export function planTransfer(options: TransferOptions = {}): TransferPlan {
  return {
    options,
    deadlineAt: options.deadlineMs === undefined ? undefined : Date.now() + options.deadlineMs,
    resume: options.resume ?? true,
  };
}

/** Returns the TRANSPORT_CHECKSUM_MISMATCH error for a transfer whose two ends differ. */
export function checksumMismatch(
  machineId: string,
  path: string,
  localSha256: string,
  remoteSha256: string,
): TransportError {
  return new TransportError(
    'TRANSPORT_CHECKSUM_MISMATCH',
    `sha256 of ${path} differs between the machine (${remoteSha256}) and this side (${localSha256})`,
    {
      machineId,
      path,
      hint: 'the copy was discarded; run the transfer again, and if it repeats, check whether the file is being written during the transfer',
    },
  );
}

/** Returns the TRANSPORT_CHECKSUM_MISMATCH error for a size difference after a transfer. */
export function sizeMismatch(
  machineId: string,
  path: string,
  expected: number,
  actual: number,
): TransportError {
  return new TransportError(
    'TRANSPORT_CHECKSUM_MISMATCH',
    `size of ${path} is ${actual} bytes after the transfer, expected ${expected}`,
    {
      machineId,
      path,
      hint: 'the copy was discarded; run the transfer again, and if it repeats, check whether the file is being written during the transfer',
    },
  );
}

/** Both ends' sha256 of one finished transfer attempt, as {@link assertSameDigest} compares them. */
export interface AttemptDigests {
  machineId: string;
  /** Path named in the error: the remote file. */
  path: string;
  localSha256: string;
  remoteSha256: string;
  /** Bytes the attempt continued from (0 when it started a new file). */
  start: number;
  /** Removes the copy that failed the comparison. */
  discard: () => Promise<unknown>;
}

/**
 * Checks that both ends of an attempt have the same sha256; otherwise discards the copy and
 * throws.
 * @throws TransportError TRANSPORT_CHECKSUM_MISMATCH, wrapped in RestartFromZero when the
 * attempt continued a partial file (the transfer then starts again from byte 0).
 */
export async function assertSameDigest(digests: AttemptDigests): Promise<void> {
  const { machineId, path, localSha256, remoteSha256, start } = digests;
  if (remoteSha256 === localSha256) return;

  await digests.discard();
  const mismatch = checksumMismatch(machineId, path, localSha256, remoteSha256);
  throw start > 0 ? new RestartFromZero(mismatch) : mismatch;
}

/** Returns the result of a verified attempt that moved a file of `total` bytes. */
export function attemptResult(
  total: number,
  sha256: string,
  startedAt: number,
  start: number,
): TransferResult {
  return {
    bytes: total,
    sha256,
    durationMs: Date.now() - startedAt,
    ...(start > 0 ? { resumedFrom: start } : {}),
  };
}
