import type { RunnerEvent } from './operation-runner.js';

/** Operation that emitted an event. */
export type DrOperation =
  | 'backup'
  | 'verify'
  | 'prune'
  | 'delete'
  | 'restore'
  | 'restore-file'
  | 'failover'
  | 'failback'
  | 'sync'
  | 'standby';

/** Sent when a step of an operation starts. */
export interface StepStartEvent {
  type: 'step-start';
  operation: DrOperation;
  /** Step name, such as `select-machine`, `snapshot`, `download`, `verify`, `catalog`. */
  step: string;
  /** Time the step started (ms since the epoch). */
  at: number;
}

/** Sent when a step of an operation ends, successfully or not. */
export interface StepEndEvent {
  type: 'step-end';
  operation: DrOperation;
  step: string;
  ok: boolean;
  durationMs: number;
  /** Error message when `ok` is false. */
  error?: string;
  /** Error code when `ok` is false and the error had one. */
  code?: string;
}

/** Sent while a file moves between this host and a machine. */
export interface TransferProgressEvent {
  type: 'transfer-progress';
  operation: DrOperation;
  direction: 'download' | 'upload';
  /** Remote path of the file being moved. */
  path: string;
  bytes: number;
  total: number;
  bytesPerSecond: number;
}

/** Every event that dr-core sends to `onEvent`. */
export type DrEvent = StepStartEvent | StepEndEvent | TransferProgressEvent | RunnerEvent;

/** Receiver of {@link DrEvent}s. Exceptions it throws are ignored. */
export type DrEventListener = (event: DrEvent) => void;

/**
 * Runs `fn` as the named step: sends `step-start`, then `step-end` with the outcome, and
 * rethrows any error.
 */
export async function runStep<T>(
  emit: DrEventListener,
  operation: DrOperation,
  step: string,
  fn: () => Promise<T> | T,
): Promise<T> {
  const startedAt = Date.now();
  emit({ type: 'step-start', operation, step, at: startedAt });
  try {
    const result = await fn();
    emit({ type: 'step-end', operation, step, ok: true, durationMs: Date.now() - startedAt });
    return result;
  } catch (error) {
    const code =
      typeof error === 'object' && error !== null && 'code' in error
        ? String((error as { code: unknown }).code)
        : undefined;
    emit({
      type: 'step-end',
      operation,
      step,
      ok: false,
      durationMs: Date.now() - startedAt,
      error: error instanceof Error ? error.message : String(error),
      ...(code === undefined ? {} : { code }),
    });
    throw error;
  }
}

/** Wraps a listener so that an exception in it never breaks an operation. */
export function safeListener(listener: DrEventListener | undefined): DrEventListener {
  if (listener === undefined) {
    return () => {};
  }
  return (event) => {
    try {
      listener(event);
    } catch {
      // A broken listener must not fail a backup or a restore.
    }
  };
}
