import type { Argv } from 'yargs';
import type { CommandContext } from './context.js';

/** One `flydr` command: its yargs declaration and what it runs. */
export interface CommandDefinition {
  /** The yargs command string, e.g. `restore <id>`. */
  command: string;
  /** One line for the command list and the help page. */
  describe: string;
  /** Example command lines with what each does, shown in help. */
  examples: ReadonlyArray<readonly [string, string]>;
  /** Declares the command's own options and positionals. */
  builder?: (parser: Argv) => Argv;
  /** Runs the command; throws a CliError (or a typed dr-core error) to fail. */
  run: (args: Record<string, unknown>, context: CommandContext) => Promise<void>;
}

/** A command that only groups subcommands, such as `backups list|show|verify|prune`. */
export interface CommandGroup {
  command: string;
  describe: string;
  subcommands: readonly CommandDefinition[];
}
