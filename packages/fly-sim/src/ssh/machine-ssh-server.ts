import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ServerChannel } from 'ssh2';

import type { CommandContext } from '../commands/command-context.js';
import type { CommandResult } from '../commands/command-result.js';
import { failure } from '../commands/command-result.js';
import { runArgv } from '../commands/run-command.js';
import { tokenizeShellWords } from '../commands/shell-words.js';
import { ByteDropper } from './byte-drop.js';
import { serveSftp } from './sftp-server.js';
import { checkPublicKeyLogin, type PublicKeyAttempt, type SshAuthPolicy } from './ssh-auth.js';

// ssh2 is CommonJS, so Node's ESM loader gives its exports only on the default import.
const SshServer = ssh2.Server;
type SshServer = ssh2.Server;

/** Settings of a machine's SSH server. */
export interface MachineSshServerOptions {
  /** Loopback address to listen on (the machine's private_ip). */
  address: string;
  port: number;
  /** Host private key in OpenSSH format, stable for the machine's life. */
  hostKey: string;
  /** Returns the login policy, read at each attempt so that CA and key changes apply at once. */
  authPolicy(): SshAuthPolicy;
  /** The machine's files and command context (without stdin). */
  commandContext(): Omit<CommandContext, 'stdin'>;
}

/**
 * The SSH server of one started machine: public key and certificate login as root, an exec
 * channel that runs the sim's machine commands, and the SFTP subsystem.
 */
export class MachineSshServer {
  private readonly listener: NetServer;
  private readonly ssh: SshServer;
  private readonly sockets = new Set<Socket>();
  private readonly held = new Set<Socket>();
  private readonly dropper = new ByteDropper();
  private unresponsive = false;
  private execCount = 0;

  constructor(private readonly options: MachineSshServerOptions) {
    this.ssh = new SshServer({ hostKeys: [options.hostKey] }, (client) => this.onClient(client));
    this.listener = createServer((socket) => this.onSocket(socket));
  }

  /**
   * Starts listening on the machine's address.
   *
   * @throws Error when the address and port cannot be bound (e.g. EADDRINUSE).
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.options.port, this.options.address, () => {
        this.listener.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and cuts every connection, so that new connections are refused. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of [...this.sockets, ...this.held]) socket.destroy();
    await closed;
  }

  /**
   * While unresponsive (host down), open connections are cut and new ones are accepted but
   * never get a reply, so clients time out.
   */
  setUnresponsive(unresponsive: boolean): void {
    this.unresponsive = unresponsive;
    const victims = unresponsive ? this.sockets : this.held;
    for (const socket of [...victims]) socket.destroy();
  }

  /** Exec requests received since the server started, e.g. to check a client ran no command. */
  get execRequests(): number {
    return this.execCount;
  }

  /** Cuts connections after they carry `bytes` bytes, `times` times, calling `onCut` after each. */
  dropAfterBytes(bytes: number, times: number, onCut?: () => void): void {
    this.dropper.arm(bytes, times, onCut);
  }

  private onSocket(socket: Socket): void {
    if (this.unresponsive) {
      socket.pause();
      this.held.add(socket);
      socket.on('close', () => this.held.delete(socket));
      socket.on('error', () => {});
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    this.dropper.watch(socket);
    this.ssh.injectSocket(socket);
  }

  private onClient(client: Connection): void {
    client.on('error', () => {});
    client.on('authentication', (context: AuthContext) => this.authenticate(context));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          this.execCount += 1;
          this.exec(accept(), info.command);
        });
        session.on('sftp', (accept) => {
          const context = this.options.commandContext();
          serveSftp(accept(), context.files, context.env);
        });
      });
    });
  }

  private authenticate(context: AuthContext): void {
    if (context.method !== 'publickey') {
      context.reject(['publickey']);
      return;
    }
    const attempt: PublicKeyAttempt = {
      username: context.username,
      key: context.key,
      signature: context.signature,
      blob: context.blob,
      hashAlgo: context.hashAlgo,
    };
    const reason = checkPublicKeyLogin(attempt, this.options.authPolicy());
    if (reason === undefined) context.accept();
    else context.reject(['publickey']);
  }

  private exec(stream: ServerChannel, command: string): void {
    const chunks: Buffer[] = [];
    const stdin = new Promise<Buffer>((resolve) => {
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('close', () => resolve(Buffer.concat(chunks)));
    });
    stream.on('error', () => {});

    const result = this.runCommand(command, () => stdin);
    void result.then((outcome) => {
      if (stream.destroyed) return;
      stream.write(outcome.stdout);
      stream.stderr.write(outcome.stderr);
      stream.exit(outcome.exitCode);
      stream.end();
    });
  }

  private runCommand(command: string, stdin: () => Promise<Buffer>): Promise<CommandResult> {
    let argv: string[];
    try {
      argv = tokenizeShellWords(command);
    } catch (error) {
      return Promise.resolve(failure(2, `sh: 1: ${(error as Error).message}`));
    }
    return runArgv(argv, { ...this.options.commandContext(), stdin });
  }
}
