/** Structured log fields: lowercase snake_case keys such as `app`, `machine_id`, `path`. */
export type LogFields = Record<string, unknown>;

/**
 * Logger that dr-core writes to. The same shape as the fly-client logger, so one object
 * serves both.
 */
export interface DrLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Logger that drops every record; the default when the caller passes none. */
export const silentLogger: DrLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
