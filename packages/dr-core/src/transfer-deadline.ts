import { DrError } from './errors.js';
import type { MachineTransport, MachineTransportFactory } from './fly-types.js';

/** Time limits that dr-core enforces on every transport call, whatever the transport does. */
export interface TransportLimits {
  /** Connecting, and each small call (stat, read, rename, remove, exec). @default 120000 */
  operationTimeoutMs?: number;
  /** Each download or upload. @default 1800000 (30 minutes) */
  transferDeadlineMs?: number;
  /** Closing a connection; after this dr-core stops waiting. @default 2000 */
  closeTimeoutMs?: number;
}

const DEFAULT_OPERATION_TIMEOUT_MS = 120_000;
const DEFAULT_TRANSFER_DEADLINE_MS = 30 * 60 * 1000;
const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/**
 * Wraps a transport factory so that connecting and every call on the transports it opens
 * end within the limits: a call still running at its limit fails with
 * `DR_TRANSFER_FAILED` and the connection is closed without waiting for it. Transfers
 * also get the limit as their `deadlineMs` and an abort signal, so a transport that
 * honours them stops by itself first.
 */
export function limitTransports(
  factory: MachineTransportFactory,
  limits: TransportLimits = {},
): MachineTransportFactory {
  const operationMs = limits.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  return async (machine) => {
    const transport = await withDeadline(
      operationMs,
      `connect to machine ${machine.id}`,
      machine.id,
      () => factory(machine),
      () => Promise.resolve(),
    );
    return limitTransport(transport, limits);
  };
}

function limitTransport(inner: MachineTransport, limits: TransportLimits): MachineTransport {
  const operationMs = limits.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  const transferMs = limits.transferDeadlineMs ?? DEFAULT_TRANSFER_DEADLINE_MS;
  const closeMs = limits.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const id = inner.machineId;
  const abandon = () => closeWithin(inner, closeMs);
  const small = <T>(step: string, run: () => Promise<T>) =>
    withDeadline(operationMs, step, id, run, abandon);

  return {
    kind: inner.kind,
    machineId: id,
    stat: (path, opts) => small(`stat ${path}`, () => inner.stat(path, opts)),
    readRange: (path, offset, length, opts) =>
      small(`read ${path}`, () => inner.readRange(path, offset, length, opts)),
    rename: (from, to, opts) => small(`rename ${from}`, () => inner.rename(from, to, opts)),
    remove: (path, opts) => small(`remove ${path}`, () => inner.remove(path, opts)),
    exec: (argv, opts) => {
      // A command's own timeout gets a little slack before the guard steps in.
      const limit = Math.max(operationMs, (opts?.timeoutMs ?? 0) + 5_000);
      return withDeadline(
        limit,
        `run ${argv[0] ?? 'command'}`,
        id,
        () => inner.exec(argv, opts),
        abandon,
      );
    },
    download: (remotePath, localPath, opts) =>
      withDeadline(
        transferMs,
        `download of ${remotePath}`,
        id,
        (signal) =>
          inner.download(remotePath, localPath, {
            ...opts,
            deadlineMs: Math.min(opts?.deadlineMs ?? transferMs, transferMs),
            signal: opts?.signal === undefined ? signal : AbortSignal.any([signal, opts.signal]),
          }),
        abandon,
      ),
    upload: (localPath, remotePath, opts) =>
      withDeadline(
        transferMs,
        `upload to ${remotePath}`,
        id,
        (signal) =>
          inner.upload(localPath, remotePath, {
            ...opts,
            deadlineMs: Math.min(opts?.deadlineMs ?? transferMs, transferMs),
            signal: opts?.signal === undefined ? signal : AbortSignal.any([signal, opts.signal]),
          }),
        abandon,
      ),
    close: () => closeWithin(inner, closeMs),
  };
}

/** Closes a transport, waiting at most `timeoutMs` for it. */
export async function closeWithin(
  transport: MachineTransport | undefined,
  timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS,
): Promise<void> {
  if (transport === undefined) {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    transport.close().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Runs `run` with a deadline: when it passes first, aborts the signal given to `run`,
 * starts `onExpire` without waiting for it, and throws `DR_TRANSFER_FAILED`.
 */
async function withDeadline<T>(
  deadlineMs: number,
  step: string,
  machineId: string,
  run: (signal: AbortSignal) => Promise<T>,
  onExpire: () => Promise<void>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      void onExpire().catch(() => {});
      reject(
        new DrError(
          'DR_TRANSFER_FAILED',
          `${step} on machine ${machineId} did not finish within ${deadlineMs} ms`,
          'Check the connection to the machine and run the command again.',
          { machineId, step },
        ),
      );
    }, deadlineMs);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
