import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import {
  authorizedKeyLine,
  generateEd25519,
  openSshPrivateKey,
} from '../../src/ssh/ed25519-keys.js';

/** A client key pair in the forms tests need. */
export interface TestKey {
  privateKey: string;
  publicLine: string;
}

/** Makes an Ed25519 key for ssh2 clients and authorized_keys. */
export function testKey(): TestKey {
  const pair = generateEd25519();
  return { privateKey: openSshPrivateKey(pair), publicLine: authorizedKeyLine(pair, 'test') };
}

/** Connects an ssh2 client as root; rejects on any connection or login error. */
export function connect(
  host: string,
  port: number,
  privateKey: string,
  readyTimeout = 5_000,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on('ready', () => resolve(client));
    client.on('error', (error) => {
      client.end();
      reject(error);
    });
    client.connect({ host, port, username: 'root', privateKey, readyTimeout });
  });
}

/** Connects, records the host key blob the server presents, and disconnects. */
export function readHostKey(host: string, port: number, privateKey: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey: Buffer | undefined;
    client.on('ready', () => {
      client.end();
      if (hostKey === undefined) reject(new Error('no host key was presented'));
      else resolve(hostKey);
    });
    client.on('error', reject);
    client.connect({
      host,
      port,
      username: 'root',
      privateKey,
      readyTimeout: 5_000,
      hostVerifier: (key: Buffer) => {
        hostKey = key;
        return true;
      },
    });
  });
}

/** Runs a command over an exec channel and collects its output and exit code. */
export function execOver(
  client: Client,
  command: string,
  stdin?: Buffer,
): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream: ClientChannel) => {
      if (error) return reject(error);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code = -1;
      stream.on('data', (chunk: Buffer) => out.push(chunk));
      stream.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      stream.on('exit', (exitCode: number) => {
        code = exitCode;
      });
      stream.on('close', () =>
        resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
      );
      if (stdin !== undefined) stream.end(stdin);
      else stream.end();
    });
  });
}

/** Opens the SFTP subsystem. */
export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
  });
}

/** Quotes argv for a POSIX shell, as flydr's SSH transport does. */
export function shellJoin(argv: string[]): string {
  return argv.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
}
