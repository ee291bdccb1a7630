import type { ParsedKey, SFTPWrapper } from 'ssh2';

import {
  type CertificateIssuer,
  certificateKey,
  parseCertificate,
  parsePrivateKey,
  SshCertificateCache,
} from './certificate.js';
import { isTransportError, TransportError } from './errors.js';
import { FileHostKeyStore, type HostKeyStore, hostKeyFingerprint } from './known-hosts.js';
import { assertLocalDirectory } from './local-files.js';
import { ENVIRON_PATH, readEnvironMachineId } from './machine-id-environ.js';
import type {
  ExecOptions,
  ExecOutput,
  MachineTransport,
  OperationOptions,
  RemoteFileStat,
  TransferOptions,
  TransferResult,
  TransportLogger,
  TransportMachine,
} from './machine-transport.js';
import { assertRemotePath, remoteCommands } from './remote-commands.js';
import { RemoteSha256 } from './remote-sha256.js';
import {
  closeRemote,
  hasExtension,
  openRemote,
  posixRenameRemote,
  readRemote,
  SFTP_STATUS,
  sftpStatus,
  statRemote,
  unlinkRemote,
} from './sftp-calls.js';
import { SshConnection } from './ssh-connection.js';
import { downloadOnce, remoteNotFound, type SshTransferContext } from './ssh-download.js';
import { uploadOnce } from './ssh-upload.js';
import { planTransfer, RestartFromZero, type TransferPlan } from './transfer-attempt.js';
import { TransferWatch } from './transfer-watch.js';

/** Time close() waits for a connection still being opened before it gives up on it. */
const CLOSE_GRACE_MS = 1000;

/**
 * Credentials the transport logs in with (as `root` by default), one of:
 * - `{ certificate: issuer }`: an ed25519 key made in memory, with a short-lived certificate
 *   from the issuer (e.g. {@link flyCertificateIssuer}); pass an {@link SshCertificateCache}
 *   to share one certificate between transports.
 * - `{ privateKey, certificate? }`: a given private key, optionally with an OpenSSH
 *   certificate for it (authorized_keys form).
 */
export type SshAuth =
  | { certificate: CertificateIssuer | SshCertificateCache }
  | { privateKey: string | Buffer; passphrase?: string; certificate?: string };

/** Options of {@link SshTransport.connect}. */
export interface SshTransportOptions {
  /** Fly app name, for address templates and hints. */
  app: string;
  machine: TransportMachine;
  auth: SshAuth;
  /** Pinned host keys: a file path for {@link FileHostKeyStore}, or another store. */
  hostKeys: HostKeyStore | string;
  /** Replaces a pinned host key that changed instead of failing. @default false */
  acceptNewHostKey?: boolean;
  /**
   * Explicit address, e.g. a tunnel: `127.0.0.1:10022`, `[fdaa::3]:22` or `{ host, port }`.
   * Takes precedence over `addressTemplate` and the machine's `private_ip`.
   */
  address?: string | { host: string; port?: number };
  /** Host name template with `{machine}`, `{app}` and `{region}`, e.g. `{machine}.vm.{app}.internal`. */
  addressTemplate?: string;
  /** @default 22 */
  port?: number;
  /** @default 'root' */
  username?: string;
  /**
   * Checks that the session reached the requested machine: FLY_MACHINE_ID is read from
   * `/proc/self/environ` over SFTP, or with `printenv FLY_MACHINE_ID` over exec when that file
   * lacks it.
   * @default true
   */
  verifyMachineId?: boolean;
  /** @default 15000 */
  connectTimeoutMs?: number;
  /** SSH keepalive interval; the connection fails after `keepaliveCountMax` unanswered. @default 10000 */
  keepaliveIntervalMs?: number;
  /** @default 3 */
  keepaliveCountMax?: number;
  /** Reconnections one transfer may make after the connection dropped. @default 3 */
  maxReconnects?: number;
  /** Receives pins of new host keys, reconnections and fallbacks. @default no logging */
  logger?: TransportLogger;
}

/** Patterns of ssh2 errors that show the peer and ssh2 disagree on the protocol. */
const PROTOCOL_ERROR =
  /malformed|bad packet|unexpected|more data than requested|invalid (packet|padding)/i;

/**
 * Messages of errors that ssh2 (1.17) and the SFTP helpers give requests cut off by a dropped
 * connection or channel.
 */
const DROPPED_ERROR =
  /no response from server|not connected|channel open failure|unable to exec|channel closed|got no reply/i;

/**
 * Machine file transport over SSH/SFTP (ssh2), with certificate login, pinned host keys,
 * a check that the session reached the right machine, and verified, resumable transfers.
 *
 * @example
 * const transport = await SshTransport.connect({
 *   app: 'my-app',
 *   machine,
 *   auth: { certificate: flyCertificateIssuer(client, 'my-app') },
 *   hostKeys: '/home/me/.local/state/flydr/my-app/known_hosts',
 * });
 * await transport.download('/data/app.db', './app.db');
 */
export class SshTransport implements MachineTransport {
  readonly kind = 'ssh' as const;
  readonly machineId: string;
  readonly #options: SshTransportOptions;
  readonly #hostKeys: HostKeyStore;
  readonly #address: { host: string; port: number };
  readonly #certificates: SshCertificateCache | undefined;
  readonly #fixedKey: ParsedKey | undefined;
  readonly #authKind: 'certificate' | 'key';
  #connection: Promise<SshConnection> | undefined;
  #degraded = false;
  readonly #sha256: RemoteSha256;
  #closed = false;

  private constructor(options: SshTransportOptions) {
    this.#options = options;
    this.machineId = options.machine.id;
    this.#hostKeys =
      typeof options.hostKeys === 'string'
        ? new FileHostKeyStore(options.hostKeys)
        : options.hostKeys;
    this.#address = resolveAddress(options);
    this.#sha256 = new RemoteSha256(this.machineId, options.logger);

    const auth = options.auth;
    if ('privateKey' in auth) {
      const key = parsePrivateKey(auth.privateKey, auth.passphrase);
      this.#fixedKey = auth.certificate
        ? certificateKey(key, parseCertificate(auth.certificate))
        : key;
      this.#authKind = auth.certificate ? 'certificate' : 'key';
    } else {
      this.#authKind = 'certificate';
      this.#certificates =
        auth.certificate instanceof SshCertificateCache
          ? auth.certificate
          : new SshCertificateCache(auth.certificate);
    }
  }

  /**
   * Connects to the machine and confirms its identity.
   * @throws TransportError TRANSPORT_INVALID_INPUT, TRANSPORT_NOT_STARTED, TRANSPORT_CONNECT_FAILED,
   * TRANSPORT_AUTH_FAILED, TRANSPORT_HOST_KEY_CHANGED, TRANSPORT_WRONG_MACHINE
   */
  static async connect(options: SshTransportOptions): Promise<SshTransport> {
    assertStarted(options.app, options.machine);
    const transport = new SshTransport(options);
    await transport.#session();
    return transport;
  }

  /** Returns the live connection, opening and verifying a new one when needed. */
  async #session(): Promise<SshConnection> {
    if (this.#closed) {
      throw new TransportError(
        'TRANSPORT_CLOSED',
        `transport to machine ${this.machineId} is closed`,
        {
          machineId: this.machineId,
          hint: 'open a new transport',
        },
      );
    }
    const pending = this.#connection;
    const current = await pending?.catch(() => undefined);
    if (current && !current.closed) return current;
    // Another caller may have started a new connection while this one waited.
    if (this.#connection !== pending) return this.#session();

    this.#connection = this.#openVerified();
    try {
      return await this.#connection;
    } catch (error) {
      this.#connection = undefined;
      throw error;
    }
  }

  async #openVerified(): Promise<SshConnection> {
    const key = this.#fixedKey ?? (await this.#certificates!.key());
    const connection = await SshConnection.open({
      app: this.#options.app,
      machineId: this.machineId,
      host: this.#address.host,
      port: this.#address.port,
      username: this.#options.username ?? 'root',
      key,
      authKind: this.#authKind,
      hostKeys: this.#hostKeys,
      acceptNewHostKey: this.#options.acceptNewHostKey ?? false,
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 15_000,
      keepaliveIntervalMs: this.#options.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: this.#options.keepaliveCountMax ?? 3,
    });

    try {
      // The SFTP session opens at once, because the transfer needs it and the machine id check
      // reads the id through it first. No other file is touched before the check passed.
      const sftp = connection.sftp();
      sftp.catch(() => undefined);
      if (this.#options.verifyMachineId ?? true) await this.#verifyMachineId(connection, sftp);
      // Pin only after the machine proved who it is, so a wrong machine never gets pinned.
      const pinned = await this.#hostKeys.get(this.machineId);
      if (!pinned?.key.equals(connection.hostKey.key)) {
        await this.#hostKeys.set(this.machineId, connection.hostKey);
        this.#options.logger?.warn(
          pinned ? 'ssh host key replaced' : 'ssh host key pinned on first use',
          {
            machine_id: this.machineId,
            fingerprint: hostKeyFingerprint(connection.hostKey.key),
            ...(pinned ? { previous_fingerprint: hostKeyFingerprint(pinned.key) } : {}),
          },
        );
      }
      return connection;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  /**
   * Confirms the machine id from the SFTP server's environment, which starts no process on the
   * machine, or else with `printenv FLY_MACHINE_ID` over exec. A different id read either way
   * fails at once, with no second try.
   * @throws TransportError TRANSPORT_WRONG_MACHINE
   */
  async #verifyMachineId(connection: SshConnection, sftp: Promise<SFTPWrapper>): Promise<void> {
    const fromEnviron = await sftp.then(readEnvironMachineId, () => undefined);
    const reported = fromEnviron ?? (await this.#execMachineId(connection));
    this.#options.logger?.debug('ssh machine id checked', {
      machine_id: this.machineId,
      source: fromEnviron === undefined ? 'exec printenv' : ENVIRON_PATH,
    });
    if (reported === this.machineId) return;

    const address = `[${this.#address.host}]:${this.#address.port}`;
    const found = reported ? `machine ${reported}` : 'a host that does not set FLY_MACHINE_ID';
    throw new TransportError(
      'TRANSPORT_WRONG_MACHINE',
      `SSH at ${address} reached ${found}, not machine ${this.machineId}`,
      {
        machineId: this.machineId,
        hint:
          'the address may now belong to another machine (the requested one may be stopped or moved): check private_ip with `fly machine status`. ' +
          'Pass verifyMachineId: false only for a server known not to set FLY_MACHINE_ID',
      },
    );
  }

  /** Returns the output of `printenv FLY_MACHINE_ID`, or '' when the command failed. */
  async #execMachineId(connection: SshConnection): Promise<string> {
    const output = await connection.exec(remoteCommands.machineId(), {
      allowFailure: true,
      timeoutMs: 15_000,
    });
    return output.exitCode === 0 ? output.stdout.toString('utf8').trim() : '';
  }

  /** Returns the SFTP session of the live connection. */
  async #sftp(): Promise<{ connection: SshConnection; sftp: SFTPWrapper }> {
    const connection = await this.#session();
    const sftp = await connection.sftp();
    return { connection, sftp };
  }

  /** Destroys the live or pending connection, so every request on it fails at once. */
  #abandonConnection(): void {
    void this.#connection?.then(
      (connection) => connection.client.destroy(),
      () => undefined,
    );
  }

  /**
   * Runs a transfer attempt, reconnecting after a dropped connection and continuing from the
   * partial file, at most `maxReconnects` times. After a protocol error the next attempts
   * send one request at a time.
   */
  async #withReconnects<T>(
    path: string,
    options: TransferOptions | undefined,
    attempt: (context: SshTransferContext, plan: TransferPlan) => Promise<T>,
  ): Promise<T> {
    const plan = planTransfer(options);
    const maxReconnects = this.#options.maxReconnects ?? 3;
    let restarts = 0;
    let reconnects = 0;

    for (;;) {
      // The watch starts before connecting, so a reconnection that stalls (a drop during
      // the key exchange, a server that stops answering) is bound by the same limits.
      const watch = new TransferWatch({
        idleTimeoutMs: plan.options.idleTimeoutMs,
        deadlineAt: plan.deadlineAt,
        signal: plan.options.signal,
        onProgress: plan.options.onProgress,
        onFailure: () => this.#abandonConnection(),
        machineId: this.machineId,
        path,
      });
      let connection: SshConnection | undefined;
      let succeeded = false;
      try {
        watch.throwIfFailed();
        const session = await watch.guard(this.#sftp());
        connection = session.connection;
        const context: SshTransferContext = {
          ...session,
          machineId: this.machineId,
          degraded: this.#degraded,
          watch,
          remoteSha256: (remote) => this.#sha256.compute(session.connection, remote),
          prepareRemoteSha256: (remote) => this.#sha256.prepare(session.connection, remote),
        };
        const result = await watch.guard(attempt(context, plan));
        succeeded = true;
        return result;
      } catch (caught) {
        const error = watch.failure ?? caught;
        if (connection?.sftpProtocolError) this.#degraded = true;
        if (error instanceof RestartFromZero) {
          // A resumed file that fails its checksum is fetched again from byte 0, twice at most.
          if (restarts >= 2) throw error.mismatch;
          restarts += 1;
          this.#options.logger?.warn('ssh transfer restarting from byte 0', {
            machine_id: this.machineId,
            reason: error.mismatch.message,
          });
          plan.resume = false;
          continue;
        }
        const lost = this.#asConnectionLost(error, connection);
        if (!lost || reconnects >= maxReconnects) throw lost ?? error;
        reconnects += 1;
        this.#options.logger?.warn('ssh transfer reconnecting', {
          machine_id: this.machineId,
          attempt: reconnects,
          max_reconnects: maxReconnects,
          one_request_at_a_time: this.#degraded,
          error: lost.message,
        });
        plan.resume = true;
        const current = await this.#connection?.catch(() => undefined);
        await current?.close();
      } finally {
        watch.finish(succeeded);
      }
    }
  }

  /**
   * Returns a TRANSPORT_CONNECTION_LOST error when `error` means the connection or its SFTP
   * channel is gone, so the transfer reconnects. Other errors, such as a local file that
   * cannot be read, return undefined and end the transfer as they are.
   */
  #asConnectionLost(
    error: unknown,
    connection: SshConnection | undefined,
  ): TransportError | undefined {
    if (isTransportError(error))
      return error.code === 'TRANSPORT_CONNECTION_LOST' ? error : undefined;
    if (sftpStatus(error) !== undefined) return undefined;
    if (!(error instanceof Error)) return undefined;

    const level = (error as { level?: string }).level;
    const protocol = level === 'protocol' || PROTOCOL_ERROR.test(error.message);
    const dropped =
      connection?.closed === true ||
      connection?.sftpProtocolError !== undefined ||
      typeof level === 'string' ||
      DROPPED_ERROR.test(error.message);
    if (!protocol && !dropped) return undefined;

    if (protocol) this.#degraded = true;
    return new TransportError(
      'TRANSPORT_CONNECTION_LOST',
      `SSH connection to machine ${this.machineId} lost: ${error.message}`,
      {
        machineId: this.machineId,
        hint: 'run the transfer again; it resumes from the partial file',
        cause: error,
      },
    );
  }

  async stat(remotePath: string, _opts?: OperationOptions): Promise<RemoteFileStat | undefined> {
    assertRemotePath(remotePath, this.machineId);
    const { sftp } = await this.#sftp();
    const info = await statRemote(sftp, remotePath);
    if (!info) return undefined;
    return { size: info.size, mtimeMs: info.mtime * 1000, mode: info.mode & 0o7777 };
  }

  async readRange(
    remotePath: string,
    offset: number,
    length: number,
    _opts?: OperationOptions,
  ): Promise<Buffer> {
    assertRemotePath(remotePath, this.machineId);
    const { sftp } = await this.#sftp();
    const handle = await openRemote(sftp, remotePath, 'r').catch((error: unknown) => {
      throw sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE
        ? remoteNotFound(this.machineId, remotePath)
        : error;
    });
    try {
      const parts: Buffer[] = [];
      let read = 0;
      while (read < length) {
        const part = await readRemote(sftp, handle, offset + read, length - read);
        if (part.length === 0) break;
        parts.push(part);
        read += part.length;
      }
      return Buffer.concat(parts);
    } finally {
      await closeRemote(sftp, handle);
    }
  }

  async download(
    remotePath: string,
    localPath: string,
    opts?: TransferOptions,
  ): Promise<TransferResult> {
    assertRemotePath(remotePath, this.machineId);
    await assertLocalDirectory(localPath, this.machineId);
    return this.#withReconnects(remotePath, opts, (context, plan) =>
      downloadOnce(context, remotePath, localPath, plan),
    );
  }

  async upload(
    localPath: string,
    remotePath: string,
    opts?: TransferOptions,
  ): Promise<TransferResult> {
    assertRemotePath(remotePath, this.machineId);
    return this.#withReconnects(remotePath, opts, async (context, plan) => {
      const { result, temporary } = await uploadOnce(context, localPath, remotePath, plan);
      // Renamed inside the attempt, so a drop just before it resumes (nothing left to send)
      // and the idle timeout and deadline cover it too.
      await this.#renameOn(context.sftp, temporary, remotePath);
      return result;
    });
  }

  async rename(from: string, to: string, _opts?: OperationOptions): Promise<void> {
    assertRemotePath(from, this.machineId);
    assertRemotePath(to, this.machineId);
    const { sftp } = await this.#sftp();
    await this.#renameOn(sftp, from, to);
    // NOTE: the folder entry is not synced here. Uploads sync the data before the rename, so
    // a crash of the machine leaves either the old or the new complete file under the name.
  }

  async #renameOn(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    if (hasExtension(sftp, 'posix-rename@openssh.com')) {
      await posixRenameRemote(sftp, from, to).catch((error: unknown) => {
        throw sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE
          ? remoteNotFound(this.machineId, from)
          : error;
      });
    } else {
      await this.exec(remoteCommands.move(from, to));
    }
  }

  async remove(remotePath: string, _opts?: OperationOptions): Promise<void> {
    assertRemotePath(remotePath, this.machineId);
    const { sftp } = await this.#sftp();
    await unlinkRemote(sftp, remotePath);
  }

  async exec(argv: string[], opts?: ExecOptions): Promise<ExecOutput> {
    if (argv.length === 0) {
      throw new TransportError('TRANSPORT_INVALID_INPUT', 'invalid command: empty argv', {
        machineId: this.machineId,
        hint: 'pass the program and its arguments, e.g. ["ls", "/data"]',
      });
    }
    const connection = await this.#session();
    return connection.exec(argv, opts);
  }

  /**
   * Closes the connection. Waits at most about two seconds: a connection still being opened
   * gets a short grace period, then is destroyed as soon as it settles; a live one gets one
   * second to close cleanly before its socket is destroyed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#connection;
    if (!pending) return;

    let timer: NodeJS.Timeout | undefined;
    const late = Symbol('late');
    const connection = await Promise.race([
      pending.catch(() => undefined),
      new Promise<typeof late>((resolve) => {
        timer = setTimeout(() => resolve(late), CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (connection === late) {
      void pending.then(
        (opened) => opened.client.destroy(),
        () => undefined,
      );
      return;
    }
    await connection?.close();
  }
}

/**
 * Fails fast when the machine is known not to be started, since its SSH server runs inside it.
 * @throws TransportError TRANSPORT_NOT_STARTED
 */
export function assertStarted(app: string, machine: TransportMachine): void {
  if (!machine.state || machine.state === 'started') return;
  throw new TransportError(
    'TRANSPORT_NOT_STARTED',
    `machine ${machine.id} is ${machine.state}, so its SSH server is not running`,
    {
      machineId: machine.id,
      hint: `start it with \`fly machine start ${machine.id} -a ${app}\` (or client.machines.start) and wait for state started`,
    },
  );
}

function resolveAddress(options: SshTransportOptions): { host: string; port: number } {
  const defaultPort = options.port ?? 22;
  const { address, addressTemplate, machine, app } = options;

  if (typeof address === 'object') return { host: address.host, port: address.port ?? defaultPort };
  if (typeof address === 'string') return parseAddress(address, defaultPort);
  if (addressTemplate) {
    const host = addressTemplate
      .replaceAll('{machine}', machine.id)
      .replaceAll('{app}', app)
      .replaceAll('{region}', machine.region ?? '');
    return { host, port: defaultPort };
  }
  if (machine.private_ip) return { host: machine.private_ip, port: defaultPort };

  throw new TransportError(
    'TRANSPORT_INVALID_INPUT',
    `machine ${machine.id} has no private_ip and no address was given`,
    {
      machineId: machine.id,
      hint: 'pass the machine object from the Machines API, an addressTemplate such as {machine}.vm.{app}.internal, or an address',
    },
  );
}

/** Parses `host:port`, `[ipv6]:port` or a bare host. */
function parseAddress(text: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed)
    return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };

  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort) return { host: hostPort[1]!, port: Number(hostPort[2]) };
  if (text !== '') return { host: text, port: defaultPort };

  throw new TransportError('TRANSPORT_INVALID_INPUT', 'invalid SSH address: empty', {
    hint: 'pass host:port, e.g. 127.0.0.1:10022 for a `fly proxy` tunnel',
  });
}
