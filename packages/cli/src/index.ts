export { CliError, ExitCode, type ExitCodeValue, RefusedError, UsageError } from './exit-codes.js';
export type { CliIo } from './io.js';
export { main } from './main.js';
