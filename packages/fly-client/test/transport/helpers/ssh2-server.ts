import { spawn } from 'node:child_process';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Connection, ParsedKey, SFTPWrapper } from 'ssh2';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../../src/transport/key-pair.js';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

/** Faults the test server injects into SFTP traffic; each applies to the next connection that hits it. */
export interface Ssh2ServerFaults {
  /** Closes the TCP connection once after this many file bytes were read or written. */
  dropAfterBytes?: number;
  /** Flips the byte at this file offset in every READ reply that covers it. */
  corruptOffset?: number;
  /** Flips the byte at this file offset in every WRITE that covers it. */
  corruptWriteOffset?: number;
  /** Stops answering READ requests after this many bytes. */
  stallAfterBytes?: number;
  /** Delays every READ reply. */
  readDelayMs?: number;
  /** Answers the first READ with a packet of an unknown type, a fatal SFTP protocol error. */
  malformedFirstRead?: boolean;
}

/** A real ssh2 SSH/SFTP server on 127.0.0.1 that works on the local file system. */
export interface Ssh2TestServer {
  host: string;
  port: number;
  hostKey: ParsedKey;
  faults: Ssh2ServerFaults;
  /** Largest number of READ requests in flight, per connection, in connection order. */
  maxReadsInFlight: number[];
  connections: number;
  /** Exec requests received, over all connections. */
  execRequests: number;
  close(): Promise<void>;
}

type OpenFile = { file: FileHandle; path: string } | { environ: Buffer; path: string };

/** Path whose reads return `sftpEnviron`, as a Linux process reads its own environment. */
const ENVIRON_PATH = '/proc/self/environ';

/**
 * Starts the server. It accepts the public key `authorizedKey`; sessions run commands with
 * `/bin/sh -c` and PATH=`binDir`, with FLY_MACHINE_ID set to `machineId`. SFTP reads of
 * `/proc/self/environ` return `sftpEnviron` (by default that same session environment), free
 * of the injected faults, which apply to file bytes only.
 */
export async function startSsh2Server(options: {
  machineId: string;
  authorizedKey: string;
  binDir: string;
  hostKey?: string;
  sftpEnviron?: Record<string, string>;
}): Promise<Ssh2TestServer> {
  const hostKeyText = options.hostKey ?? generateEd25519KeyPair().private;
  const hostKey = utils.parseKey(hostKeyText) as ParsedKey;
  const allowed = utils.parseKey(options.authorizedKey) as ParsedKey;
  const state: Ssh2TestServer = {
    host: '127.0.0.1',
    port: 0,
    hostKey,
    faults: {},
    maxReadsInFlight: [],
    connections: 0,
    execRequests: 0,
    close: async () => undefined,
  };
  const clients = new Set<Connection>();
  const sessionEnv = { PATH: options.binDir, FLY_MACHINE_ID: options.machineId };
  const environ = Buffer.from(
    Object.entries(options.sftpEnviron ?? sessionEnv)
      .map(([name, value]) => `${name}=${value}\0`)
      .join(''),
  );

  const server = new Server({ hostKeys: [hostKeyText] }, (client) => {
    clients.add(client);
    (client as unknown as { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    const index = state.connections++;
    state.maxReadsInFlight[index] = 0;
    client.on('error', () => undefined);
    client.on('close', () => clients.delete(client));

    client.on('authentication', (context) => {
      if (
        context.method !== 'publickey' ||
        context.key.algo !== allowed.type ||
        !context.key.data.equals(allowed.getPublicSSH())
      ) {
        context.reject(['publickey']);
        return;
      }
      if (
        context.signature &&
        !allowed.verify(context.blob!, context.signature, context.hashAlgo)
      ) {
        context.reject(['publickey']);
        return;
      }
      context.accept();
    });

    client.on('session', (acceptSession) => {
      const session = acceptSession();
      session.on('exec', (acceptExec, _reject, info) => {
        state.execRequests += 1;
        const channel = acceptExec();
        const child = spawn('/bin/sh', ['-c', info.command], { env: sessionEnv });
        channel.pipe(child.stdin);
        child.stdout.pipe(channel, { end: false });
        child.stderr.pipe(channel.stderr, { end: false });
        child.on('close', (code) => {
          channel.exit(code ?? 1);
          channel.end();
        });
      });
      session.on('sftp', (acceptSftp) => {
        serveSftp(acceptSftp(), client, state, index, environ);
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    for (const client of clients) client.end();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

function serveSftp(
  sftp: SFTPWrapper,
  client: Connection,
  state: Ssh2TestServer,
  index: number,
  environ: Buffer,
): void {
  const handles = new Map<number, OpenFile>();
  let nextHandle = 1;
  let bytesMoved = 0;
  let readsInFlight = 0;

  const handleOf = (buffer: Buffer) => handles.get(buffer.readUInt32BE(0));
  sftp.on('close', () => {
    for (const open of handles.values()) if ('file' in open) void open.file.close();
    handles.clear();
  });
  const failWith = (reqid: number, error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    sftp.status(
      reqid,
      code === 'ENOENT'
        ? STATUS_CODE.NO_SUCH_FILE
        : code === 'EACCES'
          ? STATUS_CODE.PERMISSION_DENIED
          : STATUS_CODE.FAILURE,
    );
  };
  const countBytes = (count: number) => {
    bytesMoved += count;
    const drop = state.faults.dropAfterBytes;
    if (drop !== undefined && bytesMoved >= drop) {
      state.faults.dropAfterBytes = undefined;
      // End the socket rather than reset it, so the bytes already sent still arrive and the
      // client has a partial file to resume from.
      (client as unknown as { _sock: { end(): void } })._sock.end();
    }
  };

  const newHandle = (open: OpenFile): Buffer => {
    const id = nextHandle++;
    handles.set(id, open);
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(id, 0);
    return handle;
  };

  sftp.on('OPEN', async (reqid, filename, flags) => {
    if (filename === ENVIRON_PATH)
      return sftp.handle(reqid, newHandle({ environ, path: filename }));
    try {
      const file = await open(filename, utils.sftp.flagsToString(flags) ?? 'r', 0o600);
      sftp.handle(reqid, newHandle({ file, path: filename }));
    } catch (error) {
      failWith(reqid, error);
    }
  });

  sftp.on('READ', async (reqid, handle, offset, length) => {
    const open = handleOf(handle);
    if (!open) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if ('environ' in open) {
      const data = open.environ.subarray(offset, offset + length);
      return data.length === 0 ? sftp.status(reqid, STATUS_CODE.EOF) : sftp.data(reqid, data);
    }
    readsInFlight += 1;
    state.maxReadsInFlight[index] = Math.max(state.maxReadsInFlight[index] ?? 0, readsInFlight);

    const { faults } = state;
    if (faults.stallAfterBytes !== undefined && bytesMoved >= faults.stallAfterBytes) return;
    if (faults.readDelayMs) await new Promise((resolve) => setTimeout(resolve, faults.readDelayMs));

    if (faults.malformedFirstRead) {
      faults.malformedFirstRead = false;
      const channel = sftp as unknown as {
        _protocol: { channelData(id: number, data: Buffer): void };
        outgoing: { id: number; window: number };
      };
      const packet = Buffer.from([0, 0, 0, 5, 250, 0, 0, 0, 1]);
      channel._protocol.channelData(channel.outgoing.id, packet);
      channel.outgoing.window -= packet.length;
      return;
    }

    const buffer = Buffer.alloc(length);
    const bytesRead = await open.file.read(buffer, 0, length, offset).then(
      (result) => result.bytesRead,
      () => undefined,
    );
    readsInFlight -= 1;
    if (bytesRead === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if (bytesRead === 0) return sftp.status(reqid, STATUS_CODE.EOF);

    const data = buffer.subarray(0, bytesRead);
    const corrupt = faults.corruptOffset;
    if (corrupt !== undefined && corrupt >= offset && corrupt < offset + bytesRead) {
      data[corrupt - offset] = (data[corrupt - offset] ?? 0) ^ 0xff;
    }
    sftp.data(reqid, data);
    countBytes(bytesRead);
  });

  sftp.on('WRITE', async (reqid, handle, offset, data) => {
    const open = handleOf(handle);
    if (!open || !('file' in open)) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const corrupt = state.faults.corruptWriteOffset;
    if (corrupt !== undefined && corrupt >= offset && corrupt < offset + data.length) {
      data[corrupt - offset] = (data[corrupt - offset] ?? 0) ^ 0xff;
    }
    try {
      await open.file.write(data, 0, data.length, offset);
      sftp.status(reqid, STATUS_CODE.OK);
      countBytes(data.length);
    } catch (error) {
      failWith(reqid, error);
    }
  });

  sftp.on('CLOSE', async (reqid, handle) => {
    const open = handleOf(handle);
    handles.delete(handle.readUInt32BE(0));
    if (open && 'file' in open) await open.file.close();
    sftp.status(reqid, open ? STATUS_CODE.OK : STATUS_CODE.FAILURE);
  });

  const sendStat = async (reqid: number, path: string) => {
    try {
      const info = await stat(path);
      sftp.attrs(reqid, {
        mode: info.mode,
        uid: info.uid,
        gid: info.gid,
        size: info.size,
        atime: Math.floor(info.atimeMs / 1000),
        mtime: Math.floor(info.mtimeMs / 1000),
      });
    } catch (error) {
      failWith(reqid, error);
    }
  };
  sftp.on('STAT', (reqid, path) => void sendStat(reqid, path));
  sftp.on('LSTAT', (reqid, path) => void sendStat(reqid, path));
  sftp.on('FSTAT', (reqid, handle) => {
    const open = handleOf(handle);
    if (!open) return sftp.status(reqid, STATUS_CODE.FAILURE);
    void sendStat(reqid, open.path);
  });

  sftp.on('REMOVE', async (reqid, path) => {
    try {
      await rm(path);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (error) {
      failWith(reqid, error);
    }
  });

  sftp.on('RENAME', async (reqid, from, to) => {
    try {
      // SFTP version 3 RENAME must not replace an existing file.
      if (await stat(to).catch(() => undefined)) return sftp.status(reqid, STATUS_CODE.FAILURE);
      await rename(from, to);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (error) {
      failWith(reqid, error);
    }
  });

  sftp.on('REALPATH', (reqid, path) => {
    sftp.name(reqid, [{ filename: path, longname: path, attrs: {} as never }]);
  });
}
