import { TransportError } from './errors.js';
import type { RemoteFileStat } from './machine-transport.js';

/**
 * Commands the transports run on a machine, as argv arrays. Both transports and the
 * simulator use exactly these forms, so nothing else has to be understood on the machine.
 */
export const remoteCommands = {
  machineId: (): string[] => ['printenv', 'FLY_MACHINE_ID'],
  sha256: (path: string): string[] => ['sha256sum', '--', path],
  /** `openssl dgst` has no `--`, so `path` must be absolute; prints `<hex> *PATH`. */
  sha256Openssl: (path: string): string[] => ['openssl', 'dgst', '-sha256', '-r', path],
  /**
   * Waits for the line `go` on stdin (exit 3 without it), then hashes like `sha256Openssl`,
   * or like `sha256` when the machine has no openssl. `path` must be absolute.
   */
  sha256OnSignal: (path: string): string[] => [
    'sh',
    '-c',
    'read -r go && [ "$go" = go ] || exit 3; ' +
      'if command -v openssl >/dev/null 2>&1; then exec openssl dgst -sha256 -r "$1"; fi; ' +
      'exec sha256sum -- "$1"',
    'flydr',
    path,
  ],
  stat: (path: string): string[] => ['stat', '-c', '%s %Y %a', '--', path],
  testDirectory: (path: string): string[] => ['test', '-d', path],
  move: (from: string, to: string): string[] => ['mv', '-f', '--', from, to],
  remove: (...paths: string[]): string[] => ['rm', '-f', '--', ...paths],
  sync: (): string[] => ['sync'],
  diskFree: (path: string): string[] => ['df', '-Pk', '--', path],
  /** Writes `count=1` block of `blockSize` bytes at block `skip` to stdout as base64. */
  readBlockBase64: (path: string, blockSize: number, skip: number): string[] => [
    'sh',
    '-c',
    'dd if="$1" bs=$2 skip=$3 count=1 status=none | base64 -w 0',
    'flydr',
    path,
    String(blockSize),
    String(skip),
  ],
  /** Decodes base64 from stdin and appends it to the file. */
  appendBase64: (path: string): string[] => ['sh', '-c', 'base64 -d >> "$1"', 'flydr', path],
  /** Creates the file or truncates it to zero bytes. */
  truncate: (path: string): string[] => ['sh', '-c', ': > "$1"', 'flydr', path],
} as const;

/** Exit code of a POSIX shell when the program does not exist. */
export const EXIT_COMMAND_NOT_FOUND = 127;

/**
 * Parses the output of `stat -c '%s %Y %a'`.
 * Returns undefined when the output does not have that form.
 */
export function parseStatOutput(output: string): RemoteFileStat | undefined {
  const match = /^(\d+) (\d+) ([0-7]+)\s*$/.exec(output.trim());
  if (!match) return undefined;

  return {
    size: Number(match[1]),
    mtimeMs: Number(match[2]) * 1000,
    mode: Number.parseInt(match[3] ?? '0', 8),
  };
}

/** Returns the hex digest at the start of `sha256sum` output, or undefined. */
export function parseSha256Output(output: string): string | undefined {
  const match = /^([0-9a-f]{64})\s/.exec(output);
  return match?.[1];
}

/** Returns the available bytes from `df -Pk` output (second line, fourth column), or undefined. */
export function parseDiskFreeOutput(output: string): number | undefined {
  const line = output.trim().split('\n')[1];
  const available = line?.trim().split(/\s+/)[3];
  if (available === undefined || !/^\d+$/.test(available)) return undefined;
  return Number(available) * 1024;
}

/**
 * Checks that a remote path is absolute and free of NUL and newline characters, since the
 * commands above take it as an argument.
 * @throws TransportError TRANSPORT_INVALID_INPUT
 */
export function assertRemotePath(path: unknown, machineId: string): asserts path is string {
  if (typeof path === 'string' && path.startsWith('/') && !/[\0\n]/.test(path)) return;
  throw new TransportError(
    'TRANSPORT_INVALID_INPUT',
    `invalid remote path ${JSON.stringify(path)}: expected an absolute path`,
    {
      machineId,
      hint: 'pass the absolute path on the machine, e.g. /app/data/app.db',
    },
  );
}
