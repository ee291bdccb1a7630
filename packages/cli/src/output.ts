import type { Writable } from 'node:stream';

/** Output streams and modes of a command. */
export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  /** Print one JSON document on stdout and nothing else there. */
  json: boolean;
  /** Print debug lines on stderr. */
  verbose: boolean;
  env: NodeJS.ProcessEnv;
}

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39] };

/** A column of a printed table. */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  /** Right-align, for numbers. */
  right?: boolean;
}

/**
 * Prints command output for people (tables, step lines, colour on a terminal) or, with
 * `--json`, one JSON document for scripts. Step and progress lines go to stderr, so
 * stdout carries only the result.
 */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color: boolean;
  readonly interactive: boolean;
  readonly stdout: OutputOptions['stdout'];
  readonly stderr: OutputOptions['stderr'];
  private resultWritten = false;

  /** True once {@link result} printed the command's JSON document. */
  get hasResult(): boolean {
    return this.resultWritten;
  }

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    // NO_COLOR (any non-empty value) and a non-terminal both turn colour off.
    this.color =
      !options.env.NO_COLOR && options.stdout.isTTY === true && options.env.TERM !== 'dumb';
    this.interactive = options.stderr.isTTY === true && !options.json;
  }

  /** Wraps text in an ANSI style when colour is on. */
  style(name: keyof typeof codes, text: string): string {
    if (!this.color) return text;
    const [open, close] = codes[name];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  /** Prints a line of the result on stdout; ignored in JSON mode, where `result` prints. */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** Prints a progress or status line on stderr (also in JSON mode, where stdout is reserved). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Prints a debug line on stderr when `--verbose` is set. */
  debug(text: string): void {
    if (this.verbose) this.stderr.write(`${this.style('dim', text)}\n`);
  }

  /** Prints a warning on stderr. */
  warn(text: string): void {
    this.stderr.write(`${this.style('yellow', 'warning:')} ${text}\n`);
  }

  /**
   * Prints the command's JSON document when `--json` is set. Each command calls it once;
   * the document's shape is documented per command in the CLI README.
   */
  result(document: unknown): void {
    if (!this.json) return;
    if (this.resultWritten) throw new Error('a command printed two JSON results');
    this.resultWritten = true;
    this.stdout.write(`${toJson(document)}\n`);
  }

  /** Prints rows as an aligned table with a header line. */
  table<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): void {
    if (this.json) return;
    const cells = rows.map((row) => columns.map((column) => column.value(row)));
    const widths = columns.map((column, index) =>
      Math.max(column.header.length, ...cells.map((row) => (row[index] as string).length)),
    );

    const format = (values: string[]) =>
      values
        .map((value, index) => {
          const width = widths[index] as number;
          return columns[index]?.right ? value.padStart(width) : value.padEnd(width);
        })
        .join('  ')
        .trimEnd();

    this.line(this.style('bold', format(columns.map((column) => column.header))));
    for (const row of cells) this.line(format(row));
  }
}

/** Formats a byte count as B, KiB, MiB or GiB with one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Formats milliseconds as `850ms`, `12.3s` or `4m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** Serializes a `--json` document; a bigint (a large SQLite integer) becomes a decimal string. */
export function toJson(document: unknown): string {
  return JSON.stringify(
    document,
    (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
    2,
  );
}
