import type { CommandContext } from './command-context.js';
import { type CommandResult, failure, success } from './command-result.js';

/** `printenv [NAME...]`: values of the named variables, or every variable. */
export async function printenv(args: string[], context: CommandContext): Promise<CommandResult> {
  if (args.length === 0) {
    return success(
      Object.entries(context.env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
  }
  const values = args.map((name) => context.env[name]);
  const found = values.filter((v): v is string => v !== undefined);
  return {
    ...success(found.map((v) => `${v}\n`).join('')),
    exitCode: found.length === values.length ? 0 : 1,
  };
}

/** `sync`: every write is already on the local disk, so nothing to do. */
export async function sync(): Promise<CommandResult> {
  return success();
}

/** `:`: the shell's no-op. */
export async function colon(): Promise<CommandResult> {
  return success();
}

/** `df -Pk [--] PATH`: POSIX output in 1024-byte blocks for the volume that contains PATH. */
export async function df(args: string[], context: CommandContext): Promise<CommandResult> {
  const paths = args.filter((a) => a !== '--' && !a.startsWith('-'));
  const [path] = paths;
  if (path === undefined || paths.length !== 1)
    return failure(1, 'df: the simulator supports df -Pk -- PATH');

  const guest = context.files.normalize(path);
  const header = 'Filesystem     1024-blocks      Used Available Capacity Mounted on\n';
  if (context.files.isAboveMount(guest)) {
    // The root filesystem of a Fly machine is an 8 GB overlay; the sim reports it as half full.
    return success(`${header}overlay            8191416   4095708   4095708      50% /\n`);
  }
  if (!context.files.isInVolume(guest) || context.files.volumeDir === undefined) {
    return failure(1, `df: ${path}: No such file or directory`);
  }

  const usage = context.files.usage();
  const total = Math.floor(usage.capacityBytes / 1024);
  const used = Math.ceil(usage.usedBytes / 1024);
  const available = Math.max(0, total - used);
  const percent = total === 0 ? 100 : Math.ceil((used / total) * 100);
  const line = `/dev/vdc ${String(total).padStart(18)} ${String(used).padStart(9)} ${String(available).padStart(9)} ${String(percent).padStart(7)}% ${context.files.mountPath}\n`;
  return success(header + line);
}

/**
 * `base64 [-w COLS] [-d]`: encodes or decodes standard input. `-w 0` writes one line
 * without a trailing newline, as GNU coreutils does.
 */
export async function base64(args: string[], context: CommandContext): Promise<CommandResult> {
  let decode = false;
  let wrap = 76;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-d' || arg === '--decode') decode = true;
    else if (arg === '-w') {
      wrap = Number(args[i + 1]);
      i += 1;
    } else if (arg?.startsWith('-w') === true) wrap = Number(arg.slice(2));
    else return failure(1, `base64: the simulator reads only standard input, got '${arg}'`);
  }
  if (!Number.isInteger(wrap) || wrap < 0) return failure(1, 'base64: invalid wrap size');

  const input = await context.stdin();
  if (decode) {
    const text = input.toString('latin1').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
      return failure(1, 'base64: invalid input');
    }
    return success(Buffer.from(text, 'base64'));
  }
  const encoded = input.toString('base64');
  if (wrap === 0) return success(encoded);
  const lines = encoded.match(new RegExp(`.{1,${wrap}}`, 'g')) ?? [];
  return success(lines.map((l) => `${l}\n`).join(''));
}
