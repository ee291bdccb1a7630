import type { SFTPWrapper } from 'ssh2';
import { isSftpOpen } from './sftp-calls.js';

/** Request size and number of requests in flight for one SFTP transfer. */
export interface PipelineShape {
  chunkSize: number;
  concurrency: number;
}

/** Bytes a transfer keeps in flight when the peer allows large requests. */
const TARGET_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

/** Largest request the transports send; OpenSSH's sftp-server allows 255 KiB reads. */
const MAX_CHUNK_SIZE = 256 * 1024;

/** Request size a peer accepts when it announces nothing (ssh2 uses this for non-OpenSSH peers). */
const FALLBACK_CHUNK_SIZE = 32 * 1024;

/**
 * Chooses the request size and concurrency for a peer: the largest read or write the SFTP
 * session negotiated (OpenSSH announces it through `limits@openssh.com`), and enough requests
 * in flight to keep about 8 MiB moving, between 8 and 64. In `degraded` mode (after a
 * protocol error) it sends one request at a time.
 */
export function pipelineShape(
  sftp: SFTPWrapper,
  direction: 'read' | 'write',
  degraded: boolean,
): PipelineShape {
  // ssh2 keeps the negotiated limits on private fields; they are read, never written.
  const limits = sftp as unknown as { _maxReadLen?: number; _maxWriteLen?: number };
  const negotiated = direction === 'read' ? limits._maxReadLen : limits._maxWriteLen;
  const chunkSize = Math.min(
    negotiated && negotiated > 0 ? negotiated : FALLBACK_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
  );

  if (degraded) return { chunkSize: Math.min(chunkSize, FALLBACK_CHUNK_SIZE), concurrency: 1 };

  const concurrency = Math.min(64, Math.max(8, Math.round(TARGET_IN_FLIGHT_BYTES / chunkSize)));
  return { chunkSize, concurrency };
}

/** Settings of {@link readPipelined}. */
export interface PipelinedReadOptions extends PipelineShape {
  sftp: SFTPWrapper;
  handle: Buffer;
  start: number;
  end: number;
  /** Receives the bytes in file order, one call at a time. */
  consume: (chunk: Buffer) => Promise<void>;
}

/**
 * Reads `[start, end)` of an open remote file with several READ requests in flight and hands
 * the bytes to `consume` in order. Memory stays at about `concurrency * chunkSize`.
 * A short read is followed by a request for the rest; an early end of file is an error.
 */
export function readPipelined(options: PipelinedReadOptions): Promise<void> {
  const { sftp, handle, end, chunkSize, concurrency, consume } = options;

  return new Promise((resolve, reject) => {
    // Buffers are reused once consumed, so a long transfer makes little garbage.
    const pool: Buffer[] = [];
    const ready = new Map<number, { data: Buffer; buffer: Buffer }>();
    let nextRequest = options.start;
    let nextDelivery = options.start;
    let inFlight = 0;
    let consuming = false;
    let settled = false;

    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reject(error);
    };

    const request = (offset: number, length: number) => {
      if (!isSftpOpen(sftp)) return fail(new Error('SFTP channel closed during the read'));
      inFlight += 1;
      const buffer = pool.pop() ?? Buffer.allocUnsafe(chunkSize);
      sftp.read(handle, buffer, 0, length, offset, (error, bytesRead) => {
        inFlight -= 1;
        if (settled) return;
        if (error) return fail(error);
        if (!bytesRead) {
          return fail(
            new Error(
              `remote file ended at ${offset} bytes, expected ${end}; it changed during the transfer`,
            ),
          );
        }

        if (bytesRead < length) request(offset + bytesRead, length - bytesRead);
        ready.set(offset, { data: buffer.subarray(0, bytesRead), buffer });
        void deliver();
      });
    };

    const pump = () => {
      while (!settled && inFlight < concurrency && ready.size < concurrency && nextRequest < end) {
        const length = Math.min(chunkSize, end - nextRequest);
        request(nextRequest, length);
        nextRequest += length;
      }
      if (!settled && nextDelivery >= end && inFlight === 0 && !consuming) {
        settled = true;
        resolve();
      }
    };

    const deliver = async () => {
      if (consuming) return;
      consuming = true;
      try {
        let chunk = ready.get(nextDelivery);
        while (!settled && chunk) {
          ready.delete(nextDelivery);
          await consume(chunk.data);
          nextDelivery += chunk.data.length;
          pool.push(chunk.buffer);
          chunk = ready.get(nextDelivery);
        }
      } catch (error) {
        fail(error);
      } finally {
        consuming = false;
      }
      pump();
    };

    pump();
  });
}

/** Settings of {@link writePipelined}. */
export interface PipelinedWriteOptions extends PipelineShape {
  sftp: SFTPWrapper;
  handle: Buffer;
  start: number;
  end: number;
  /** Fills `target` with the bytes at `offset`; called in file order, one at a time. */
  produce: (offset: number, target: Buffer) => Promise<void>;
  /** Called when the server acknowledged `count` bytes. */
  acknowledged: (count: number) => void;
}

/**
 * Writes `[start, end)` of an open remote file with several WRITE requests in flight.
 * Memory stays at about `concurrency * chunkSize`.
 */
export function writePipelined(options: PipelinedWriteOptions): Promise<void> {
  const { sftp, handle, end, chunkSize, concurrency, produce, acknowledged } = options;

  return new Promise((resolve, reject) => {
    const pool: Buffer[] = [];
    let next = options.start;
    let inFlight = 0;
    let producing = false;
    let settled = false;

    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reject(error);
    };

    const pump = async () => {
      if (producing || settled) return;
      producing = true;
      try {
        while (!settled && inFlight < concurrency && next < end) {
          const offset = next;
          const length = Math.min(chunkSize, end - offset);
          next += length;
          const buffer = pool.pop() ?? Buffer.allocUnsafe(chunkSize);
          const chunk = buffer.subarray(0, length);
          await produce(offset, chunk);
          if (settled) return;
          if (!isSftpOpen(sftp)) return fail(new Error('SFTP channel closed during the write'));

          inFlight += 1;
          sftp.write(handle, chunk, 0, length, offset, (error) => {
            inFlight -= 1;
            if (error) return fail(error);
            pool.push(buffer);
            acknowledged(length);
            void pump();
          });
        }
      } catch (error) {
        fail(error);
      } finally {
        producing = false;
      }

      if (!settled && next >= end && inFlight === 0) {
        settled = true;
        resolve();
      }
    };

    void pump();
  });
}
