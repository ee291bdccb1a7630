import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { CommandContext } from './command-context.js';
import { type CommandResult, failure, success } from './command-result.js';
import { MachineFileError } from './machine-files.js';

/** Drops a leading `--` (end of options) from the operands. */
function operands(args: string[]): string[] {
  return args[0] === '--' ? args.slice(1) : args;
}

/** Splits leading option words (e.g. `-p`, `-f`) from the operands after them. */
function splitOptions(args: string[]): { options: string[]; rest: string[] } {
  let i = 0;
  while (i < args.length && args[i] !== '--' && /^-[A-Za-z]+$/.test(args[i] ?? '')) i += 1;
  return { options: args.slice(0, i), rest: operands(args.slice(i)) };
}

function isMissing(error: unknown): boolean {
  return (
    (error instanceof MachineFileError && error.code === 'ENOENT') ||
    (error as NodeJS.ErrnoException).code === 'ENOENT'
  );
}

/** Formats a failed file operation as the GNU tools do: "tool: message". */
function fileFailure(tool: string, path: string, error: unknown): CommandResult {
  if (error instanceof MachineFileError) return failure(1, `${tool}: ${error.message}`);
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'No such file or directory'
      : code === 'EISDIR'
        ? 'Is a directory'
        : code === 'ENOTDIR'
          ? 'Not a directory'
          : code === 'EEXIST'
            ? 'File exists'
            : (error as Error).message;
  return failure(1, `${tool}: ${path}: ${reason}`);
}

/** `sha256sum [--] PATH...`: "<hex>  PATH" per file. */
export async function sha256sum(args: string[], context: CommandContext): Promise<CommandResult> {
  const out: string[] = [];
  for (const path of operands(args)) {
    try {
      const host = context.files.hostPath(path);
      if ((await stat(host)).isDirectory()) return failure(1, `sha256sum: ${path}: Is a directory`);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(host)) hash.update(chunk as Buffer);
      out.push(`${hash.digest('hex')}  ${path}\n`);
    } catch (error) {
      return fileFailure('sha256sum', path, error);
    }
  }
  return success(out.join(''));
}

/** `stat -c FORMAT [--] PATH`: supports %s, %Y, %a, %n and %F. */
export async function statCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  if (args[0] !== '-c' || args[1] === undefined) {
    return failure(1, 'stat: the simulator supports only stat -c FORMAT -- PATH');
  }
  const format = args[1];
  const out: string[] = [];
  for (const path of operands(args.slice(2))) {
    const guest = context.files.normalize(path);
    try {
      const info = context.files.isAboveMount(guest)
        ? { size: 4096, mtimeMs: 0, mode: 0o40755, isDirectory: () => true }
        : await stat(context.files.hostPath(path));
      const replaced = format.replace(/%([sYanF%])/g, (_, spec: string) => {
        if (spec === 's') return String(info.size);
        if (spec === 'Y') return String(Math.floor(info.mtimeMs / 1000));
        if (spec === 'a') return (info.mode & 0o7777).toString(8);
        if (spec === 'n') return path;
        if (spec === 'F') return info.isDirectory() ? 'directory' : 'regular file';
        return '%';
      });
      out.push(`${replaced}\n`);
    } catch (error) {
      if (isMissing(error)) {
        return failure(1, `stat: cannot statx '${path}': No such file or directory`);
      }
      return fileFailure('stat', path, error);
    }
  }
  return success(out.join(''));
}

/** `test -e|-f|-d|-s PATH`: exit 0 when the test holds, else 1. */
export async function testCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  const [flag, path] = args;
  if (flag === undefined || path === undefined || !['-e', '-f', '-d', '-s'].includes(flag)) {
    return failure(2, 'test: the simulator supports test -e|-f|-d|-s PATH');
  }
  const guest = context.files.normalize(path);
  if (context.files.isAboveMount(guest))
    return { ...success(), exitCode: flag === '-d' || flag === '-e' ? 0 : 1 };

  try {
    const info = await stat(context.files.hostPath(path));
    const holds =
      flag === '-e' ||
      (flag === '-f' && info.isFile()) ||
      (flag === '-d' && info.isDirectory()) ||
      (flag === '-s' && info.size > 0);
    return { ...success(), exitCode: holds ? 0 : 1 };
  } catch {
    return { ...success(), exitCode: 1 };
  }
}

/** `mkdir [-p] [--] PATH...`. */
export async function mkdirCommand(
  args: string[],
  context: CommandContext,
): Promise<CommandResult> {
  const { options, rest } = splitOptions(args);
  const parents = options.some((o) => o.includes('p'));
  for (const path of rest) {
    const guest = context.files.normalize(path);
    if (context.files.isAboveMount(guest) || guest === context.files.mountPath) {
      if (parents) continue;
      return failure(1, `mkdir: cannot create directory '${path}': File exists`);
    }
    try {
      await mkdir(context.files.writablePath(path, 'exec mkdir'), { recursive: parents });
    } catch (error) {
      return fileFailure('mkdir', path, error);
    }
  }
  return success();
}

/** `mv [-f] [--] FROM TO`: renames, replacing TO; into TO when it is a directory. */
export async function mvCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  const { rest } = splitOptions(args);
  if (rest.length !== 2) return failure(1, 'mv: the simulator supports mv [-f] -- FROM TO');
  const [from, to] = rest as [string, string];
  try {
    const source = context.files.writablePath(from, 'exec mv');
    await lstat(source);
    let targetPath = to;
    const targetHost = context.files.hostPath(to);
    const targetInfo = await stat(targetHost).catch(() => undefined);
    if (targetInfo?.isDirectory() === true) targetPath = posix.join(to, posix.basename(from));
    await rename(source, context.files.writablePath(targetPath, 'exec mv'));
    return success();
  } catch (error) {
    if (isMissing(error)) return failure(1, `mv: cannot stat '${from}': No such file or directory`);
    return fileFailure('mv', to, error);
  }
}

/** `rm [-f] [--] PATH...`: removes files; with -f a missing file is not an error. */
export async function rmCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  const { options, rest } = splitOptions(args);
  const force = options.some((o) => o.includes('f'));
  const recursive = options.some((o) => o.includes('r'));
  for (const path of rest) {
    try {
      const host = context.files.writablePath(path, 'exec rm');
      const info = await lstat(host);
      if (info.isDirectory() && !recursive) {
        return failure(1, `rm: cannot remove '${path}': Is a directory`);
      }
      await rm(host, { recursive, force: false });
    } catch (error) {
      if (isMissing(error) && force) continue;
      if (isMissing(error)) {
        return failure(1, `rm: cannot remove '${path}': No such file or directory`);
      }
      return fileFailure('rm', path, error);
    }
  }
  return success();
}

/** `head -c N [--] PATH`: the first N bytes. */
export async function headCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  if (args[0] !== '-c' || args[1] === undefined || !/^\d+$/.test(args[1])) {
    return failure(1, 'head: the simulator supports head -c N -- PATH');
  }
  const count = Number(args[1]);
  const [path] = operands(args.slice(2));
  if (path === undefined) return failure(1, 'head: missing file operand');
  try {
    const handle = await open(context.files.hostPath(path), 'r');
    try {
      const buffer = Buffer.alloc(count);
      const { bytesRead } = await handle.read(buffer, 0, count, 0);
      return success(buffer.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isMissing(error)) {
      return failure(1, `head: cannot open '${path}' for reading: No such file or directory`);
    }
    return fileFailure('head', path, error);
  }
}

/** `dd if=PATH bs=N skip=N count=N [status=none]`: reads blocks of a file to stdout. */
export async function ddCommand(args: string[], context: CommandContext): Promise<CommandResult> {
  const operandsByName = new Map<string, string>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) return failure(1, `dd: unrecognized operand '${arg}'`);
    operandsByName.set(arg.slice(0, eq), arg.slice(eq + 1));
  }
  const input = operandsByName.get('if');
  if (input === undefined) return failure(1, 'dd: the simulator needs if=PATH');
  const number = (name: string, fallback: number): number => {
    const raw = operandsByName.get(name);
    return raw === undefined ? fallback : Number(raw);
  };
  const blockSize = number('bs', 512);
  const skip = number('skip', 0);
  const count = number('count', Number.POSITIVE_INFINITY);
  if (![blockSize, skip].every((n) => Number.isInteger(n) && n >= 0) || blockSize === 0) {
    return failure(1, `dd: invalid number in '${args.join(' ')}'`);
  }

  try {
    const host = context.files.hostPath(input);
    const size = (await stat(host)).size;
    const start = Math.min(size, skip * blockSize);
    const length = Math.min(size - start, count * blockSize);
    const handle = await open(host, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      const stdout = buffer.subarray(0, bytesRead);
      if (operandsByName.get('status') === 'none') return success(stdout);
      const blocks = Math.ceil(bytesRead / blockSize);
      return {
        exitCode: 0,
        stdout,
        stderr: Buffer.from(
          `${blocks}+0 records in\n${blocks}+0 records out\n${bytesRead} bytes copied\n`,
        ),
      };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isMissing(error)) {
      return failure(1, `dd: failed to open '${input}': No such file or directory`);
    }
    return fileFailure('dd', input, error);
  }
}
