import { globalRedactor } from './redact.js';

/** Fields attached to a log line, such as `{ method, path, status, request_id }`. */
export type FlyLogFields = Record<string, unknown>;

/** Structured logger the client reports requests, retries and lease events to. */
export interface FlyLogger {
  debug(message: string, fields?: FlyLogFields): void;
  info(message: string, fields?: FlyLogFields): void;
  warn(message: string, fields?: FlyLogFields): void;
  error(message: string, fields?: FlyLogFields): void;
}

/** Logger that drops every line; the default. */
export const silentLogger: FlyLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Wraps a logger so every message and field value is redacted before it reaches `target`:
 * tokens of every client in the process, and anything that looks like a token, private key or
 * certificate. Errors in fields become `{ name, message }` with the message redacted.
 */
export function createRedactingLogger(target: FlyLogger): FlyLogger {
  const forward =
    (level: keyof FlyLogger) =>
    (message: string, fields?: FlyLogFields): void => {
      const safeFields =
        fields === undefined ? undefined : (globalRedactor.redactValue(fields) as FlyLogFields);
      target[level](globalRedactor.redact(message), safeFields);
    };
  return {
    debug: forward('debug'),
    info: forward('info'),
    warn: forward('warn'),
    error: forward('error'),
  };
}
