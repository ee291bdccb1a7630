import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { type FlyTomlSummary, readFlyToml } from '@flydr/dr-core';
import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import { UsageError } from './exit-codes.js';
import type { GlobalArgs } from './global-options.js';
import type { CliIo } from './io.js';
import { Output } from './output.js';
import { confirm } from './prompt.js';
import { resolveToken } from './token.js';

// Fly app names: lowercase letters, digits and dashes, as `fly apps create` accepts.
const appNamePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * What a command needs from its arguments and environment, resolved lazily: a command that
 * only reads fly.toml never asks for a token.
 */
export class CommandContext {
  readonly out: Output;
  private flyTomlPromise: Promise<(FlyTomlSummary & { path: string }) | undefined> | undefined;
  private clientPromise: Promise<FlyClient> | undefined;

  constructor(
    readonly args: GlobalArgs,
    readonly io: CliIo,
  ) {
    this.out = new Output({
      stdout: io.stdout,
      stderr: io.stderr,
      json: args.json,
      verbose: args.verbose,
      env: io.env,
    });
  }

  /** Resolves a path given on the command line against the working directory. */
  path(value: string): string {
    return isAbsolute(value) ? value : resolve(this.io.cwd, value);
  }

  /**
   * Reads fly.toml from `-c`, else from `./fly.toml` when it exists.
   *
   * @throws FlyTomlError when the file named by `-c` is missing or either file is invalid.
   */
  flyToml(): Promise<(FlyTomlSummary & { path: string }) | undefined> {
    this.flyTomlPromise ??= (async () => {
      const explicit = this.args.config;
      const path = this.path(explicit ?? 'fly.toml');
      if (explicit === undefined && !existsSync(path)) return undefined;
      const summary = await readFlyToml(path);
      return { ...summary, path };
    })();
    return this.flyTomlPromise;
  }

  /**
   * Returns the app name from `-a`, else from fly.toml.
   *
   * @throws UsageError when neither gives a valid app name.
   */
  async appName(): Promise<string> {
    const app = this.args.app ?? (await this.flyToml())?.app;
    if (app === undefined) {
      throw new UsageError(
        'missing app name: no -a/--app option and no fly.toml in this folder',
        'pass -a <app>, or run in the folder that has fly.toml, or pass -c path/to/fly.toml',
      );
    }
    if (!appNamePattern.test(app)) {
      throw new UsageError(
        `invalid app name ${JSON.stringify(app)}: use lowercase letters, digits and dashes`,
        'check the -a option or the `app` key in fly.toml',
      );
    }
    return app;
  }

  /**
   * Returns the database path on the machine: `--database-path`, else `app.db` under the
   * single mount destination in fly.toml.
   *
   * @throws UsageError when neither is given, or the path is not absolute.
   */
  async databasePath(): Promise<string> {
    const explicit = this.args.databasePath;
    if (explicit !== undefined) {
      if (
        !posix.isAbsolute(explicit) ||
        explicit.includes('\n') ||
        explicit.split('/').includes('..')
      ) {
        throw new UsageError(
          `invalid --database-path ${JSON.stringify(explicit)}: it must be an absolute path on the machine without ".."`,
          'for example --database-path /app/data/app.db',
        );
      }
      return explicit;
    }

    const mounts = (await this.flyToml())?.mounts ?? [];
    if (mounts.length !== 1) {
      throw new UsageError(
        mounts.length === 0
          ? 'missing database path: no --database-path and no [mounts] in fly.toml'
          : `fly.toml has ${mounts.length} mounts, so the database path is ambiguous`,
        'pass --database-path /app/data/app.db',
      );
    }
    return posix.join((mounts[0] as { destination: string }).destination, 'app.db');
  }

  /** Returns the state directory: `--state-dir`, else `~/.local/state/flydr/<app>`. */
  async stateDir(): Promise<string> {
    if (this.args.stateDir !== undefined) return this.path(this.args.stateDir);
    const home = this.io.env.HOME ?? homedir();
    return join(home, '.local', 'state', 'flydr', await this.appName());
  }

  /** Creates the Fly API client once, with the token from the environment or flyctl's config. */
  client(): Promise<FlyClient> {
    this.clientPromise ??= (async () => {
      const { token } = await resolveToken(this.io.env);
      return createFlyClient({
        token,
        ...(this.args.apiUrl !== undefined ? { baseUrl: this.args.apiUrl } : {}),
        ...(this.args.graphqlUrl !== undefined ? { graphqlUrl: this.args.graphqlUrl } : {}),
        userAgent: 'flydr-cli',
      });
    })();
    return this.clientPromise;
  }

  /** Asks before a destructive step; see {@link confirm}. */
  confirm(question: string): Promise<void> {
    return confirm(question, { yes: this.args.yes, streams: this.io });
  }
}
