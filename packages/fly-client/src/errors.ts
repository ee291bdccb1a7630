import { globalRedactor } from './redact.js';

/** Stable codes carried by every error this package raises; callers branch on these. */
export type FlyErrorCode =
  | 'FLY_INVALID_INPUT'
  | 'FLY_API_ERROR'
  | 'FLY_CAPACITY'
  | 'FLY_RATE_LIMITED'
  | 'FLY_LEASE_CONFLICT'
  | 'FLY_NOT_FOUND'
  | 'FLY_INVALID_STATE'
  | 'FLY_UNAUTHORIZED'
  | 'FLY_TIMEOUT'
  | 'FLY_NETWORK'
  | 'FLY_BAD_RESPONSE'
  | 'FLY_EXEC_FAILED';

const FLY_ERROR_BRAND = Symbol.for('@flydr/fly-client.FlyError');

interface FlyErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
}

/**
 * Root of every error raised by @flydr/fly-client.
 *
 * The message ends with the hint, the next step to take, which is also kept in `hint`. Both are
 * redacted when the error is built: no token known to any client in this process, and
 * nothing that looks like a token, private key or certificate, survives into `message`,
 * `stack`, `String(error)` or `JSON.stringify(error)`.
 */
export class FlyError extends Error {
  /** Stable error code. */
  readonly code: FlyErrorCode;
  /** Next step for the caller, in one sentence. */
  readonly hint: string | undefined;

  constructor(code: FlyErrorCode, message: string, options: FlyErrorOptions = {}) {
    const hint = options.hint === undefined ? undefined : globalRedactor.redact(options.hint);
    const cause = sanitizeCause(options.cause);
    super(
      globalRedactor.redact(withAdvice(message, hint)),
      cause === undefined ? undefined : { cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
    Object.defineProperty(this, FLY_ERROR_BRAND, { value: true });
  }

  /** Plain, redacted fields for logs and JSON output; never the request or response body. */
  toJSON(): Record<string, unknown> {
    const fields: Record<string, unknown> = { name: this.name, code: this.code };
    for (const [key, value] of Object.entries(this)) {
      if (value !== undefined) fields[key] = globalRedactor.redactValue(value);
    }
    fields.message = this.message;
    return fields;
  }
}

// `instanceof FlyError` checks a brand instead of the prototype chain, so errors from a second
// copy of this package (two versions in one install) still match. Subclasses keep the ordinary
// prototype check.
Object.defineProperty(FlyError, Symbol.hasInstance, {
  value(this: unknown, value: unknown): boolean {
    if (this !== FlyError) {
      return Function.prototype[Symbol.hasInstance].call(this as () => void, value);
    }
    return typeof value === 'object' && value !== null && FLY_ERROR_BRAND in value;
  },
});

/** Appends the hint to the message, so the next step is there even where only messages show. */
function withAdvice(message: string, hint: string | undefined): string {
  if (!hint || message.includes(hint)) return message;
  return `${message.replace(/[.\s]+$/, '')}. ${hint}`;
}

/**
 * Keeps a cause for debugging but never one whose text carries a secret: such a cause is
 * replaced by a plain Error with the redacted message and no stack.
 */
function sanitizeCause(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) {
    return typeof cause === 'string' ? globalRedactor.redact(cause) : undefined;
  }

  const text = `${cause.message}\n${cause.stack ?? ''}`;
  if (globalRedactor.redact(text) === text) return cause;

  const copy = new Error(globalRedactor.redact(cause.message));
  copy.name = cause.name;
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}

/** Returns true when `error` is a {@link FlyError}, and when given, carries `code`. */
export function isFlyError(error: unknown, code?: FlyErrorCode): error is FlyError {
  if (!(error instanceof FlyError)) return false;
  return code === undefined || error.code === code;
}

/**
 * Raised before any request is sent, when an argument is invalid. Nothing reached Fly.
 */
export class FlyInputError extends FlyError {
  /** Name of the argument or option that failed the check, such as `machineId`. */
  readonly field: string;

  constructor(field: string, message: string, hint?: string) {
    super('FLY_INVALID_INPUT', message, { hint });
    this.field = field;
  }
}

/** Request facts attached to every API error. */
export interface FlyApiErrorDetails {
  /** HTTP status, absent when no response arrived (network failure, client timeout). */
  status?: number | undefined;
  /** Fly's `status` field from the error body, such as `insufficient_capacity`. */
  flyStatus?: string | undefined;
  /** Value of the `fly-request-id` response header, for Fly support. */
  requestId?: string | undefined;
  method: string;
  /** Request path without the query string. */
  path: string;
  /** Fly's error message from the body, redacted and cut to 300 characters. */
  detail?: string | undefined;
  /** Delay Fly asked for in `Retry-After`, in milliseconds, when it sent one. */
  retryAfterMs?: number | undefined;
  hint?: string | undefined;
  cause?: unknown;
}

/**
 * Raised when Fly responds with an error status, or when no usable response arrived.
 * Subclasses carry a specific code; this class itself uses `FLY_API_ERROR`.
 */
export class FlyApiError extends FlyError {
  readonly status: number | undefined;
  readonly flyStatus: string | undefined;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly detail: string | undefined;
  /** Delay Fly asked for in `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: FlyApiErrorDetails, code: FlyErrorCode = 'FLY_API_ERROR') {
    super(code, message, { hint: details.hint, cause: details.cause });
    this.status = details.status;
    this.flyStatus = details.flyStatus;
    this.requestId = details.requestId;
    this.method = details.method;
    this.path = details.path;
    this.detail = details.detail === undefined ? undefined : globalRedactor.redact(details.detail);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Fly has no room for the request in the region (machines, memory or volume placement). */
export class FlyCapacityError extends FlyApiError {
  /** Region the request targeted, when the client knows it. */
  readonly region: string | undefined;

  constructor(message: string, details: FlyApiErrorDetails & { region?: string | undefined }) {
    super(message, details, 'FLY_CAPACITY');
    this.region = details.region;
  }
}

/** Fly responded 429; `retryAfterMs` is the delay it requested, when it sent one. */
export class FlyRateLimitError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_RATE_LIMITED');
  }
}

/** Someone else holds the machine's lease, or the nonce sent is not the current one. */
export class FlyLeaseConflictError extends FlyApiError {
  /** Description the holder gave when it acquired the lease, when Fly returned it. */
  readonly holderDescription: string | undefined;
  /** Owner of the lease (usually an email address), when Fly returned it. */
  readonly holderOwner: string | undefined;
  /** When the held lease expires, in Unix milliseconds, when known. */
  readonly expiresAt: number | undefined;

  constructor(
    message: string,
    details: FlyApiErrorDetails & {
      holderDescription?: string | undefined;
      holderOwner?: string | undefined;
      expiresAt?: number | undefined;
    },
  ) {
    super(message, details, 'FLY_LEASE_CONFLICT');
    this.holderDescription = details.holderDescription;
    this.holderOwner = details.holderOwner;
    this.expiresAt = details.expiresAt;
  }
}

/** Fly responded 404 for the app, machine, volume or lease. */
export class FlyNotFoundError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_NOT_FOUND');
  }
}

/** The machine or volume is in a state that does not allow the request. */
export class FlyInvalidStateError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_INVALID_STATE');
  }
}

/** Fly rejected the token (401), or the token may not touch the resource (403). */
export class FlyUnauthorizedError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_UNAUTHORIZED');
  }
}

/** No response within the client timeout, a wait that reached its deadline, or a 408. */
export class FlyTimeoutError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_TIMEOUT');
  }
}

/** The request failed below HTTP: DNS, connection refused or reset, TLS. */
export class FlyNetworkError extends FlyApiError {
  constructor(message: string, details: FlyApiErrorDetails) {
    super(message, details, 'FLY_NETWORK');
  }
}

/**
 * A 2xx response whose body does not fit the expected shape. The message names the endpoint,
 * the JSON path and what was expected, never the body itself.
 */
export class FlyResponseError extends FlyApiError {
  /** Client call that received the response, such as `machines.get`. */
  readonly endpoint: string;
  /** JSON path of the first mismatch, such as `$.config.guest.cpus`. */
  readonly jsonPath: string;
  /** Expected type or shape at that path. */
  readonly expected: string;

  constructor(
    details: FlyApiErrorDetails & { endpoint: string; jsonPath: string; expected: string },
  ) {
    super(
      `${details.endpoint}: unexpected response from ${details.method} ${details.path}: ` +
        `at ${details.jsonPath} expected ${details.expected}`,
      {
        ...details,
        hint:
          details.hint ??
          'Fly changed or broke this response; report it with the request id, and retry later.',
      },
      'FLY_BAD_RESPONSE',
    );
    this.endpoint = details.endpoint;
    this.jsonPath = details.jsonPath;
    this.expected = details.expected;
  }
}

/** Outcome of a command run with the Machines exec API. */
export interface ExecResult {
  exitCode: number;
  /** Signal number that ended the command, when it was killed by one. */
  exitSignal?: number | undefined;
  stdout: string;
  stderr: string;
}

/** An exec call whose command exited non-zero. `result` contains its exit code and output. */
export class FlyExecError extends FlyError {
  readonly result: ExecResult;
  readonly machineId: string;
  readonly command: string;

  constructor(machineId: string, argv: readonly string[], result: ExecResult) {
    const command = argv.join(' ');
    const stderr = result.stderr.trim().slice(0, 200);
    super(
      'FLY_EXEC_FAILED',
      `command \`${command}\` on machine ${machineId} exited with code ${result.exitCode}` +
        (stderr ? `: ${stderr}` : ''),
      { hint: 'Check the command and its arguments on the machine, or pass allowFailure: true.' },
    );
    this.machineId = machineId;
    this.command = globalRedactor.redact(command);
    this.result = {
      ...result,
      stdout: globalRedactor.redact(result.stdout),
      stderr: globalRedactor.redact(result.stderr),
    };
  }
}
