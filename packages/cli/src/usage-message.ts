import { Parser } from 'yargs/helpers';
import type { CommandDefinition, CommandGroup } from './command.js';
import { UsageError } from './exit-codes.js';

type CommandEntry = CommandDefinition | CommandGroup;

/** The command a command line names, as far as it names one. */
interface CommandPath {
  /** The words typed, such as `backups list`; empty for no command. */
  words: string;
  /** The first word after the command's name that names nothing, such as `bogus`. */
  stray: string | undefined;
  /** The group when the line names a group, with or without a subcommand. */
  group: CommandGroup | undefined;
  /** The command that runs, when the line names one. */
  command: CommandDefinition | undefined;
}

/** Returns the first word of a yargs command string: `restore <id>` gives `restore`. */
function nameOf(entry: CommandEntry): string {
  return entry.command.split(' ')[0] as string;
}

// Global flags that take no value. Any other option takes the word after it as its value,
// as yargs reads it (`--state-dir /tmp/x` or an option unknown at this level, `--region sin`).
const flagOptions = ['yes', 'json', 'verbose', 'help', 'version'];

/**
 * Finds the command in `argv`: the first positional word that is a command name, then for a
 * group the first later one that is one of its subcommands. Option values are skipped, so
 * `flydr backups --state-dir /tmp/x` names no subcommand rather than "/tmp/x".
 */
function findCommand(argv: readonly string[], commands: readonly CommandEntry[]): CommandPath {
  const words = Parser(argv.slice(), {
    boolean: flagOptions,
    alias: { yes: ['y'] },
    configuration: { 'parse-numbers': false, 'parse-positional-numbers': false },
  })._.map(String);
  const index = words.findIndex((word) => commands.some((entry) => nameOf(entry) === word));
  if (index < 0) {
    return { words: '', stray: words[0], group: undefined, command: undefined };
  }

  const entry = commands.find((candidate) => nameOf(candidate) === words[index]) as CommandEntry;
  if (!('subcommands' in entry)) {
    return { words: nameOf(entry), stray: undefined, group: undefined, command: entry };
  }
  const sub = entry.subcommands.find((candidate) =>
    words.slice(index + 1).includes(nameOf(candidate)),
  );
  return {
    words: sub === undefined ? nameOf(entry) : `${nameOf(entry)} ${nameOf(sub)}`,
    stray: sub === undefined ? words[index + 1] : undefined,
    group: entry,
    command: sub,
  };
}

/** Builds the next step of a usage error: the command's first example, then its help. */
function nextStep(path: CommandPath): string {
  if (path.words === '') return 'run `flydr --help` for the commands and options';
  const example = path.command?.examples[0]?.[0];
  const help = `\`flydr ${path.words} --help\``;
  return example === undefined
    ? `run ${help} for its options`
    : `for example \`${example}\`; run ${help} for every option`;
}

/** Writes an option name as typed on the command line: `keep-days` gives `--keep-days`. */
function asOption(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * Turns a yargs parse message into flydr's own one-line error, naming the command and the
 * value, with the next step as its hint. Messages it does not know keep their text.
 */
export function usageErrorFor(
  message: string,
  argv: readonly string[],
  commands: readonly CommandEntry[],
): UsageError {
  const path = findCommand(argv, commands);
  const where = path.words === '' ? 'flydr' : `flydr ${path.words}`;
  const hint = nextStep(path);
  let match: RegExpExecArray | null;

  if (message.startsWith('Did you mean')) {
    // The yargs message names only the suggestion, so the typed word is added.
    return new UsageError(`unknown command ${JSON.stringify(path.stray ?? '')}. ${message}`, hint);
  }

  if (/^Not enough non-option arguments/.test(message)) {
    if (path.group !== undefined && path.command === undefined) {
      const names = path.group.subcommands.map(nameOf);
      const problem =
        path.stray === undefined
          ? 'missing subcommand'
          : `unknown subcommand ${JSON.stringify(path.stray)}`;
      return new UsageError(
        `${problem}: \`${where}\` needs one of ${names.join(', ')}`,
        `for example \`flydr ${nameOf(path.group)} ${names[0]}\`; run \`${where} --help\` for each one`,
      );
    }
    if (path.command !== undefined) {
      const usage = path.command.command.replace(/^\S+/, where);
      return new UsageError(`missing argument: the usage is \`${usage}\``, hint);
    }
    return new UsageError('missing command', hint);
  }

  match = /^Missing required arguments?: (.+)$/.exec(message);
  if (match) {
    const names = (match[1] as string).split(', ').map(asOption);
    return new UsageError(`missing ${names.join(' and ')} for \`${where}\``, hint);
  }

  match = /^Not enough arguments following: (.+)$/.exec(message);
  if (match) {
    return new UsageError(`missing value after ${asOption(match[1] as string)}`, hint);
  }

  match = /^Unknown arguments?: (.+)$/.exec(message);
  if (match) {
    // yargs names an unknown option twice, as typed and in camelCase (keep-days, keepDays).
    const named = (match[1] as string).split(', ');
    const unknown = named.filter(
      (name) =>
        !/[A-Z]/.test(name) ||
        !named.includes(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)),
    );
    const words = unknown.map((name) =>
      argv.includes(name) ? JSON.stringify(name) : asOption(name),
    );
    let what = 'unknown option';
    if (unknown.every((name) => argv.includes(name))) {
      if (path.words === '') return new UsageError(`unknown command ${words.join(', ')}`, hint);
      what =
        path.group !== undefined && path.command === undefined
          ? 'unknown subcommand'
          : 'unexpected argument';
    }
    return new UsageError(`${what} ${words.join(', ')} for \`${where}\``, hint);
  }

  match = /^Too many non-option arguments: got (\d+), maximum of (\d+)$/.exec(message);
  if (match) {
    return new UsageError(
      `too many arguments for \`${where}\`: got ${match[1]}, expected at most ${match[2]}`,
      hint,
    );
  }

  match = /Argument: (\S+), Given: (.+), Choices: (.+)$/.exec(message);
  if (match) {
    const choices = (match[3] as string).replaceAll('"', '').split(', ');
    return new UsageError(
      `invalid ${asOption(match[1] as string)} ${match[2]}: choose ${choices.join(' or ')}`,
      hint,
    );
  }

  // Any other yargs text is kept, on one line.
  return new UsageError(message.replace(/\s*\n\s*/g, ' '), hint);
}
