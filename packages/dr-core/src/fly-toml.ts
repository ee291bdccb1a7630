import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { parse, TomlError } from 'smol-toml';

/** The parts of an app's fly.toml that flydr reads. */
export interface FlyTomlSummary {
  /** The `app` key. */
  app: string;
  /** The `primary_region` key, when present. */
  primaryRegion: string | undefined;
  /** Every `[mounts]` or `[[mounts]]` entry, in file order. */
  mounts: FlyTomlMount[];
}

/** One `[mounts]` entry of fly.toml. */
export interface FlyTomlMount {
  /** The volume name (`source`). */
  source: string;
  /** Mount path of the volume in the machine (`destination`). */
  destination: string;
}

/** Raised when a fly.toml cannot be read or lacks a key flydr needs. */
export class FlyTomlError extends Error {
  override readonly name = 'FlyTomlError';
  readonly code = 'DR_FLY_TOML_INVALID';

  constructor(
    message: string,
    /** The fly.toml path, or `<text>` when parsed from a string. */
    readonly path: string,
    /** The next step for the user. */
    readonly hint: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Parses fly.toml text into the keys flydr needs.
 *
 * @throws FlyTomlError when the text is not TOML, when `app` is missing, empty or not a
 *   string, or when a mount is not a table or lacks a string `source` or `destination`.
 */
export function parseFlyToml(text: string, path = '<text>'): FlyTomlSummary {
  let document: Record<string, unknown>;
  try {
    document = parse(text);
  } catch (error) {
    const where =
      error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    throw new FlyTomlError(
      `${path} is not valid TOML${where}`,
      path,
      'fix the syntax (for example with `fly config validate`) or pass another file with -c',
      { cause: error },
    );
  }

  const app = document.app;
  if (app === undefined || app === '') {
    throw new FlyTomlError(
      `${path} has no \`app\` name`,
      path,
      'add `app = "<name>"` to fly.toml, or pass the app with -a',
    );
  }
  if (typeof app !== 'string') {
    throw new FlyTomlError(
      `${path}: \`app\` must be a string, got ${tomlTypeOf(app)}`,
      path,
      'write the app name in quotes, such as `app = "my-app"`, or pass the app with -a',
    );
  }

  const primaryRegion = document.primary_region;
  if (primaryRegion !== undefined && typeof primaryRegion !== 'string') {
    throw new FlyTomlError(
      `${path}: \`primary_region\` must be a string, got ${tomlTypeOf(primaryRegion)}`,
      path,
      'write it as `primary_region = "nrt"`',
    );
  }

  return { app, primaryRegion, mounts: readMounts(document.mounts, path) };
}

function readMounts(value: unknown, path: string): FlyTomlMount[] {
  if (value === undefined) return [];

  // fly.toml accepts a single [mounts] table or an array of [[mounts]] tables.
  const entries = Array.isArray(value) ? value : [value];
  return entries.map((entry, index) => {
    const hint = 'write it as `[mounts]` with `source = "data"` and `destination = "/app/data"`';
    if (tomlTypeOf(entry) !== 'table') {
      throw new FlyTomlError(
        `${path}: \`mounts\` entry ${index + 1} must be a table, got ${tomlTypeOf(entry)}`,
        path,
        hint,
      );
    }
    const { source, destination } = entry as Record<string, unknown>;
    if (typeof source !== 'string' || typeof destination !== 'string') {
      throw new FlyTomlError(
        `${path}: \`mounts\` entry ${index + 1} needs string \`source\` and \`destination\``,
        path,
        hint,
      );
    }
    return { source, destination };
  });
}

/** Names the TOML type of a parsed value, for messages such as "got integer". */
function tomlTypeOf(value: unknown): string {
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  if (typeof value === 'string' || typeof value === 'boolean') return typeof value;
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date-time';
  return 'table';
}

/**
 * Reads and parses a fly.toml file.
 *
 * @throws FlyTomlError when the file is missing or invalid.
 */
export async function readFlyToml(path: string): Promise<FlyTomlSummary & { text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FlyTomlError(
      `cannot read fly.toml at ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      path,
      'run flydr in the app folder, or pass the file with -c PATH',
      { cause: error },
    );
  }
  return { ...parseFlyToml(text, path), text };
}

/** The changes made when fly.toml is rewritten for a standby region. */
export interface StandbyTomlChange {
  /** The region the standby deployment runs in, e.g. `sin`. */
  primaryRegion: string;
  /** The standby volume's name, written as the mount's `source`; unchanged when omitted. */
  mountSource?: string;
}

/**
 * Rewrites fly.toml text for a standby region, as the runbook's `fly.toml.backup`:
 * `primary_region` and the single mount's `source` change, and every other line, comment
 * and blank line stays as it was.
 *
 * @throws FlyTomlError when the text is invalid, has several mounts, or the rewritten text
 *   would differ from the original in any other key.
 */
export function rewriteFlyTomlForStandby(text: string, change: StandbyTomlChange): string {
  const original = parseFlyToml(text);
  if (change.mountSource !== undefined && original.mounts.length !== 1) {
    throw new FlyTomlError(
      `fly.toml has ${original.mounts.length} mounts; the standby rewrite needs exactly one`,
      '<text>',
      'edit the mount source by hand, or give the standby volume the same name',
    );
  }

  const lines = text.split('\n');
  let table = '';
  let regionWritten = false;
  let sourceWritten = false;

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    const header = /^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?/.exec(line);
    if (header) {
      table = header[1] as string;
      continue;
    }

    if (table === '' && /^\s*primary_region\s*=/.test(line)) {
      lines[index] = replaceValue(line, change.primaryRegion);
      regionWritten = true;
    } else if (
      table === 'mounts' &&
      change.mountSource !== undefined &&
      /^\s*source\s*=/.test(line)
    ) {
      lines[index] = replaceValue(line, change.mountSource);
      sourceWritten = true;
    }
  }

  if (!regionWritten) {
    // The key goes right after `app`, where `fly launch` writes it.
    const appLine = lines.findIndex((line) => /^\s*app\s*=/.test(line));
    lines.splice(appLine + 1, 0, `primary_region = ${JSON.stringify(change.primaryRegion)}`);
  }
  if (change.mountSource !== undefined && !sourceWritten) {
    throw new FlyTomlError(
      'fly.toml mount `source` is not written as `source = "..."` on its own line',
      '<text>',
      'put the mount source on its own line inside [mounts], then run again',
    );
  }

  const rewritten = lines.join('\n');
  assertOnlyStandbyKeysChanged(text, rewritten, change);
  return rewritten;
}

// Replaces the value of a `key = value` line, keeping indentation and a trailing comment.
function replaceValue(line: string, value: string): string {
  const match = /^(\s*[A-Za-z_]+\s*=\s*)("[^"]*"|'[^']*'|[^#\s]+)(.*)$/.exec(line);
  if (!match) return line;
  return `${match[1]}${JSON.stringify(value)}${match[3]}`;
}

function assertOnlyStandbyKeysChanged(before: string, after: string, change: StandbyTomlChange) {
  const expected = parse(before) as Record<string, unknown>;
  expected.primary_region = change.primaryRegion;
  if (change.mountSource !== undefined) {
    const mounts = expected.mounts;
    const mount = (Array.isArray(mounts) ? mounts[0] : mounts) as Record<string, unknown>;
    mount.source = change.mountSource;
  }

  const actual = parse(after);
  if (!isDeepStrictEqual(actual, expected)) {
    throw new FlyTomlError(
      'rewriting fly.toml for the standby region would change other keys',
      '<text>',
      'write fly.toml.backup by hand: copy fly.toml and change primary_region and the mount source',
    );
  }
}
