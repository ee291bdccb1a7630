/**
 * Quotes one argument for a POSIX shell: wraps it in single quotes and writes each single
 * quote inside as `'\''`, so the shell passes the bytes through unchanged.
 */
export function quoteShellArg(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Joins an argv array into one command line for an SSH `exec` request. */
export function joinShellCommand(argv: readonly string[]): string {
  return argv.map(quoteShellArg).join(' ');
}
