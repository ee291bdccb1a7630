import { appendFile, stat, writeFile } from 'node:fs/promises';
import type { CommandContext } from './command-context.js';
import { type CommandResult, failure, success } from './command-result.js';
import { MachineFileError } from './machine-files.js';
import { type ShellToken, tokenizeShell } from './shell-words.js';

/** Runs one argv with a context; the shell uses it for every pipeline stage. */
export type ArgvRunner = (argv: string[], context: CommandContext) => Promise<CommandResult>;

interface Stage {
  argv: string[];
  redirect?: { append: boolean; path: string };
}

function parsePipeline(tokens: ShellToken[]): Stage[] {
  const stages: Stage[] = [{ argv: [] }];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as ShellToken;
    const stage = stages[stages.length - 1] as Stage;
    if (token.kind === 'word') {
      stage.argv.push(token.value);
    } else if (token.value === '|') {
      if (stage.argv.length === 0 && stage.redirect === undefined)
        throw new Error('syntax error near "|"');
      stages.push({ argv: [] });
    } else {
      const target = tokens[i + 1];
      if (target?.kind !== 'word') throw new Error(`syntax error: "${token.value}" needs a file`);
      stage.redirect = { append: token.value === '>>', path: target.value };
      i += 1;
    }
  }
  const last = stages[stages.length - 1] as Stage;
  if (last.argv.length === 0 && last.redirect === undefined)
    throw new Error('syntax error: empty command');
  return stages;
}

/**
 * Writes a stage's output to its redirect target, checking the volume's free space.
 *
 * @returns undefined on success, else the shell's error line for stderr.
 */
async function writeRedirect(
  redirect: NonNullable<Stage['redirect']>,
  output: Buffer,
  context: CommandContext,
): Promise<Buffer | undefined> {
  const { append, path } = redirect;
  try {
    const host = context.files.writablePath(path, `exec redirect ${append ? '>>' : '>'}`);
    const existing = append ? 0 : ((await stat(host).catch(() => undefined))?.size ?? 0);
    context.files.requireSpace(context.files.normalize(path), output.length - existing);
    if (append) await appendFile(host, output);
    else await writeFile(host, output);
    return undefined;
  } catch (error) {
    const message = error instanceof MachineFileError ? error.message : (error as Error).message;
    return Buffer.from(`sh: 1: cannot create ${path}: ${message}\n`);
  }
}

/**
 * Runs `sh -c SCRIPT NAME ARG...` for the small shell subset flydr's templates use:
 * pipelines with `|`, `>` and `>>` redirects, `:`, quoting, and `$N` expansion.
 * Stages run one after another with buffered output; the exit code is the last stage's.
 */
export async function runShellScript(
  script: string,
  positional: string[],
  context: CommandContext,
  run: ArgvRunner,
): Promise<CommandResult> {
  let stages: Stage[];
  try {
    const tokens = tokenizeShell(script, (name) =>
      /^\d+$/.test(name) ? (positional[Number(name)] ?? '') : (context.env[name] ?? ''),
    );
    stages = parsePipeline(tokens);
  } catch (error) {
    return failure(2, `sh: 1: ${(error as Error).message}`);
  }

  let input: Promise<Buffer> | undefined;
  const stderr: Buffer[] = [];
  let result: CommandResult = success();
  for (const [index, stage] of stages.entries()) {
    const stageInput =
      index === 0 ? context.stdin : () => input ?? Promise.resolve(Buffer.alloc(0));
    result =
      stage.argv.length === 0
        ? success()
        : await run(stage.argv, { ...context, stdin: stageInput });
    stderr.push(result.stderr);

    if (stage.redirect !== undefined) {
      const failed = await writeRedirect(stage.redirect, result.stdout, context);
      if (failed !== undefined) {
        return { exitCode: 2, stdout: Buffer.alloc(0), stderr: Buffer.concat([...stderr, failed]) };
      }
      result = { ...result, stdout: Buffer.alloc(0) };
    }
    const output = result.stdout;
    input = Promise.resolve(output);
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: Buffer.concat(stderr) };
}
