import { TransportError } from './errors.js';
import type { TransportLogger } from './machine-transport.js';
import { EXIT_COMMAND_NOT_FOUND, parseSha256Output, remoteCommands } from './remote-commands.js';
import type { RunningCommand, SshConnection } from './ssh-connection.js';

/** Time a hash on the machine may take once it started. */
const HASH_TIMEOUT_MS = 15 * 60_000;

/**
 * A hash of one file on the machine whose SSH session is already open, so that starting a
 * process on the machine (100 to 250 ms on OpenSSH sshd here) overlaps the transfer.
 */
export interface PreparedSha256 {
  /**
   * Lets the machine hash the file now and returns its sha256, or undefined when the machine
   * has no hashing tool. Call it only once every byte of the file is in place.
   * @throws TransportError TRANSPORT_COMMAND_FAILED, TRANSPORT_TIMEOUT, TRANSPORT_CONNECTION_LOST
   */
  run(): Promise<string | undefined>;
  /** Ends the waiting session without hashing; does nothing after {@link run}. */
  cancel(): void;
}

/**
 * Computes sha256 digests of files on one machine over SSH exec. It remembers which tools the
 * machine lacks and whether it runs the prepared form, so later transfers skip what failed.
 */
export class RemoteSha256 {
  /** Hashing tools the machine may have, in order of preference; missing ones are dropped. */
  readonly #tools = new Set<'openssl' | 'sha256sum'>(['openssl', 'sha256sum']);
  /** False once the prepared form failed, e.g. on a server whose shell cannot run it. */
  #prepareWorks = true;
  readonly #machineId: string;
  readonly #logger: TransportLogger | undefined;

  constructor(machineId: string, logger?: TransportLogger) {
    this.#machineId = machineId;
    this.#logger = logger;
  }

  /**
   * Returns the sha256 of a file as the machine computes it, or undefined when the machine
   * has no hashing tool. `openssl dgst` is tried first because it uses the CPU's SHA
   * instructions (about 4x faster than coreutils sha256sum here), then `sha256sum`.
   * @throws TransportError TRANSPORT_COMMAND_FAILED when the tool exists but cannot hash the file
   */
  async compute(connection: SshConnection, path: string): Promise<string | undefined> {
    for (const tool of [...this.#tools]) {
      const argv =
        tool === 'openssl' ? remoteCommands.sha256Openssl(path) : remoteCommands.sha256(path);
      const output = await connection.exec(argv, {
        allowFailure: true,
        timeoutMs: HASH_TIMEOUT_MS,
      });
      if (output.exitCode === EXIT_COMMAND_NOT_FOUND) {
        this.#tools.delete(tool);
        this.#logger?.debug('ssh hash tool missing', { machine_id: this.#machineId, tool });
        continue;
      }

      const digest = parseSha256Output(output.stdout.toString('utf8'));
      if (output.exitCode === 0 && digest) return digest;
      throw new TransportError(
        'TRANSPORT_COMMAND_FAILED',
        `${tool} could not hash ${path} on machine ${this.#machineId}: ${output.stderr.toString('utf8').trim()}`,
        { machineId: this.#machineId, path, hint: 'check the file still exists and is readable' },
      );
    }
    return undefined;
  }

  /**
   * Opens the session that will hash `path` and leaves it waiting, so the hash can start the
   * moment the file is complete. When the machine cannot run the waiting form, {@link
   * PreparedSha256.run} falls back to {@link compute}, which gives the same result.
   */
  prepare(connection: SshConnection, path: string): PreparedSha256 {
    if (!this.#prepareWorks || this.#tools.size === 0) {
      return { run: () => this.compute(connection, path), cancel: () => undefined };
    }

    const waiting = connection.startExec(remoteCommands.sha256OnSignal(path));
    waiting.output.catch(() => undefined);
    let started = false;
    return {
      run: () => {
        started = true;
        return this.#runPrepared(connection, path, waiting);
      },
      cancel: () => {
        if (!started) waiting.cancel(new Error(`hash of ${path} no longer needed`));
      },
    };
  }

  async #runPrepared(
    connection: SshConnection,
    path: string,
    waiting: RunningCommand,
  ): Promise<string | undefined> {
    const timer = setTimeout(
      () =>
        waiting.cancel(
          new TransportError(
            'TRANSPORT_TIMEOUT',
            `hash of ${path} on machine ${this.#machineId} timed out after ${HASH_TIMEOUT_MS} ms`,
            {
              machineId: this.#machineId,
              path,
              hint: 'check the machine is not overloaded, then run the transfer again',
            },
          ),
        ),
      HASH_TIMEOUT_MS,
    );
    try {
      waiting.end('go\n');
      const output = await waiting.output;
      const digest = parseSha256Output(output.stdout.toString('utf8'));
      if (output.exitCode === 0 && digest) return digest;

      // Any other outcome (a shell that cannot run the form, no hashing tool, an unreadable
      // file) is decided by the plain commands, which report each case precisely.
      this.#prepareWorks = false;
      this.#logger?.debug('ssh prepared hash failed, hashing with a new session', {
        machine_id: this.#machineId,
        exit_code: output.exitCode,
      });
      return await this.compute(connection, path);
    } finally {
      clearTimeout(timer);
    }
  }
}
