import type { CommandContext } from './command-context.js';
import { type CommandResult, failure, success } from './command-result.js';
import {
  ddCommand,
  headCommand,
  mkdirCommand,
  mvCommand,
  rmCommand,
  sha256sum,
  statCommand,
  testCommand,
} from './file-commands.js';
import { runShellScript } from './shell.js';
import { sqlite3Command } from './sqlite3-command.js';
import { base64, colon, df, printenv, sync } from './system-commands.js';

type Command = (args: string[], context: CommandContext) => Promise<CommandResult>;

/** The commands flydr sends to machines; anything else exits 127 as "not found". */
const COMMANDS: Record<string, Command> = {
  printenv,
  sha256sum,
  stat: statCommand,
  test: testCommand,
  mkdir: mkdirCommand,
  mv: mvCommand,
  rm: rmCommand,
  sync,
  df,
  head: headCommand,
  sqlite3: sqlite3Command,
  dd: ddCommand,
  base64,
  ':': colon,
  command: commandBuiltin,
  sh: shCommand,
};

/** `command -v NAME`: the path of a command the machine has, exit 1 when it has none. */
async function commandBuiltin(args: string[], context: CommandContext): Promise<CommandResult> {
  if (args[0] !== '-v' || args[1] === undefined)
    return failure(2, 'command: the simulator supports command -v NAME');
  const name = args[1];
  const exists = name === 'sqlite3' ? context.image.sqlite3 !== false : name in COMMANDS;
  if (!exists) return { ...success(), exitCode: 1 };
  return success(name === ':' || name === 'command' ? `${name}\n` : `/usr/bin/${name}\n`);
}

/** `sh -c SCRIPT [NAME [ARG...]]`. */
async function shCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  if (args[0] !== '-c' || args[1] === undefined)
    return failure(2, 'sh: the simulator supports sh -c SCRIPT [NAME ARG...]');
  return runShellScript(args[1], args.slice(2), context, runArgv);
}

/**
 * Runs a command on a simulated machine. Unknown commands exit 127 with "not found", as a
 * shell reports them.
 */
export async function runArgv(argv: string[], context: CommandContext): Promise<CommandResult> {
  const [name, ...args] = argv;
  if (name === undefined) return success();
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) return failure(127, `sh: 1: ${name}: not found`);
  try {
    return await command(args, context);
  } catch (error) {
    return failure(1, `${name}: ${(error as Error).message}`);
  }
}
