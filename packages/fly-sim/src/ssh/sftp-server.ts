import { constants, type Stats } from 'node:fs';
import {
  chmod,
  type FileHandle,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  stat,
  truncate,
  unlink,
  utimes,
} from 'node:fs/promises';
import { posix } from 'node:path';
import type { Attributes, FileEntry, SFTPWrapper } from 'ssh2';
import { MachineFileError, type MachineFiles } from '../commands/machine-files.js';
import { SshReader } from './wire.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  OP_UNSUPPORTED: 8,
} as const;

/** SFTP open flags. */
const OPEN = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 16, EXCL: 32 } as const;

type OpenHandle =
  | {
      kind: 'file';
      file: FileHandle;
      guestPath: string;
      /** Opened for writing, so its growth counts against the volume. */
      writable: boolean;
      /**
       * End of the file once every accepted write has landed. WRITE requests raise it before
       * their awaited write, so requests in flight together never count the same growth twice.
       */
      reservedSize: number;
      /** Volume use read at OPEN plus the growth reserved by this handle's writes since. */
      usedBytes: number;
      capacityBytes: number;
    }
  | { kind: 'dir'; guestPath: string; sent: boolean }
  | { kind: 'environ'; content: Buffer };

/**
 * Path at which a Linux process reads its own environment, as `KEY=value` entries each ended
 * by a NUL byte. An OpenSSH sftp-server inherits the session environment, so it reads
 * FLY_MACHINE_ID there.
 */
const ENVIRON_PATH = '/proc/self/environ';

/** Attributes of the read-only directories above the mount. */
const DIRECTORY_ATTRS: Attributes = {
  mode: 0o40755,
  uid: 0,
  gid: 0,
  size: 4096,
  atime: 0,
  mtime: 0,
};

function attrsOf(info: Stats): Attributes {
  return {
    mode: info.mode,
    uid: 0,
    gid: 0,
    size: info.size,
    atime: Math.floor(info.atimeMs / 1000),
    mtime: Math.floor(info.mtimeMs / 1000),
  };
}

function longname(name: string, attrs: Attributes): string {
  const type = (attrs.mode & 0o170000) === 0o40000 ? 'd' : '-';
  const bits = 'rwxrwxrwx'
    .split('')
    .map((ch, i) => ((attrs.mode >> (8 - i)) & 1 ? ch : '-'))
    .join('');
  const date = new Date(attrs.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ');
  return `${type}${bits} 1 root root ${String(attrs.size).padStart(8)} ${date} ${name}`;
}

function openFlags(flags: number): number {
  const read = (flags & OPEN.READ) !== 0;
  const write = (flags & OPEN.WRITE) !== 0 || (flags & OPEN.APPEND) !== 0;
  let result = constants.O_RDONLY;
  if (read && write) result = constants.O_RDWR;
  else if (write) result = constants.O_WRONLY;
  if ((flags & OPEN.APPEND) !== 0) result |= constants.O_APPEND;
  if ((flags & OPEN.CREAT) !== 0) result |= constants.O_CREAT;
  if ((flags & OPEN.TRUNC) !== 0) result |= constants.O_TRUNC;
  if ((flags & OPEN.EXCL) !== 0) result |= constants.O_EXCL;
  return result;
}

/** Maps an error to an SFTP status code and message. */
function statusOf(error: unknown): [number, string] {
  if (error instanceof MachineFileError) {
    if (error.code === 'ENOENT') return [STATUS.NO_SUCH_FILE, error.message];
    if (error.code === 'ENOSPC') return [STATUS.FAILURE, error.message];
    return [STATUS.PERMISSION_DENIED, error.message];
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return [STATUS.NO_SUCH_FILE, 'No such file'];
  if (code === 'EACCES' || code === 'EPERM') return [STATUS.PERMISSION_DENIED, 'Permission denied'];
  return [STATUS.FAILURE, (error as Error).message];
}

/**
 * Serves SFTP requests on one session, confined to the machine's files. RENAME replaces an
 * existing target (POSIX rename), as the SFTP server of Fly's machines does; the
 * posix-rename@openssh.com and fsync@openssh.com extensions are also served. Reading
 * `/proc/self/environ` returns `env` (the machine's environment), with size 0 as procfs reports.
 */
export function serveSftp(
  sftp: SFTPWrapper,
  files: MachineFiles,
  env: Record<string, string> = {},
): void {
  const handles = new Map<number, OpenHandle>();
  let nextHandle = 1;

  const newHandle = (entry: OpenHandle): Buffer => {
    const id = nextHandle++;
    handles.set(id, entry);
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(id);
    return buffer;
  };
  const handleOf = (buffer: Buffer): OpenHandle | undefined =>
    buffer.length === 4 ? handles.get(buffer.readUInt32BE(0)) : undefined;

  /** Runs a request and replies with the mapped status (FAILURE by default) if it throws. */
  const serve = (reqId: number, work: () => Promise<void>): void => {
    work().catch((error: unknown) => {
      const [code, message] = statusOf(error);
      try {
        sftp.status(reqId, code, message);
      } catch {
        // The channel closed before the reply, so the client is gone.
      }
    });
  };

  sftp.on('error', () => {});

  const environ = (): Buffer =>
    Buffer.from(
      Object.entries(env)
        .map(([name, value]) => `${name}=${value}\0`)
        .join(''),
    );

  const statPath = async (path: string): Promise<Attributes> => {
    const guest = files.normalize(path);
    if (guest === ENVIRON_PATH) return { ...DIRECTORY_ATTRS, mode: 0o100400, size: 0 };
    if (files.isAboveMount(guest)) return DIRECTORY_ATTRS;
    return attrsOf(await stat(files.hostPath(guest)));
  };

  sftp.on('REALPATH', (reqId: number, path: string) => {
    const guest = files.normalize(path === '' ? '.' : path);
    sftp.name(reqId, [{ filename: guest, longname: guest, attrs: DIRECTORY_ATTRS }]);
  });

  for (const event of ['STAT', 'LSTAT'] as const) {
    sftp.on(event, (reqId: number, path: string) =>
      serve(reqId, async () => sftp.attrs(reqId, await statPath(path))),
    );
  }

  sftp.on('OPEN', (reqId: number, path: string, flags: number) =>
    serve(reqId, async () => {
      const writes = (flags & (OPEN.WRITE | OPEN.APPEND | OPEN.CREAT | OPEN.TRUNC)) !== 0;
      if (files.normalize(path) === ENVIRON_PATH) {
        if (writes) return sftp.status(reqId, STATUS.PERMISSION_DENIED, 'Permission denied');
        return sftp.handle(reqId, newHandle({ kind: 'environ', content: environ() }));
      }
      const host = writes
        ? files.writablePath(path, 'sftp open for writing')
        : files.hostPath(path);
      const file = await open(host, openFlags(flags), 0o644);
      const reservedSize = (await file.stat()).size;
      // Volume use is read once per open, and writes then reserve their growth on top of it.
      const { usedBytes, capacityBytes } = writes
        ? files.usage()
        : { usedBytes: 0, capacityBytes: 0 };
      const guestPath = files.normalize(path);
      sftp.handle(
        reqId,
        newHandle({
          kind: 'file',
          file,
          guestPath,
          writable: writes,
          reservedSize,
          usedBytes,
          capacityBytes,
        }),
      );
    }),
  );

  sftp.on('READ', (reqId: number, handle: Buffer, offset: number, length: number) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry?.kind === 'environ') {
        const part = entry.content.subarray(offset, offset + length);
        return part.length === 0 ? sftp.status(reqId, STATUS.EOF) : sftp.data(reqId, part);
      }
      if (entry?.kind !== 'file') return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await entry.file.read(buffer, 0, length, offset);
      if (bytesRead === 0) return sftp.status(reqId, STATUS.EOF);
      sftp.data(reqId, buffer.subarray(0, bytesRead));
    }),
  );

  sftp.on('WRITE', (reqId: number, handle: Buffer, offset: number, data: Buffer) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry?.kind !== 'file') return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      // Check and reserve in one synchronous step, before the write is awaited, so that
      // pipelined requests each see the growth of the requests accepted before them.
      const end = offset + data.length;
      const growth = Math.max(0, end - entry.reservedSize);
      if (entry.writable && entry.usedBytes + growth > entry.capacityBytes) {
        return sftp.status(reqId, STATUS.FAILURE, 'No space left on device');
      }
      entry.reservedSize += growth;
      entry.usedBytes += growth;

      try {
        await entry.file.write(data, 0, data.length, offset);
      } catch (error) {
        // Give the space back unless a later request already reserved beyond this end.
        if (growth > 0 && entry.reservedSize === end) {
          entry.reservedSize -= growth;
          entry.usedBytes -= growth;
        }
        throw error;
      }
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('FSTAT', (reqId: number, handle: Buffer) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry === undefined) return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      if (entry.kind === 'dir') return sftp.attrs(reqId, await statPath(entry.guestPath));
      if (entry.kind === 'environ') return sftp.attrs(reqId, await statPath(ENVIRON_PATH));
      sftp.attrs(reqId, attrsOf(await entry.file.stat()));
    }),
  );

  sftp.on('FSETSTAT', (reqId: number, handle: Buffer, attrs: Partial<Attributes>) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry?.kind !== 'file') return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      if (attrs.mode !== undefined) await entry.file.chmod(attrs.mode & 0o7777);
      if (attrs.size !== undefined) {
        const change = attrs.size - entry.reservedSize;
        if (entry.writable && change > 0 && entry.usedBytes + change > entry.capacityBytes) {
          return sftp.status(reqId, STATUS.FAILURE, 'No space left on device');
        }
        await entry.file.truncate(attrs.size);
        entry.reservedSize = attrs.size;
        entry.usedBytes += change;
      }
      if (attrs.atime !== undefined && attrs.mtime !== undefined) {
        await entry.file.utimes(attrs.atime, attrs.mtime);
      }
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('SETSTAT', (reqId: number, path: string, attrs: Partial<Attributes>) =>
    serve(reqId, async () => {
      const host = files.writablePath(path, 'sftp setstat');
      if (attrs.mode !== undefined) await chmod(host, attrs.mode & 0o7777);
      if (attrs.size !== undefined) await truncate(host, attrs.size);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) {
        await utimes(host, attrs.atime, attrs.mtime);
      }
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('CLOSE', (reqId: number, handle: Buffer) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry === undefined) return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      handles.delete(handle.readUInt32BE(0));
      if (entry.kind === 'file') await entry.file.close();
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('OPENDIR', (reqId: number, path: string) =>
    serve(reqId, async () => {
      const attrs = await statPath(path);
      if ((attrs.mode & 0o170000) !== 0o40000) {
        return sftp.status(reqId, STATUS.FAILURE, `${path}: Not a directory`);
      }
      sftp.handle(reqId, newHandle({ kind: 'dir', guestPath: files.normalize(path), sent: false }));
    }),
  );

  sftp.on('READDIR', (reqId: number, handle: Buffer) =>
    serve(reqId, async () => {
      const entry = handleOf(handle);
      if (entry?.kind !== 'dir') return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
      if (entry.sent) return sftp.status(reqId, STATUS.EOF);
      entry.sent = true;

      const names: FileEntry[] = [];
      if (files.isAboveMount(entry.guestPath)) {
        const mount = files.mountPath ?? '/';
        const rest = mount.slice(entry.guestPath === '/' ? 1 : entry.guestPath.length + 1);
        const child = rest.split('/')[0];
        if (child !== undefined && child !== '') {
          names.push({
            filename: child,
            longname: longname(child, DIRECTORY_ATTRS),
            attrs: DIRECTORY_ATTRS,
          });
        }
      } else {
        const dir = files.hostPath(entry.guestPath);
        for (const name of await readdir(dir)) {
          const attrs = attrsOf(await stat(posix.join(dir, name)));
          names.push({ filename: name, longname: longname(name, attrs), attrs });
        }
      }
      if (names.length === 0) return sftp.status(reqId, STATUS.EOF);
      sftp.name(reqId, names);
    }),
  );

  sftp.on('REMOVE', (reqId: number, path: string) =>
    serve(reqId, async () => {
      await unlink(files.writablePath(path, 'sftp remove'));
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('MKDIR', (reqId: number, path: string) =>
    serve(reqId, async () => {
      await mkdir(files.writablePath(path, 'sftp mkdir'));
      sftp.status(reqId, STATUS.OK);
    }),
  );

  sftp.on('RMDIR', (reqId: number, path: string) =>
    serve(reqId, async () => {
      await rmdir(files.writablePath(path, 'sftp rmdir'));
      sftp.status(reqId, STATUS.OK);
    }),
  );

  const renamePaths = async (reqId: number, from: string, to: string): Promise<void> => {
    const source = files.writablePath(from, 'sftp rename');
    await rename(source, files.writablePath(to, 'sftp rename'));
    sftp.status(reqId, STATUS.OK);
  };

  sftp.on('RENAME', (reqId: number, from: string, to: string) =>
    serve(reqId, () => renamePaths(reqId, from, to)),
  );

  sftp.on('EXTENDED', (reqId: number, name: string, data: Buffer) =>
    serve(reqId, async () => {
      const reader = new SshReader(data ?? Buffer.alloc(0));
      if (name === 'posix-rename@openssh.com') {
        return renamePaths(reqId, reader.text(), reader.text());
      }
      if (name === 'fsync@openssh.com') {
        const entry = handleOf(reader.string());
        if (entry?.kind !== 'file') return sftp.status(reqId, STATUS.FAILURE, 'invalid handle');
        await entry.file.sync();
        return sftp.status(reqId, STATUS.OK);
      }
      sftp.status(reqId, STATUS.OP_UNSUPPORTED, `${name} is not supported`);
    }),
  );

  for (const event of ['READLINK', 'SYMLINK'] as const) {
    sftp.on(event, (reqId: number) =>
      sftp.status(reqId, STATUS.OP_UNSUPPORTED, 'links are not supported by the simulator'),
    );
  }

  sftp.on('close', () => {
    for (const entry of handles.values()) {
      if (entry.kind === 'file') entry.file.close().catch(() => {});
    }
    handles.clear();
  });
}
