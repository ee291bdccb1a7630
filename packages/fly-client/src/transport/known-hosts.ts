import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

import { TransportError } from './errors.js';

/** A pinned host key: the SSH key type and the public key blob. */
export interface PinnedHostKey {
  keyType: string;
  key: Buffer;
}

/**
 * Storage of pinned host keys, one per machine id. {@link FileHostKeyStore} is the default;
 * a caller may keep pins elsewhere (a catalog database) by implementing this.
 */
export interface HostKeyStore {
  get(machineId: string): Promise<PinnedHostKey | undefined>;
  set(machineId: string, pin: PinnedHostKey): Promise<void>;
}

/** Returns the OpenSSH-style fingerprint of a public key blob, e.g. `SHA256:n4b...`. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Returns the key type named at the start of an SSH public key blob. */
export function hostKeyType(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}

/**
 * Host keys pinned in a text file, one line per machine: `<machine id> <key type> <base64 key>`.
 * Writes go to a temporary file that is renamed over the old one (mode 0600), and writes
 * from one process are serialized, so a crash never leaves a half-written file.
 * NOTE: two processes writing the same file at once can lose one of the new pins; the next
 * connection to that machine pins it again.
 */
export class FileHostKeyStore implements HostKeyStore {
  readonly path: string;
  #writes: Promise<void> = Promise.resolve();

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') {
      throw new TransportError('TRANSPORT_INVALID_INPUT', 'invalid known hosts path: empty', {
        hint: 'pass the path of a file in the state folder, e.g. ~/.local/state/flydr/APP/known_hosts',
      });
    }
    this.path = path;
  }

  async get(machineId: string): Promise<PinnedHostKey | undefined> {
    const pins = await this.#read();
    return pins.get(machineId);
  }

  async set(machineId: string, pin: PinnedHostKey): Promise<void> {
    const write = this.#writes.then(async () => {
      const pins = await this.#read();
      pins.set(machineId, pin);
      await this.#write(pins);
    });
    this.#writes = write.catch(() => undefined);
    await write;
  }

  async #read(): Promise<Map<string, PinnedHostKey>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }

    const pins = new Map<string, PinnedHostKey>();
    for (const line of text.split('\n')) {
      const [machineId, keyType, base64] = line.trim().split(/\s+/);
      if (!machineId || !keyType || !base64 || machineId.startsWith('#')) continue;
      pins.set(machineId, { keyType, key: Buffer.from(base64, 'base64') });
    }
    return pins;
  }

  async #write(pins: Map<string, PinnedHostKey>): Promise<void> {
    const lines = [...pins].map(
      ([machineId, pin]) => `${machineId} ${pin.keyType} ${pin.key.toString('base64')}\n`,
    );
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });

    const temporary = `${this.path}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(lines.join(''));
      await file.sync();
    } finally {
      await file.close();
    }

    try {
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
