/**
 * Exit codes of the `flydr` command. Scripts may rely on them; they never change meaning.
 */
export const ExitCode = {
  /** The command did what it was asked. */
  Success: 0,
  /** An operation failed; state was left consistent and the journal id was printed. */
  OperationFailed: 1,
  /** Invalid usage or input: an unknown option, a bad region code, a missing token. */
  InvalidInput: 2,
  /** A safety check refused: no capacity, divergence, split brain, a held lease or lock. */
  Refused: 3,
  /**
   * Interrupted by Ctrl-C: a paused failover, failback or resume continues with `flydr resume`,
   * and a sync or restore was rolled back.
   */
  Interrupted: 4,
} as const;

/** One of the documented exit codes. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error that the CLI prints as one line and turns into an exit code.
 * Commands throw it; only the binary's entry point calls `process.exit`.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';

  constructor(
    message: string,
    /** The exit code the process ends with. */
    readonly exitCode: ExitCodeValue,
    /** The next step for the user, printed after the message. */
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Invalid usage or input (exit code 2). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, ExitCode.InvalidInput, hint, options);
  }
}

/** A safety check refused the command (exit code 3). */
export class RefusedError extends CliError {
  override readonly name = 'RefusedError';

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, ExitCode.Refused, hint, options);
  }
}
