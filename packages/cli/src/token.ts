import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './exit-codes.js';

/** Source of the API token, printed by `flydr doctor` in place of the token. */
export type TokenSource = 'FLY_API_TOKEN' | 'FLY_ACCESS_TOKEN' | '~/.fly/config.yml';

/** A Fly API token and where it came from. */
export interface ResolvedToken {
  token: string;
  source: TokenSource;
}

/**
 * Finds the Fly API token the way flyctl does: `FLY_API_TOKEN`, then `FLY_ACCESS_TOKEN`,
 * then `access_token` in `~/.fly/config.yml`.
 *
 * @throws UsageError when no token is found, or config.yml has an unreadable value.
 */
export async function resolveToken(
  env: NodeJS.ProcessEnv = process.env,
  home: string = env.HOME ?? homedir(),
): Promise<ResolvedToken> {
  for (const name of ['FLY_API_TOKEN', 'FLY_ACCESS_TOKEN'] as const) {
    const value = env[name]?.trim();
    if (value) return { token: value, source: name };
  }

  const configPath = join(home, '.fly', 'config.yml');
  const fromConfig = await readConfigToken(configPath);
  if (fromConfig) return { token: fromConfig, source: '~/.fly/config.yml' };

  throw new UsageError(
    'missing Fly API token: FLY_API_TOKEN and FLY_ACCESS_TOKEN are unset and ~/.fly/config.yml has no access_token',
    'run `fly auth login`, or export FLY_API_TOKEN="$(fly tokens create deploy)"',
  );
}

// config.yml is flat YAML written by flyctl; only the top-level `access_token` key is read.
async function readConfigToken(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }

  for (const line of text.split(/\r?\n/)) {
    const match = /^access_token:\s*(.*?)\s*$/.exec(line);
    if (!match) continue;

    const value = unquote(match[1] as string);
    if (value === undefined) {
      throw new UsageError(
        `${path}: access_token is not a plain or quoted string`,
        'run `fly auth login` to rewrite the file, or set FLY_API_TOKEN',
      );
    }
    return value === '' ? undefined : value;
  }
  return undefined;
}

function unquote(raw: string): string | undefined {
  if (raw === '' || raw === '""' || raw === "''") return '';
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    if (raw.length < 2 || raw[raw.length - 1] !== quote) return undefined;
    return raw.slice(1, -1);
  }
  if (/[\s#]/.test(raw) || /^[[{&*!|>%@`]/.test(raw)) return undefined;
  return raw;
}
