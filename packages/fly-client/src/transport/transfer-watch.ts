import { TransportError } from './errors.js';
import type { TransferProgress } from './machine-transport.js';

/** Idle timeout of a transfer when the caller sets none. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const PROGRESS_INTERVAL_MS = 100;

/** Settings of one {@link TransferWatch}. */
export interface TransferWatchOptions {
  /** Size of the file, when known; {@link TransferWatch.begin} sets it otherwise. @default 0 */
  total?: number;
  /** Bytes already in place before this attempt (resumed partial file). @default 0 */
  startBytes?: number;
  idleTimeoutMs?: number;
  /** Absolute time (ms since epoch) after which the transfer fails. */
  deadlineAt?: number;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
  /** Called once when the transfer must stop, so the caller can close its channel. */
  onFailure: (error: TransportError) => void;
  machineId: string;
  path: string;
}

/**
 * Watches one transfer attempt: counts bytes, reports progress, and fails the attempt when
 * no byte moves for the idle timeout, when the deadline passes, or when the signal aborts.
 */
export class TransferWatch {
  #bytes: number;
  #total: number;
  #startBytes: number;
  #failure: TransportError | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #lastReport = 0;
  readonly #startedAt = Date.now();
  readonly #options: TransferWatchOptions;
  readonly #onAbort = () => this.fail('TRANSPORT_ABORTED', 'transfer aborted by the caller');
  #rejectStopped: (error: TransportError) => void = () => undefined;
  /** Rejects with the failure when the transfer is stopped; never resolves. */
  readonly stopped: Promise<never> = new Promise<never>((_resolve, reject) => {
    this.#rejectStopped = reject;
  });

  constructor(options: TransferWatchOptions) {
    this.stopped.catch(() => undefined);
    this.#options = options;
    this.#total = options.total ?? 0;
    this.#bytes = options.startBytes ?? 0;
    this.#startBytes = this.#bytes;

    if (options.signal?.aborted) {
      this.#onAbort();
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });

    if (options.deadlineAt !== undefined) {
      const remaining = options.deadlineAt - Date.now();
      this.#deadlineTimer = setTimeout(() => this.#failDeadline(), Math.max(0, remaining));
    }
    this.#armIdleTimer();
  }

  /** Error that stopped the transfer, if any. */
  get failure(): TransportError | undefined {
    return this.#failure;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Sets the file size and the bytes already in place once the attempt knows them (the
   * watch runs from the start of the attempt, connecting included), and restarts the idle timer.
   */
  begin(total: number, startBytes: number): void {
    this.#total = total;
    this.#bytes = startBytes;
    this.#startBytes = startBytes;
    this.touch();
  }

  /** Records `count` more bytes moved and restarts the idle timer. */
  advance(count: number): void {
    if (this.#failure) return;
    this.#bytes += count;
    this.#armIdleTimer();

    const now = Date.now();
    if (now - this.#lastReport >= PROGRESS_INTERVAL_MS) {
      this.#lastReport = now;
      this.#report();
    }
  }

  /**
   * Stops the idle timer while a step runs that moves no bytes, such as hashing a large file
   * on the machine; that step has its own timeout, and the deadline still applies.
   */
  pauseIdle(): void {
    clearTimeout(this.#idleTimer);
  }

  /** Restarts the idle timer without counting bytes, for steps that make no progress calls. */
  touch(): void {
    if (!this.#failure) this.#armIdleTimer();
  }

  /**
   * Waits for `step`, but rejects as soon as the transfer is stopped, so a request that never
   * gets a reply cannot hang the transfer.
   */
  async guard<T>(step: Promise<T>): Promise<T> {
    step.catch(() => undefined);
    return Promise.race([step, this.stopped]);
  }

  /** Throws the failure, if the transfer was stopped. */
  throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Stops the timers; reports the final progress when the transfer succeeded. */
  finish(succeeded: boolean): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#deadlineTimer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (succeeded && !this.#failure) this.#report();
  }

  /** Stops the transfer with the given code. */
  fail(code: 'TRANSPORT_TIMEOUT' | 'TRANSPORT_ABORTED', message: string, hint?: string): void {
    if (this.#failure) return;
    this.#failure = new TransportError(code, `${message} (${this.#options.path})`, {
      machineId: this.#options.machineId,
      path: this.#options.path,
      hint:
        hint ??
        (code === 'TRANSPORT_ABORTED'
          ? 'run the transfer again; it resumes from the partial file'
          : undefined),
    });
    this.finish(false);
    this.#rejectStopped(this.#failure);
    this.#options.onFailure(this.#failure);
  }

  #armIdleTimer(): void {
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.fail(
        'TRANSPORT_TIMEOUT',
        `transfer idle: no data moved for ${idleTimeoutMs} ms`,
        'check the machine is started and reachable, then run the transfer again; it resumes from the partial file',
      );
    }, idleTimeoutMs);
  }

  #failDeadline(): void {
    this.fail(
      'TRANSPORT_TIMEOUT',
      `transfer deadline passed after ${Date.now() - this.#startedAt} ms`,
      'raise deadlineMs, or run the transfer again; it resumes from the partial file',
    );
  }

  #report(): void {
    const seconds = Math.max((Date.now() - this.#startedAt) / 1000, 0.001);
    this.#options.onProgress?.({
      bytes: this.#bytes,
      total: this.#total,
      bytesPerSecond: Math.round((this.#bytes - this.#startBytes) / seconds),
    });
  }
}
