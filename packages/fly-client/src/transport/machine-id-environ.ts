import type { SFTPWrapper } from 'ssh2';

import { closeRemote, openRemote, readRemote } from './sftp-calls.js';

/** Path whose content is the environment of the process serving SFTP, as `KEY=value\0` entries. */
export const ENVIRON_PATH = '/proc/self/environ';

/** Bytes requested by one READ of the environment. */
const ENVIRON_READ_BYTES = 16 * 1024;

/** Maximum bytes of the environment read before giving up. A session environment is usually a few KiB. */
const ENVIRON_MAX_BYTES = 64 * 1024;

const NAME = Buffer.from('FLY_MACHINE_ID=');

/**
 * Reads FLY_MACHINE_ID from `/proc/self/environ` over SFTP, without starting a process on the
 * machine. The SFTP server of an OpenSSH session inherits the session environment, so it carries
 * FLY_MACHINE_ID where `printenv` in an exec session would see it.
 *
 * Returns the value of the first FLY_MACHINE_ID entry, or undefined when the file cannot be
 * read, has no such entry with a value, or is larger than 64 KiB before the entry appears.
 * Reading stops at the first complete entry, since procfs reports the file size as 0.
 *
 * NOTE: only OpenSSH's sftp-server and fly-sim are tested here. Whether the SSH server that
 * Fly runs in its machines (not OpenSSH) serves this file with FLY_MACHINE_ID is not verified,
 * so callers fall back to `printenv FLY_MACHINE_ID` over exec when this returns undefined.
 */
export async function readEnvironMachineId(sftp: SFTPWrapper): Promise<string | undefined> {
  let handle: Buffer;
  try {
    handle = await openRemote(sftp, ENVIRON_PATH, 'r');
  } catch {
    return undefined;
  }

  try {
    let content = Buffer.alloc(0);
    while (content.length < ENVIRON_MAX_BYTES) {
      const length = Math.min(ENVIRON_READ_BYTES, ENVIRON_MAX_BYTES - content.length);
      const part = await readRemote(sftp, handle, content.length, length);
      if (part.length > 0) content = Buffer.concat([content, part]);

      const found = findMachineId(content);
      if (found !== undefined || part.length === 0) return found || undefined;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    // The reply is not awaited, because waiting would delay the first byte of the transfer by
    // one round trip. A lost CLOSE leaves one handle open on the session at worst.
    void closeRemote(sftp, handle);
  }
}

/**
 * Returns the value of the first complete FLY_MACHINE_ID entry in NUL-separated `content`
 * (possibly the empty string), or undefined when no complete entry is there yet.
 */
export function findMachineId(content: Buffer): string | undefined {
  let start = 0;
  while (start < content.length) {
    const end = content.indexOf(0, start);
    // An entry without its closing NUL may be cut off by the read, so it does not count.
    if (end === -1) return undefined;

    const entry = content.subarray(start, end);
    if (entry.subarray(0, NAME.length).equals(NAME)) {
      return entry.subarray(NAME.length).toString('utf8');
    }
    start = end + 1;
  }
  return undefined;
}
