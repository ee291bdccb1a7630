import { chmod, mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DrError, fileSystemError } from './errors.js';

/** Fly app names: lowercase letters, digits and dashes, starting with a letter or digit. */
const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Checks an app name before it becomes part of a path.
 *
 * @throws DrError `DR_INVALID_INPUT` naming the value.
 */
export function validateAppName(app: unknown): string {
  if (typeof app !== 'string' || !APP_NAME_PATTERN.test(app)) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `invalid app name ${JSON.stringify(app)}: expected lowercase letters, digits and dashes`,
      'Pass the app name as shown by `fly apps list`, for example live-schedule-api.',
      { app },
    );
  }
  return app;
}

/**
 * Returns the default state directory of an app: `$XDG_STATE_HOME/flydr/<app>` when
 * XDG_STATE_HOME is an absolute path, else `~/.local/state/flydr/<app>`.
 */
export function defaultStateDir(app: string, env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state');
  return join(base, 'flydr', validateAppName(app));
}

/**
 * Creates the state directory with mode 0700, or tightens an existing one to 0700,
 * because it contains database copies.
 *
 * @throws DrError `DR_INVALID_INPUT` when the path exists and is not a directory.
 */
export async function ensureStateDir(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    await mkdir(absolute, { recursive: true, mode: 0o700 });
    const info = await stat(absolute);
    if (!info.isDirectory()) {
      throw new DrError(
        'DR_INVALID_INPUT',
        `state directory ${absolute} is not a directory`,
        'Pass another --state-dir or move that file away.',
        { path: absolute },
      );
    }
    if ((info.mode & 0o777) !== 0o700) {
      await chmod(absolute, 0o700);
    }
    return absolute;
  } catch (error) {
    throw fileSystemError(error, 'create state directory', absolute);
  }
}
