/** Result of a command run on a simulated machine. */
export interface CommandResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Builds a result with exit code 0 and the given output. */
export function success(stdout: Buffer | string = ''): CommandResult {
  return { exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) };
}

/** Builds a failed result with a message on stderr (a newline is added). */
export function failure(exitCode: number, message: string): CommandResult {
  return { exitCode, stdout: Buffer.alloc(0), stderr: Buffer.from(`${message}\n`) };
}
