import { CliError, ExitCode, type ExitCodeValue } from './exit-codes.js';

// Error codes of fly-client and dr-core that mean "refused by a safety check".
const refusedCodes = new Set([
  'FLY_CAPACITY',
  'FLY_LEASE_CONFLICT',
  'DR_LOCKED',
  'DR_DIVERGED',
  'DR_SPLIT_BRAIN',
  'DR_NO_CAPACITY',
  'DR_REFUSED',
]);

// Error codes that mean the input was invalid.
const invalidInputCodes = new Set([
  'FLY_INVALID_INPUT',
  'FLY_UNAUTHORIZED',
  'DR_FLY_TOML_INVALID',
  'DR_INVALID_INPUT',
  'DR_BACKUP_NOT_FOUND',
  'DR_FILE_EXISTS',
  'DR_UNKNOWN_REGION',
  'DR_OPERATION_NOT_FOUND',
]);

/** The exit code and printable lines for an error that ended a command. */
export interface ErrorReport {
  exitCode: ExitCodeValue;
  message: string;
  hint: string | undefined;
  code: string | undefined;
  /** Journaled operation the error belongs to, for `flydr resume` or `flydr abort`. */
  operationId: string | undefined;
}

/** Maps any thrown value to the documented exit code, its one-line message and its hint. */
export function reportError(error: unknown): ErrorReport {
  if (error instanceof CliError) {
    return {
      exitCode: error.exitCode,
      message: error.message,
      hint: error.hint,
      code: undefined,
      operationId: undefined,
    };
  }

  if (error instanceof Error) {
    const { code, hint, details } = error as Error & {
      code?: unknown;
      hint?: unknown;
      details?: { operationId?: unknown };
    };
    const codeText = typeof code === 'string' ? code : undefined;
    let exitCode: ExitCodeValue = ExitCode.OperationFailed;
    if (codeText !== undefined && refusedCodes.has(codeText)) exitCode = ExitCode.Refused;
    if (codeText !== undefined && invalidInputCodes.has(codeText)) exitCode = ExitCode.InvalidInput;
    if (codeText === 'DR_INTERRUPTED') exitCode = ExitCode.Interrupted;
    const hintText = typeof hint === 'string' ? hint : undefined;
    return {
      exitCode,
      message: withoutTrailingHint(error.message, hintText),
      hint: hintText,
      code: codeText,
      operationId: typeof details?.operationId === 'string' ? details.operationId : undefined,
    };
  }

  return {
    exitCode: ExitCode.OperationFailed,
    message: String(error),
    hint: undefined,
    code: undefined,
    operationId: undefined,
  };
}

// fly-client and the transports also end each message with its hint. The CLI prints the
// hint on its own `next:` line, so the copy at the end of the message is cut.
function withoutTrailingHint(message: string, hint: string | undefined): string {
  if (hint === undefined || hint === '') return message;
  const index = message.toLowerCase().lastIndexOf(hint.toLowerCase());
  if (index <= 0 || index + hint.length !== message.length) return message;
  return message.slice(0, index).replace(/[\s.;:]+$/, '');
}
