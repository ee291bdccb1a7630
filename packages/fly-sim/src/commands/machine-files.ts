import { posix, resolve as resolveHost, sep } from 'node:path';

/** Error for a machine path that cannot be used, with an errno-style code. */
export class MachineFileError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EROFS' | 'EBUSY' | 'ENOSPC',
    readonly guestPath: string,
    message: string,
  ) {
    super(message);
    this.name = 'MachineFileError';
  }
}

/** Called before a command or SFTP request changes a file on the machine. */
export type WriteObserver = (guestPath: string, operation: string) => void;

/** Size and use of the machine's volume, in bytes. */
export interface VolumeUsage {
  capacityBytes: number;
  usedBytes: number;
}

/**
 * The files of a simulated machine: only its volume, at the mount path, backed by a local
 * folder. The mount's ancestors (e.g. `/` and `/app`) exist as read-only directories;
 * every other path is missing.
 */
export class MachineFiles {
  constructor(
    /** Mount path of the volume, e.g. /app/data, or undefined for a machine without a volume. */
    readonly mountPath: string | undefined,
    /** Local folder of the volume. */
    readonly volumeDir: string | undefined,
    private readonly observeWrite: WriteObserver,
    /** Reads the volume's size and use now. */
    readonly usage: () => VolumeUsage = () => ({ capacityBytes: 0, usedBytes: 0 }),
  ) {}

  /**
   * Checks that growing the volume's data by `growthBytes` fits.
   *
   * @throws MachineFileError ENOSPC naming the path when it does not.
   */
  requireSpace(guestPath: string, growthBytes: number): void {
    if (growthBytes <= 0) return;
    const { capacityBytes, usedBytes } = this.usage();
    if (usedBytes + growthBytes > capacityBytes) {
      throw new MachineFileError('ENOSPC', guestPath, `${guestPath}: No space left on device`);
    }
  }

  /** Normalizes a machine path; relative paths resolve against `cwd`. */
  normalize(path: string, cwd = '/'): string {
    return posix.resolve(cwd, path);
  }

  /** Checks whether the normalized path is the mount or inside it. */
  isInVolume(guestPath: string): boolean {
    const mount = this.mountPath;
    if (mount === undefined) return false;
    return guestPath === mount || guestPath.startsWith(`${mount}/`);
  }

  /** Checks whether the normalized path is a directory above the mount, such as `/` or `/app`. */
  isAboveMount(guestPath: string): boolean {
    const mount = this.mountPath;
    if (mount === undefined) return guestPath === '/';
    return guestPath === '/' || mount.startsWith(`${guestPath}/`);
  }

  /**
   * Maps a machine path inside the volume to its local path.
   *
   * @throws MachineFileError ENOENT for a path outside the volume.
   */
  hostPath(path: string, cwd = '/'): string {
    const guestPath = this.normalize(path, cwd);
    const mount = this.mountPath;
    const dir = this.volumeDir;
    if (mount === undefined || dir === undefined || !this.isInVolume(guestPath)) {
      throw new MachineFileError(
        'ENOENT',
        guestPath,
        `${guestPath}: No such file or directory (the simulated machine has only its volume${mount === undefined ? '' : ` at ${mount}`})`,
      );
    }
    const host = resolveHost(dir, `.${guestPath.slice(mount.length)}`);
    if (host !== dir && !host.startsWith(`${dir}${sep}`)) {
      throw new MachineFileError('ENOENT', guestPath, `${guestPath}: No such file or directory`);
    }
    return host;
  }

  /**
   * Maps a path that is about to be changed, after telling the write observer.
   *
   * @throws MachineFileError EROFS for a directory above the mount, EBUSY for the mount
   *   itself, ENOENT elsewhere outside the volume.
   */
  writablePath(path: string, operation: string, cwd = '/'): string {
    const guestPath = this.normalize(path, cwd);
    if (this.isAboveMount(guestPath)) {
      throw new MachineFileError('EROFS', guestPath, `${guestPath}: Read-only file system`);
    }
    if (guestPath === this.mountPath) {
      throw new MachineFileError('EBUSY', guestPath, `${guestPath}: Device or resource busy`);
    }
    const host = this.hostPath(guestPath);
    this.observeWrite(guestPath, operation);
    return host;
  }
}
