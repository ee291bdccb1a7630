import type { SFTPWrapper, Stats } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks). */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  OP_UNSUPPORTED: 8,
} as const;

/** Returns the SFTP status code of an ssh2 error, or undefined for other errors. */
export function sftpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Returns true when the server announced the named `@openssh.com` extension. */
export function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions;
  return extensions?.[name] !== undefined;
}

/** Time after which a STAT, OPEN, READ, REMOVE or similar request without a reply fails, so a dead channel cannot hang it. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Runs one SFTP request, failing it when the channel is closed or no reply comes in time. */
function request<T>(
  sftp: SFTPWrapper,
  name: string,
  send: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
): Promise<T> {
  if (!isSftpOpen(sftp)) return Promise.reject(new Error(`SFTP channel closed before ${name}`));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`SFTP ${name} got no reply within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
    send(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** STAT; resolves undefined when the path does not exist. */
export function statRemote(sftp: SFTPWrapper, path: string): Promise<Stats | undefined> {
  return request(sftp, 'STAT', (resolve, reject) => {
    sftp.stat(path, (error, stats) => {
      if (!error) return resolve(stats);
      if (sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE) return resolve(undefined);
      reject(error);
    });
  });
}

/** OPEN with an fs-style flag ('r', 'w', 'r+'). */
export function openRemote(
  sftp: SFTPWrapper,
  path: string,
  flags: 'r' | 'w' | 'r+',
): Promise<Buffer> {
  return request(sftp, 'OPEN', (resolve, reject) => {
    sftp.open(path, flags, 0o600, (error, handle) => (error ? reject(error) : resolve(handle)));
  });
}

/** Returns true while the SFTP channel can still carry requests. */
export function isSftpOpen(sftp: SFTPWrapper): boolean {
  // When the connection drops, ssh2 1.17.0 marks only the incoming side of an SFTP channel
  // closed, and never calls back a request sent after that.
  const channel = sftp as unknown as {
    outgoing?: { state?: string };
    incoming?: { state?: string };
  };
  return channel.outgoing?.state === 'open' && channel.incoming?.state !== 'closed';
}

/** Time after which a CLOSE that got no reply is given up. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * CLOSE; errors are returned, not thrown, because a failed close must not hide the first
 * error. A channel that already failed is skipped, since no reply would come.
 */
export function closeRemote(sftp: SFTPWrapper, handle: Buffer): Promise<Error | undefined> {
  if (!isSftpOpen(sftp)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new Error('CLOSE got no reply')), CLOSE_TIMEOUT_MS);
    sftp.close(handle, (error) => {
      clearTimeout(timer);
      resolve(error ?? undefined);
    });
  });
}

/** `fsync@openssh.com` on an open handle. */
export function fsyncRemote(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  return request(sftp, 'fsync', (resolve, reject) => {
    sftp.ext_openssh_fsync(handle, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * `statvfs@openssh.com`: bytes available to a non-root user on the file system holding `path`.
 * One SFTP request, so it costs no new session on the machine as `df` does.
 */
export function availableBytesRemote(sftp: SFTPWrapper, path: string): Promise<number> {
  return request(sftp, 'statvfs', (resolve, reject) => {
    sftp.ext_openssh_statvfs(path, (error, info: { f_bavail?: number; f_frsize?: number }) => {
      if (error) return reject(error);
      resolve(Number(info.f_bavail ?? 0) * Number(info.f_frsize ?? 0));
    });
  });
}

/** `posix-rename@openssh.com`: rename that replaces the target atomically. */
export function posixRenameRemote(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  return request(sftp, 'posix-rename', (resolve, reject) => {
    sftp.ext_openssh_rename(from, to, (error) => (error ? reject(error) : resolve()));
  });
}

/** REMOVE; a missing file is not an error. */
export function unlinkRemote(sftp: SFTPWrapper, path: string): Promise<void> {
  return request(sftp, 'REMOVE', (resolve, reject) => {
    sftp.unlink(path, (error) => {
      if (!error || sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE) return resolve();
      reject(error);
    });
  });
}

/** READ of up to `length` bytes at `offset`; returns fewer at the end of the file. */
export function readRemote(
  sftp: SFTPWrapper,
  handle: Buffer,
  offset: number,
  length: number,
): Promise<Buffer> {
  return request(sftp, 'READ', (resolve, reject) => {
    const buffer = Buffer.alloc(length);
    sftp.read(handle, buffer, 0, length, offset, (error, bytesRead) => {
      if (error && sftpStatus(error) !== SFTP_STATUS.EOF) return reject(error);
      resolve(buffer.subarray(0, bytesRead ?? 0));
    });
  });
}
