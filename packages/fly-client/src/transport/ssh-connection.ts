import { connect as connectTcp, type Socket } from 'node:net';
import type { ClientChannel, ParsedKey, PublicKeyAuthMethod, SFTPWrapper } from 'ssh2';
import ssh2 from 'ssh2';

import { TransportError } from './errors.js';
import {
  type HostKeyStore,
  hostKeyFingerprint,
  hostKeyType,
  type PinnedHostKey,
} from './known-hosts.js';
import type { ExecOptions, ExecOutput } from './machine-transport.js';
import { EXIT_COMMAND_NOT_FOUND } from './remote-commands.js';
import { isSftpOpen } from './sftp-calls.js';
import { joinShellCommand } from './shell-quote.js';

const { Client } = ssh2;

/** Everything needed to open one SSH connection to a machine. */
export interface SshConnectionOptions {
  app: string;
  machineId: string;
  host: string;
  port: number;
  username: string;
  key: ParsedKey;
  /** Kind of credential (certificate or plain key), named in the hint of an authentication failure. */
  authKind: 'certificate' | 'key';
  hostKeys: HostKeyStore;
  acceptNewHostKey: boolean;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

/** A command started by {@link SshConnection.startExec}. */
export interface RunningCommand {
  /** Exit code and output once the command ended; rejects when it could not run to the end. */
  output: Promise<ExecOutput>;
  /** Sends `data` (if any) to the command's stdin, then closes it. Later calls do nothing. */
  end(data?: Buffer | string): void;
  /** Closes the channel and rejects `output` with `reason`, unless it already settled. */
  cancel(reason: Error): void;
}

/** Exec timeout when the caller sets none. */
const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

/** Hint for a connection that could not be opened to a 6PN address. */
export function privateNetworkHint(app: string, machineId: string): string {
  return (
    `machines are reached on Fly's private network (6PN): bring up a WireGuard peer ` +
    `(\`fly wireguard create\`, then start the tunnel), run flydr inside a Fly machine, or open ` +
    `a tunnel (\`fly proxy 10022:22 -a ${app} --select\`, machine ${machineId}) and pass ` +
    `--ssh-address 127.0.0.1:10022; or use the exec transport, which needs only an API token`
  );
}

/**
 * One authenticated SSH connection to a machine, with host key checking and TCP_NODELAY.
 * The connection does not reconnect; {@link SshTransport} opens a new one when it dropped.
 */
export class SshConnection {
  readonly client: InstanceType<typeof Client>;
  readonly options: SshConnectionOptions;
  /** The host key seen, to pin once the machine id is confirmed. */
  readonly hostKey: PinnedHostKey;
  #sftp: Promise<SFTPWrapper> | undefined;
  #closed = false;
  #sftpProtocolError: Error | undefined;

  private constructor(
    client: InstanceType<typeof Client>,
    options: SshConnectionOptions,
    hostKey: PinnedHostKey,
  ) {
    this.client = client;
    this.options = options;
    this.hostKey = hostKey;
    client.on('close', () => {
      this.#closed = true;
    });
    // A late socket error must not become an uncaught exception; `closed` reports the drop.
    client.on('error', () => undefined);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Fatal SFTP protocol error (e.g. a malformed packet) seen on this connection, if any. */
  get sftpProtocolError(): Error | undefined {
    return this.#sftpProtocolError;
  }

  /**
   * Opens a TCP connection with TCP_NODELAY, checks the host key against the pin and
   * authenticates.
   * @throws TransportError TRANSPORT_CONNECT_FAILED, TRANSPORT_HOST_KEY_CHANGED, TRANSPORT_AUTH_FAILED
   */
  static async open(options: SshConnectionOptions): Promise<SshConnection> {
    const pinned = await options.hostKeys.get(options.machineId);
    const socket = await openSocket(options);

    let seenKey: PinnedHostKey | undefined;
    let hostKeyError: TransportError | undefined;
    const client = new Client();
    const method: PublicKeyAuthMethod = {
      type: 'publickey',
      username: options.username,
      key: options.key,
    };

    return new Promise((resolve, reject) => {
      let settled = false;
      const onError = (error: Error & { level?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // ssh2 can emit a second error, such as "Connection lost before handshake" after
        // a handshake timeout, once the socket closes; it must not go uncaught.
        client.on('error', () => undefined);
        socket.destroy();
        client.destroy();
        reject(hostKeyError ?? connectionError(error, options));
      };
      // ssh2 emits only 'close', no 'error', when the socket closes after the server's
      // version line and before 'ready' (during key exchange or login), and it clears its
      // own handshake timer then; without these two guards the open would never settle.
      const onClose = () =>
        onError(new Error('connection closed by the peer during the SSH handshake'));
      const timer = setTimeout(() => {
        const error: Error & { level?: string } = new Error('handshake timed out');
        error.level = 'client-timeout';
        onError(error);
      }, options.connectTimeoutMs);
      client.once('error', onError);
      client.once('close', onClose);
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.off('error', onError);
        client.off('close', onClose);
        // Keep an error listener so a late socket error never becomes an uncaught exception.
        client.on('error', () => undefined);
        resolve(new SshConnection(client, options, seenKey!));
      });

      client.connect({
        sock: socket,
        username: options.username,
        authHandler: [method],
        readyTimeout: options.connectTimeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        hostVerifier: (key: Buffer) => {
          seenKey = { keyType: hostKeyType(key), key: Buffer.from(key) };
          if (!pinned || pinned.key.equals(key) || options.acceptNewHostKey) return true;
          hostKeyError = hostKeyChanged(options, pinned, seenKey);
          return false;
        },
      });
    });
  }

  /** Returns the SFTP session of this connection, opening it on first use. */
  async sftp(): Promise<SFTPWrapper> {
    const current = await this.#sftp?.catch(() => undefined);
    if (current && !isSftpOpen(current)) this.#sftp = undefined;
    this.#sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) => {
        if (error) {
          this.#sftp = undefined;
          reject(
            new TransportError(
              'TRANSPORT_TOOL_MISSING',
              'the SFTP subsystem is not available on the machine',
              {
                machineId: this.options.machineId,
                hint: 'the image must run an SSH server with an sftp subsystem; use the exec transport otherwise',
                cause: error,
              },
            ),
          );
          return;
        }
        sftp.on('close', () => {
          this.#sftp = undefined;
        });
        // ssh2 reports a malformed SFTP packet here, then fails every pending request.
        sftp.on('error', (sftpError: Error & { level?: string }) => {
          if (sftpError.level === 'sftp-protocol') this.#sftpProtocolError = sftpError;
          this.#sftp = undefined;
        });
        resolve(sftp);
      });
    });
    return this.#sftp;
  }

  /**
   * Runs `argv` (quoted for a POSIX shell) and collects its output.
   * @throws TransportError TRANSPORT_TIMEOUT, TRANSPORT_ABORTED, TRANSPORT_CONNECTION_LOST
   */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecOutput> {
    const running = this.startExec(argv, {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
    });
    running.end(options.stdin);
    return running.output.then((output) =>
      checkExit(argv, output, options, this.options.machineId),
    );
  }

  /**
   * Starts `argv` (quoted for a POSIX shell) and keeps its stdin open until
   * {@link RunningCommand.end}, so a command can start early and wait for its input.
   * The output is not checked for the exit code. Without `timeoutMs` only the signal, the
   * caller's {@link RunningCommand.cancel} or a dropped connection end it.
   */
  startExec(
    argv: readonly string[],
    options: Pick<ExecOptions, 'timeoutMs' | 'signal'> = {},
  ): RunningCommand {
    const command = joinShellCommand(argv);
    const { timeoutMs } = options;
    const machineId = this.options.machineId;
    let channel: ClientChannel | undefined;
    let pendingInput: { data: Buffer | string | undefined } | undefined;
    let finish: (error: unknown, output?: ExecOutput) => void = () => undefined;

    const output = new Promise<ExecOutput>((resolve, reject) => {
      let settled = false;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | undefined;

      finish = (error, result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          try {
            channel?.close();
          } catch {
            // Closing may throw once the connection is gone, and the channel went with it.
          }
          reject(error);
        } else {
          resolve(result!);
        }
      };
      const onAbort = () =>
        finish(
          new TransportError('TRANSPORT_ABORTED', `command ${argv[0]} aborted by the caller`, {
            machineId,
          }),
        );
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                finish(
                  new TransportError(
                    'TRANSPORT_TIMEOUT',
                    `command ${argv[0]} timed out after ${timeoutMs} ms`,
                    {
                      machineId,
                      hint: 'raise timeoutMs, or check the machine is not overloaded',
                    },
                  ),
                ),
              timeoutMs,
            );
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });

      this.client.exec(command, (error, opened) => {
        if (error) {
          finish(this.lostError(`run ${argv[0]}`, error));
          return;
        }
        channel = opened;
        if (settled) {
          opened.close();
          return;
        }
        opened.on('data', (data: Buffer) => stdout.push(data));
        opened.stderr.on('data', (data: Buffer) => stderr.push(data));
        opened.on('exit', (code: number | null) => {
          exitCode = code ?? -1;
        });
        opened.on('close', () => {
          if (exitCode === undefined) {
            finish(
              this.lostError(`run ${argv[0]}`, new Error('channel closed without an exit status')),
            );
            return;
          }
          finish(undefined, {
            exitCode,
            stdout: Buffer.concat(stdout),
            stderr: Buffer.concat(stderr),
          });
        });
        if (pendingInput) opened.end(pendingInput.data);
      });
    });

    return {
      output,
      end: (data) => {
        if (pendingInput) return;
        pendingInput = { data };
        channel?.end(data);
      },
      cancel: (reason) => finish(reason),
    };
  }

  /** Returns the error for a step that failed because the connection dropped. */
  lostError(step: string, cause: unknown): TransportError {
    return new TransportError(
      'TRANSPORT_CONNECTION_LOST',
      `SSH connection to machine ${this.options.machineId} lost during ${step}`,
      {
        machineId: this.options.machineId,
        hint: 'run the step again; transfers resume from the partial file',
        cause,
      },
    );
  }

  /** Closes the connection; waits at most one second for the peer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
    this.client.destroy();
  }
}

/** Throws for a non-zero exit, unless the caller allows it. */
export function checkExit(
  argv: readonly string[],
  output: ExecOutput,
  options: ExecOptions,
  machineId: string,
): ExecOutput {
  if (output.exitCode === 0 || options.allowFailure) return output;

  const program = argv[0] ?? '';
  const stderr = output.stderr.toString('utf8').trim().slice(0, 500);
  if (output.exitCode === EXIT_COMMAND_NOT_FOUND) {
    throw new TransportError(
      'TRANSPORT_TOOL_MISSING',
      `command ${program} not found on machine ${machineId}`,
      {
        machineId,
        hint: `install ${program} in the app's image, or use a strategy that does not need it`,
      },
    );
  }
  throw new TransportError(
    'TRANSPORT_COMMAND_FAILED',
    `command ${program} failed on machine ${machineId} with exit code ${output.exitCode}${stderr ? `: ${stderr}` : ''}`,
    {
      machineId,
      hint: 'read the command output above; run it by hand with `fly ssh console` to investigate',
    },
  );
}

function openSocket(options: SshConnectionOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: options.host, port: options.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(connectFailed(options, `timed out after ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);

    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, options.keepaliveIntervalMs);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectFailed(options, error.code ?? error.message, error));
    });
  });
}

function connectFailed(
  options: SshConnectionOptions,
  reason: string,
  cause?: unknown,
): TransportError {
  return new TransportError(
    'TRANSPORT_CONNECT_FAILED',
    `SSH connection to machine ${options.machineId} at [${options.host}]:${options.port} failed: ${reason}`,
    {
      machineId: options.machineId,
      hint: privateNetworkHint(options.app, options.machineId),
      cause,
    },
  );
}

function connectionError(
  error: Error & { level?: string },
  options: SshConnectionOptions,
): TransportError {
  if (error.level === 'client-authentication') {
    const hint =
      options.authKind === 'certificate'
        ? `the machine's SSH server did not accept the certificate: check that the token may issue SSH certificates for app ${options.app}, that the org has an SSH CA (\`fly ssh issue\` creates one) and that the server trusts that CA`
        : `the machine's SSH server did not accept the key: add its public key to the machine's authorized_keys, or use a certificate from issueCertificate`;
    return new TransportError(
      'TRANSPORT_AUTH_FAILED',
      `SSH authentication as ${options.username} on machine ${options.machineId} failed`,
      { machineId: options.machineId, hint, cause: new Error(error.message) },
    );
  }
  if (error.level === 'client-timeout') {
    return connectFailed(options, `no SSH handshake within ${options.connectTimeoutMs} ms`, error);
  }
  return connectFailed(options, error.message, error);
}

function hostKeyChanged(
  options: SshConnectionOptions,
  pinned: PinnedHostKey,
  seen: PinnedHostKey,
): TransportError {
  return new TransportError(
    'TRANSPORT_HOST_KEY_CHANGED',
    `host key of machine ${options.machineId} changed: pinned ${pinned.keyType} ${hostKeyFingerprint(pinned.key)}, ` +
      `offered ${seen.keyType} ${hostKeyFingerprint(seen.key)}`,
    {
      machineId: options.machineId,
      hint:
        'someone may be intercepting the connection. If the machine was recreated or its host key rotated, ' +
        'connect once with acceptNewHostKey: true (CLI: --accept-new-host-key) to pin the new key',
    },
  );
}
