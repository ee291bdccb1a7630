import { setTimeout as sleep } from 'node:timers/promises';
import { isTransportError } from '@flydr/fly-client/transport';
import { isDrError, messageOf } from './errors.js';
import type { MachineTransport, MachineTransportFactory } from './fly-types.js';
import type { DrLogger } from './logger.js';

/** Bounds of {@link reconnectTransports} and {@link retryAfterDrop}. */
export interface ReconnectOptions {
  /** Tries of one connect or one call in all, the first included. @default 3 */
  maxTries?: number;
  /** Pause before the second try; it grows by this much each time. @default 200 */
  pauseMs?: number;
}

const DEFAULT_MAX_TRIES = 3;
const DEFAULT_PAUSE_MS = 200;

// Socket errors that mean the machine or the route to it is not there, where another
// connect would only wait again.
const UNREACHABLE_ERRNOS = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

/**
 * Tells whether a transport call failed because its SSH connection was cut (during the
 * handshake or later), so that the same call on a new connection may succeed. A handshake
 * that timed out, an unreachable address, a rejected login or host key, and SFTP status
 * errors are not drops.
 */
export function isDroppedConnection(error: unknown): boolean {
  if (isDrError(error)) {
    return false;
  }
  if (isTransportError(error)) {
    if (error.code === 'TRANSPORT_CONNECTION_LOST') {
      return true;
    }
    if (error.code !== 'TRANSPORT_CONNECT_FAILED') {
      return false;
    }
    const cause = (error as Error & { cause?: unknown }).cause as
      | { level?: unknown; code?: unknown }
      | undefined;
    if (cause?.level === 'client-timeout') {
      return false;
    }
    return !(typeof cause?.code === 'string' && UNREACHABLE_ERRNOS.has(cause.code));
  }
  // ssh2 rejects a pending SFTP or exec request with a plain Error when its channel closes.
  // SFTP status errors carry a numeric code and Node.js file errors a string one.
  return error instanceof Error && (error as { code?: unknown }).code === undefined;
}

/**
 * Runs `fn` again after a dropped connection, at most `maxTries` times in all, pausing a
 * little longer each time. Only for calls that are safe to repeat (reads, `df`, `command -v`).
 *
 * @throws the last error, or the first one that is not a drop.
 */
export async function retryAfterDrop<T>(
  call: string,
  machineId: string,
  logger: DrLogger | undefined,
  fn: () => Promise<T>,
  options: ReconnectOptions = {},
): Promise<T> {
  const maxTries = options.maxTries ?? DEFAULT_MAX_TRIES;
  const pauseMs = options.pauseMs ?? DEFAULT_PAUSE_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= maxTries || !isDroppedConnection(error)) {
        throw error;
      }
      logger?.warn('SSH connection dropped; trying again on a new connection', {
        machine_id: machineId,
        call,
        attempt,
        max_tries: maxTries,
        error: messageOf(error),
      });
      await sleep(pauseMs * attempt);
    }
  }
}

/**
 * Wraps a transport factory so that a connection cut during the SSH handshake is opened
 * again, and a call cut midway is sent again on a new connection, each at most `maxTries`
 * times. `stat` and `readRange` are sent again as they are. A `rename` or `remove` may
 * have taken effect before the cut, so the files are checked first and the call counts as
 * done when its effect is there. `exec` is not repeated here, because only the caller
 * knows whether its command may run twice. Transfers reconnect by themselves in the
 * transport.
 */
export function reconnectTransports(
  factory: MachineTransportFactory,
  logger: DrLogger,
  options: ReconnectOptions = {},
): MachineTransportFactory {
  return async (machine) => {
    const transport = await retryAfterDrop(
      'connect',
      machine.id,
      logger,
      () => factory(machine),
      options,
    );
    const again = <T>(call: string, fn: () => Promise<T>) =>
      retryAfterDrop(call, transport.machineId, logger, fn, options);
    const wrapped: MachineTransport = {
      kind: transport.kind,
      machineId: transport.machineId,
      stat: (path, opts) => again(`stat ${path}`, () => transport.stat(path, opts)),
      readRange: (path, offset, length, opts) =>
        again(`read ${path}`, () => transport.readRange(path, offset, length, opts)),
      download: (remote, local, opts) => transport.download(remote, local, opts),
      upload: (local, remote, opts) => transport.upload(local, remote, opts),
      rename: (from, to, opts) =>
        again(`rename ${from}`, () =>
          checkedAfterDrop(
            () => transport.rename(from, to, opts),
            async () =>
              (await transport.stat(from)) === undefined &&
              (await transport.stat(to)) !== undefined,
          ),
        ),
      remove: (path, opts) =>
        again(`remove ${path}`, () =>
          checkedAfterDrop(
            () => transport.remove(path, opts),
            async () => (await transport.stat(path)) === undefined,
          ),
        ),
      exec: (argv, opts) => transport.exec(argv, opts),
      close: () => transport.close(),
    };
    return wrapped;
  };
}

/**
 * Runs a call that changes a file. When its connection drops, `tookEffect` looks at the
 * files on a new connection: the call counts as done when its effect is there, and the
 * drop is thrown again (for the caller to retry) when it is not.
 */
async function checkedAfterDrop(
  call: () => Promise<void>,
  tookEffect: () => Promise<boolean>,
): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (!isDroppedConnection(error) || !(await tookEffect())) {
      throw error;
    }
  }
}
