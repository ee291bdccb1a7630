import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { isSftpOpen } from '../../src/transport/sftp-calls.js';

/** Builds an SFTP channel with the channel states that ssh2 keeps. */
function channel(outgoing: string, incoming: string): SFTPWrapper {
  return { outgoing: { state: outgoing }, incoming: { state: incoming } } as unknown as SFTPWrapper;
}

describe('isSftpOpen', () => {
  it('is true for an open channel', () => {
    expect(isSftpOpen(channel('open', 'open'))).toBe(true);
  });

  it('is false after the connection dropped', () => {
    // ssh2 closes only the incoming side of an SFTP channel when its connection drops.
    expect(isSftpOpen(channel('open', 'closed'))).toBe(false);
  });

  it('is false for a channel being closed', () => {
    expect(isSftpOpen(channel('closing', 'open'))).toBe(false);
  });
});
