import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { CliError, ExitCode, UsageError } from './exit-codes.js';

/** Terminal streams for a confirmation prompt. */
export interface PromptStreams {
  stdin: Readable & { isTTY?: boolean };
  stderr: Writable;
}

/**
 * Asks the user to confirm a destructive step. `--yes` skips the question; without it a
 * non-interactive run refuses, so a script never destroys by accident.
 *
 * @throws UsageError when stdin is not a terminal and `yes` is false.
 * @throws CliError (exit code 3) when the user answers anything but y or yes.
 */
export async function confirm(
  question: string,
  options: { yes: boolean; streams: PromptStreams },
): Promise<void> {
  if (options.yes) return;

  const { stdin, stderr } = options.streams;
  if (stdin.isTTY !== true) {
    throw new UsageError(
      `refusing to go on without confirmation: ${question}`,
      'this is not a terminal, so pass --yes to confirm',
    );
  }

  const reader = createInterface({ input: stdin, output: stderr });
  try {
    const answer = (await reader.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') {
      throw new CliError('cancelled: nothing was changed', ExitCode.Refused);
    }
  } finally {
    reader.close();
  }
}
