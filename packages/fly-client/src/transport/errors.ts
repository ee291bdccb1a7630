/** Stable codes of {@link TransportError}; callers branch on these, never on the message. */
export type TransportErrorCode =
  | 'TRANSPORT_INVALID_INPUT'
  | 'TRANSPORT_NOT_STARTED'
  | 'TRANSPORT_CONNECT_FAILED'
  | 'TRANSPORT_AUTH_FAILED'
  | 'TRANSPORT_HOST_KEY_CHANGED'
  | 'TRANSPORT_WRONG_MACHINE'
  | 'TRANSPORT_REMOTE_NOT_FOUND'
  | 'TRANSPORT_LOCAL_NOT_FOUND'
  | 'TRANSPORT_LOCAL_DIR_MISSING'
  | 'TRANSPORT_DISK_FULL'
  | 'TRANSPORT_CHECKSUM_MISMATCH'
  | 'TRANSPORT_TIMEOUT'
  | 'TRANSPORT_ABORTED'
  | 'TRANSPORT_TOOL_MISSING'
  | 'TRANSPORT_COMMAND_FAILED'
  | 'TRANSPORT_CONNECTION_LOST'
  | 'TRANSPORT_CLOSED';

/** Fields that locate a {@link TransportError}: which machine, which file, which step. */
export interface TransportErrorDetails {
  /** Advice for the next step, also appended to the message. */
  hint?: string;
  machineId?: string;
  /** Remote or local path the failed step worked on. */
  path?: string;
  /** Underlying error, kept for debugging; never contains keys or certificates. */
  cause?: unknown;
}

const brand = Symbol.for('@flydr/fly-client/TransportError');

/**
 * Error of the machine file transports. Every error carries a stable `code`, the machine id
 * and path when known, and a `hint` with the next step.
 *
 * `instanceof` also works across duplicate copies of this package.
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  readonly hint: string | undefined;
  readonly machineId: string | undefined;
  readonly path: string | undefined;

  constructor(code: TransportErrorCode, message: string, details: TransportErrorDetails = {}) {
    // Hints are written as sentences, so they start with a capital letter.
    const hint = details.hint
      ? details.hint.charAt(0).toUpperCase() + details.hint.slice(1)
      : undefined;
    super(hint ? `${message}. ${hint}` : message, { cause: details.cause });
    this.code = code;
    this.hint = hint;
    this.machineId = details.machineId;
    this.path = details.path;
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && brand in value;
  }

  /** Returns the fields that `JSON.stringify` writes; the cause is left out. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      hint: this.hint,
      machineId: this.machineId,
      path: this.path,
    };
  }
}

/** Returns true when `value` is a {@link TransportError}, with the given code when one is passed. */
export function isTransportError(
  value: unknown,
  code?: TransportErrorCode,
): value is TransportError {
  return value instanceof TransportError && (code === undefined || value.code === code);
}
