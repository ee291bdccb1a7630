/**
 * Stable codes of every error that @flydr/dr-core throws. Callers branch on the code,
 * never on the message.
 */
export type DrErrorCode =
  | 'DR_INVALID_INPUT'
  | 'DR_FILE_NOT_FOUND'
  | 'DR_FILE_EXISTS'
  | 'DR_EMPTY_FILE'
  | 'DR_NOT_SQLITE'
  | 'DR_TRUNCATED'
  | 'DR_CORRUPT'
  | 'DR_SIDECAR_PRESENT'
  | 'DR_HASH_MISMATCH'
  | 'DR_LOCKED'
  | 'DR_BACKUP_NOT_FOUND'
  | 'DR_CATALOG'
  | 'DR_NO_SPACE'
  | 'DR_CONCURRENT_CHANGE'
  | 'DR_SOURCE_MACHINE'
  | 'DR_MACHINE_NOT_STARTED'
  | 'DR_MACHINE_BUSY'
  | 'DR_REMOTE_DB_MISSING'
  | 'DR_REMOTE_COMMAND'
  | 'DR_TRANSFER_FAILED'
  | 'DR_RATE_LIMITED'
  | 'DR_RESTORE_FAILED'
  | 'DR_HEALTH_FAILED'
  | 'DR_OPERATION_NOT_FOUND'
  | 'DR_OPERATION_FAILED'
  | 'DR_INTERRUPTED'
  | 'DR_DIVERGED'
  | 'DR_SPLIT_BRAIN'
  | 'DR_NO_CAPACITY'
  | 'DR_UNKNOWN_REGION'
  | 'DR_REFUSED';

/** Context fields that an error may carry besides its code and hint. */
export interface DrErrorDetails {
  /** Local or remote file the error is about. */
  path?: string;
  /** Machine the error is about. */
  machineId?: string;
  /** Catalog id of the backup the error is about. */
  backupId?: number;
  /** Underlying error. */
  cause?: unknown;
  /** Any other value worth showing, such as the lock holder or the free space. */
  [key: string]: unknown;
}

const brand = Symbol.for('flydr.dr-core.DrError');

/**
 * Error thrown by @flydr/dr-core. The message names what failed and the value, and `hint`
 * gives the next step. `Symbol.hasInstance` makes `instanceof` hold across duplicate
 * copies of the package.
 */
export class DrError extends Error {
  /** Stable error code. */
  readonly code: DrErrorCode;
  /** Next step for the user. */
  readonly hint: string;
  /** Context such as the path, machine id or lock holder. */
  readonly details: DrErrorDetails;

  constructor(code: DrErrorCode, message: string, hint: string, details: DrErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DrError';
    this.code = code;
    this.hint = hint;
    const { cause: _cause, ...rest } = details;
    this.details = rest;
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && brand in value;
  }

  /** Path the error is about, when there is one. */
  get path(): string | undefined {
    return typeof this.details.path === 'string' ? this.details.path : undefined;
  }
}

/**
 * Tells whether `value` is a {@link DrError}, optionally with the given code.
 */
export function isDrError(value: unknown, code?: DrErrorCode): value is DrError {
  return value instanceof DrError && (code === undefined || value.code === code);
}

/** Returns the message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Tells whether an error means the local disk is full (ENOSPC, EDQUOT or SQLite's SQLITE_FULL). */
export function isNoSpaceError(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'SQLITE_FULL';
}

/** Returns the errno code (`ENOENT`, `ENOSPC`, ...) of a Node.js system error. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) {
    return undefined;
  }
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Wraps a local file-system error in a DrError: ENOSPC becomes DR_NO_SPACE, ENOENT
 * becomes DR_FILE_NOT_FOUND, and anything else keeps `fallback`.
 */
export function fileSystemError(
  error: unknown,
  step: string,
  path: string,
  fallback: DrErrorCode = 'DR_INVALID_INPUT',
): DrError {
  if (error instanceof DrError) {
    return error;
  }
  const errno = errnoOf(error);
  if (isNoSpaceError(error)) {
    return new DrError(
      'DR_NO_SPACE',
      `${step} failed: no space left on the device holding ${path}`,
      'Free space on that file system (or choose another state directory) and run the command again.',
      { path, cause: error },
    );
  }
  if (errno === 'ENOENT') {
    return new DrError(
      'DR_FILE_NOT_FOUND',
      `${step} failed: ${path} does not exist`,
      'Check the path and that its directory exists.',
      { path, cause: error },
    );
  }
  return new DrError(
    fallback,
    `${step} failed on ${path}: ${messageOf(error)}`,
    'Check the permissions and the file system, then run the command again.',
    { path, cause: error },
  );
}
