import cliProgress from 'cli-progress';
import { formatBytes, formatDuration, type Output } from './output.js';

/** A step or transfer event, as dr-core's operations send them to `onEvent`. */
export type ProgressEvent =
  | { type: 'step-start'; operation: string; step: string; at?: number }
  | {
      type: 'step-end';
      operation: string;
      step: string;
      ok: boolean;
      durationMs: number;
      error?: string;
      code?: string;
    }
  | {
      type: 'transfer-progress';
      operation: string;
      direction: 'download' | 'upload';
      path: string;
      bytes: number;
      total: number;
      bytesPerSecond: number;
    }
  | { type: 'operation-step-start'; operationId: string; step: string; position: number }
  | {
      type: 'operation-step-end';
      operationId: string;
      step: string;
      ok: boolean;
      durationMs: number;
      error?: string;
    }
  | { type: 'operation-undo'; operationId: string; step: string; ok: boolean; error?: string };

/** One finished step, kept for the JSON result of multi-step commands. */
export interface StepRecord {
  operation: string;
  step: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

/**
 * Prints the live step list of an operation on stderr: one line per finished step with
 * its duration, and on a terminal a progress bar with rate and ETA while a file moves.
 * Without a terminal (or with `--json`) the bar is left out and each step is one line.
 */
export class StepPrinter {
  readonly steps: StepRecord[] = [];
  private bar: cliProgress.SingleBar | undefined;
  private barPath: string | undefined;
  private operationId: string | undefined;

  constructor(private readonly out: Output) {}

  /** Journal id of the operation whose steps were printed last; undefined before one starts. */
  get lastOperationId(): string | undefined {
    return this.operationId;
  }

  /** The listener to pass as dr-core's `onEvent`. */
  readonly listener = (event: unknown): void => {
    const typed = event as ProgressEvent;
    if (typed.type === 'step-start') this.start(typed);
    else if (typed.type === 'step-end') this.end(typed);
    else if (typed.type === 'transfer-progress') this.progress(typed);
    else if (typed.type === 'operation-step-start') this.operationStart(typed);
    else if (typed.type === 'operation-step-end') this.operationEnd(typed);
    else if (typed.type === 'operation-undo') this.undo(typed);
  };

  private operationStart(event: Extract<ProgressEvent, { type: 'operation-step-start' }>): void {
    this.stopBar();
    if (event.operationId !== this.operationId) {
      this.operationId = event.operationId;
      this.out.note(`operation ${event.operationId}`);
    }
    this.out.note(this.out.style('bold', `[${event.position + 1}] ${event.step}`));
  }

  private operationEnd(event: Extract<ProgressEvent, { type: 'operation-step-end' }>): void {
    this.stopBar();
    this.steps.push({
      operation: event.operationId,
      step: event.step,
      ok: event.ok,
      durationMs: event.durationMs,
      ...(event.error === undefined ? {} : { error: event.error }),
    });
    const mark = event.ok ? this.out.style('green', '✓') : this.out.style('red', '✗');
    const failure = event.ok ? '' : ` failed: ${event.error ?? ''}`;
    this.out.note(
      `${mark} ${event.step} ${this.out.style('dim', formatDuration(event.durationMs))}${failure}`,
    );
  }

  private undo(event: Extract<ProgressEvent, { type: 'operation-undo' }>): void {
    const mark = event.ok ? this.out.style('yellow', '↶') : this.out.style('red', '✗');
    this.out.note(`${mark} undo ${event.step}${event.ok ? '' : ` failed: ${event.error ?? ''}`}`);
  }

  private start(event: Extract<ProgressEvent, { type: 'step-start' }>): void {
    this.out.debug(`  … ${event.operation}: ${event.step}`);
  }

  private end(event: Extract<ProgressEvent, { type: 'step-end' }>): void {
    this.stopBar();
    this.steps.push({
      operation: event.operation,
      step: event.step,
      ok: event.ok,
      durationMs: event.durationMs,
      ...(event.error === undefined ? {} : { error: event.error }),
    });

    const mark = event.ok ? this.out.style('green', '✓') : this.out.style('red', '✗');
    const duration = this.out.style('dim', formatDuration(event.durationMs));
    // The error itself is printed once, by the command's error line.
    const failure = event.ok ? '' : ` failed${event.code ? ` (${event.code})` : ''}`;
    const name = event.step.startsWith(event.operation)
      ? event.step
      : `${event.operation} ${event.step}`;
    this.out.note(`  ${mark} ${name} ${duration}${failure}`);
  }

  private progress(event: Extract<ProgressEvent, { type: 'transfer-progress' }>): void {
    if (!this.out.interactive) return;

    if (this.bar === undefined || this.barPath !== event.path) {
      this.stopBar();
      this.barPath = event.path;
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.out.stderr as NodeJS.WriteStream,
          format: `  ${event.direction} {bar} {percentage}% {done}/{size} {rate}/s ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(event.total, 1), 0, { done: '0 B', size: formatBytes(event.total) });
    }

    this.bar.update(event.bytes, {
      done: formatBytes(event.bytes),
      size: formatBytes(event.total),
      rate: formatBytes(event.bytesPerSecond),
    });
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.barPath = undefined;
  }

  /** Removes a progress bar left by a failed transfer. */
  close(): void {
    this.stopBar();
  }
}
