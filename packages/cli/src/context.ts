import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, posix, resolve } from 'node:path';
import {
  createDisasterRecovery,
  type DisasterRecovery,
  type DrLogger,
  type FlyTomlSummary,
  mountHolding,
  readFlyToml,
} from '@flydr/dr-core';
import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import type { MachineTransportFactory } from '@flydr/fly-client/transport';
import { UsageError } from './exit-codes.js';
import type { GlobalArgs } from './global-options.js';
import type { CliIo } from './io.js';
import { createMachineAccess } from './machine-access.js';
import { parseWholeNumber } from './number-option.js';
import { Output } from './output.js';
import { confirm } from './prompt.js';
import { requireKnownRegions } from './region-code.js';
import { StepPrinter } from './step-printer.js';
import { resolveToken } from './token.js';

// Fly app names: lowercase letters, digits and dashes, as `fly apps create` accepts.
const appNamePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * What a command needs from its arguments and environment, resolved lazily: a command that
 * only reads fly.toml never asks for a token.
 */
export class CommandContext {
  readonly out: Output;
  /** Step list of the running operation, printed on stderr. */
  readonly steps: StepPrinter;
  private flyTomlPromise: Promise<(FlyTomlSummary & { path: string }) | undefined> | undefined;
  private clientPromise: Promise<FlyClient> | undefined;
  private readonly drPromises = new Map<'local' | 'remote', Promise<DisasterRecovery>>();
  private readonly cleanups: Array<() => Promise<void>> = [];

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
    this.steps = new StepPrinter(this.out);
  }

  /**
   * Returns the logger for dr-core and the Fly client: debug and info lines with `--verbose`,
   * warnings and errors always, all on stderr.
   */
  get logger(): DrLogger {
    const format = (level: string, message: string, fields?: Record<string, unknown>) => {
      const suffix = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      return `${level} ${message}${suffix}`;
    };
    return {
      debug: (message, fields) => this.out.debug(format('debug', message, fields)),
      info: (message, fields) => this.out.debug(format('info', message, fields)),
      warn: (message, fields) => this.out.warn(format('', message, fields).trimStart()),
      error: (message, fields) => this.out.warn(format('error:', message, fields)),
    };
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
        ...(this.args.verbose ? { logger: this.logger } : {}),
      });
    })();
    return this.clientPromise;
  }

  /**
   * Checks region codes against the platform's region list before a command journals an
   * operation, so a typo ends with exit 2 and leaves no failed operation behind.
   *
   * @throws DrError `DR_UNKNOWN_REGION` naming the unknown codes; the client's errors when
   *   the token is rejected.
   */
  async requireKnownRegions(codes: readonly string[]): Promise<void> {
    await requireKnownRegions(await this.client(), codes);
  }

  /** Builds the transport factory that reaches machine files (`--transport`, `--ssh-*`). */
  async transportFactory(): Promise<MachineTransportFactory> {
    return createMachineAccess(await this.client(), {
      app: await this.appName(),
      transport: this.args.transport,
      sshAddress: this.args.sshAddress,
      sshPort: parseWholeNumber(this.args.sshPort, '--ssh-port', {
        min: 1,
        max: 65_535,
        example: 22,
      }),
      stateDir: await this.stateDir(),
    });
  }

  /**
   * Creates dr-core's entry point for the app once. With `remote: false` it needs no token,
   * for commands that only read the local catalog.
   */
  dr(options: { remote?: boolean } = {}): Promise<DisasterRecovery> {
    const kind = options.remote === false ? 'local' : 'remote';
    const existing = this.drPromises.get(kind) ?? this.drPromises.get('remote');
    if (existing !== undefined) return existing;

    const created = (async () => {
      const remote = kind === 'remote';
      if (remote && this.args.databasePath !== undefined) await this.requireMountedPath();
      const dr = createDisasterRecovery({
        app: await this.appName(),
        databasePath: remote ? await this.databasePath() : await this.databasePathOr('/app.db'),
        stateDir: await this.stateDir(),
        logger: this.logger,
        onEvent: this.steps.listener,
        ...(remote
          ? { client: await this.client(), transportFactory: await this.transportFactory() }
          : {}),
      });
      this.cleanups.push(() => dr.close());
      return dr;
    })();
    this.drPromises.set(kind, created);
    return created;
  }

  /**
   * Checks that `--database-path` lies under a mount of one of the app's machines, with one
   * API read and before any SSH login. An app without machines is left to the command,
   * whose error names that.
   *
   * @throws UsageError naming the path and every mount path.
   */
  private async requireMountedPath(): Promise<void> {
    const path = await this.databasePath();
    const machines = await (await this.client()).machines.list(await this.appName());
    if (machines.length === 0 || machines.some((machine) => mountHolding(machine, path))) return;

    const mounts = [
      ...new Set(machines.flatMap((machine) => machine.config?.mounts ?? []).map((m) => m.path)),
    ];
    throw new UsageError(
      `invalid --database-path ${JSON.stringify(path)}: it is outside every mount of the app's machines (${mounts.join(', ') || 'no mounts'})`,
      mounts.length === 0
        ? 'attach a volume to the machine first; flydr reads the database from a volume'
        : `pass a path under a mount, such as --database-path ${posix.join(mounts[0] as string, 'app.db')}`,
    );
  }

  /** Returns the database path when one is known, else `fallback` (for catalog-only commands). */
  private async databasePathOr(fallback: string): Promise<string> {
    try {
      return await this.databasePath();
    } catch (error) {
      if (error instanceof UsageError) return fallback;
      throw error;
    }
  }

  /** Registers work to run when the command ends, such as closing a catalog. */
  onClose(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Closes what the command opened (catalog, progress bar), newest first. */
  async close(): Promise<void> {
    this.steps.close();
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => {});
    this.cleanups.length = 0;
  }

  /** Asks before a destructive step; see {@link confirm}. */
  confirm(question: string): Promise<void> {
    return confirm(question, { yes: this.args.yes, streams: this.io });
  }
}
