import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import type { CommandDefinition, CommandGroup } from './command.js';
import { commands } from './commands/index.js';
import { CommandContext } from './context.js';
import { reportError } from './error-exit.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { type GlobalArgs, withGlobalOptions } from './global-options.js';
import { type CliIo, processIo } from './io.js';
import { toJson } from './output.js';
import { usageErrorFor } from './usage-message.js';

/** Reads the version of the installed package, from package.json next to src/ and dist/. */
function cliVersion(): string {
  const path = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/** Tells whether the arguments ask for help or the version, which run no command. */
function asksForHelpOrVersion(argv: readonly string[]): boolean {
  return argv[0] === 'help' || argv.some((arg) => arg === '--help' || arg === '--version');
}

/** The context of the command that runs, so errors know whether a result was printed. */
interface RunState {
  context: CommandContext | undefined;
}

function declare(parser: Argv, definition: CommandDefinition, io: CliIo, state: RunState): Argv {
  return parser.command(
    definition.command,
    definition.describe,
    (sub) => {
      const withOptions = definition.builder ? definition.builder(sub) : sub;
      for (const [line, text] of definition.examples) withOptions.example(line, text);
      return withOptions;
    },
    async (args) => {
      const context = new CommandContext(args as unknown as GlobalArgs, io);
      state.context = context;
      try {
        await definition.run(args as Record<string, unknown>, context);
      } finally {
        await context.close();
      }
    },
  );
}

function declareGroup(parser: Argv, group: CommandGroup, io: CliIo, state: RunState): Argv {
  return parser.command(group.command, group.describe, (sub) => {
    let withCommands = sub;
    for (const definition of group.subcommands)
      withCommands = declare(withCommands, definition, io, state);
    return withCommands.demandCommand(1);
  });
}

/**
 * Runs `flydr` with the given arguments and returns the exit code. Errors are printed as one
 * line with a hint (or a JSON error document with `--json`); nothing here calls `process.exit`.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const wantsJson = argv.includes('--json');
  const state: RunState = { context: undefined };
  let parser = withGlobalOptions(yargs(argv))
    .scriptName('flydr')
    .usage('$0 <command> [options]\n\nDisaster recovery for a SQLite database on a Fly.io volume.')
    .strict()
    .exitProcess(false)
    .showHelpOnFail(false)
    .fail((message, error) => {
      // yargs reports its own parse errors as a YError; any other error comes from a command.
      if (error && error.name !== 'YError') throw error;
      throw usageErrorFor(message ?? error?.message ?? 'invalid command line', argv, commands);
    })
    .example('flydr demo', 'run the whole runbook against a simulated Fly, no account needed')
    .example('flydr doctor', 'check the token, the app and the path to its machine')
    .example('flydr backup', 'back up the database of the app in ./fly.toml')
    .example('flydr failover --to sin', 'move the app and its database to sin')
    .demandCommand(1, 'missing command')
    .recommendCommands()
    .wrap(Math.min(110, io.stdout.isTTY ? (process.stdout.columns ?? 100) : 100))
    .epilogue(
      'Exit codes: 0 success, 1 operation failed, 2 invalid input, 3 refused by a safety check, 4 interrupted by Ctrl-C (`flydr status` shows what is left for `flydr resume`).',
    )
    .help()
    .version(cliVersion()) as unknown as Argv;

  for (const entry of commands) {
    parser =
      'subcommands' in entry
        ? declareGroup(parser, entry, io, state)
        : declare(parser, entry, io, state);
  }

  try {
    await parser.parseAsync();
    // Words after `--` satisfy yargs' demand for a command without naming one, so such a run
    // that reached no command and asked for no help or version ends here as a usage error.
    if (state.context === undefined && argv.includes('--') && !asksForHelpOrVersion(argv)) {
      const after = argv.slice(argv.indexOf('--') + 1).join(' ');
      throw new UsageError(
        `missing command: the words after -- ("${after}") are not read as a command`,
        'put the command before --, as in `flydr --help`',
      );
    }
    return ExitCode.Success;
  } catch (error) {
    const report = reportError(error);
    // A command that printed its result (e.g. a failed verification) keeps it as the one document.
    if (wantsJson && state.context?.out.hasResult !== true) {
      const document = {
        ok: false,
        error: {
          message: report.message,
          code: report.code ?? null,
          hint: report.hint ?? null,
          exitCode: report.exitCode,
          operationId: report.operationId ?? null,
        },
      };
      io.stdout.write(`${toJson(document)}\n`);
    }
    io.stderr.write(`flydr: ${report.message}\n`);
    if (report.hint) io.stderr.write(`  next: ${report.hint}\n`);
    if (report.operationId) io.stderr.write(`  operation: ${report.operationId}\n`);
    return report.exitCode;
  }
}
