import { TransportError } from '@flydr/fly-client/transport';
import { describe, expect, it } from 'vitest';
import { DrError } from '../src/errors.js';
import type { Machine, MachineTransport } from '../src/fly-types.js';
import { silentLogger } from '../src/logger.js';
import { isDroppedConnection, reconnectTransports } from '../src/transport-reconnect.js';

const machine = { id: 'm1', state: 'started' } as Machine;

/** Builds the error the SSH transport raises when the connection drops midway. */
function lost(): TransportError {
  return new TransportError('TRANSPORT_CONNECTION_LOST', 'SSH connection to machine m1 lost', {
    machineId: 'm1',
  });
}

/** Builds the error of a handshake that the peer cut. */
function handshakeCut(): TransportError {
  return new TransportError('TRANSPORT_CONNECT_FAILED', 'SSH connection failed', {
    machineId: 'm1',
    cause: new Error('connection closed by the peer during the SSH handshake'),
  });
}

/**
 * Builds a transport over an in-memory set of file names. `failures` lists, per call name, how
 * the next calls end: 'before' drops before acting, 'after' acts and then drops.
 */
function fakeTransport(files: Set<string>, failures: Record<string, ('before' | 'after')[]>) {
  const calls: string[] = [];
  const drop = (name: string): 'before' | 'after' | undefined => failures[name]?.shift();
  const transport = {
    kind: 'ssh',
    machineId: 'm1',
    stat: async (path: string) => {
      calls.push(`stat ${path}`);
      if (drop('stat') !== undefined) throw lost();
      return files.has(path) ? { size: 1, mtimeMs: 0, mode: 0o600 } : undefined;
    },
    rename: async (from: string, to: string) => {
      calls.push(`rename ${from}`);
      const when = drop('rename');
      if (when === 'before') throw lost();
      if (!files.delete(from)) throw new Error(`no such file ${from}`);
      files.add(to);
      if (when === 'after') throw lost();
    },
    remove: async (path: string) => {
      calls.push(`remove ${path}`);
      const when = drop('remove');
      if (when === 'before') throw lost();
      files.delete(path);
      if (when === 'after') throw lost();
    },
    close: async () => {},
  } as unknown as MachineTransport;
  return { transport, calls };
}

describe('isDroppedConnection', () => {
  it('accepts a lost connection', () => {
    expect(isDroppedConnection(lost())).toBe(true);
  });

  it('accepts a cut handshake', () => {
    expect(isDroppedConnection(handshakeCut())).toBe(true);
  });

  it('rejects a handshake timeout', () => {
    const cause = Object.assign(new Error('handshake timed out'), { level: 'client-timeout' });
    const error = new TransportError('TRANSPORT_CONNECT_FAILED', 'SSH connection failed', {
      cause,
    });
    expect(isDroppedConnection(error)).toBe(false);
  });

  it('rejects a missing remote file', () => {
    const error = new TransportError('TRANSPORT_REMOTE_NOT_FOUND', 'not found');
    expect(isDroppedConnection(error)).toBe(false);
  });

  it('rejects a DrError', () => {
    expect(isDroppedConnection(new DrError('DR_TRANSFER_FAILED', 'timed out', 'retry'))).toBe(
      false,
    );
  });
});

describe('reconnectTransports', () => {
  it('connects again after a cut handshake', async () => {
    const { transport } = fakeTransport(new Set(), {});
    let connects = 0;
    const factory = reconnectTransports(
      async () => {
        connects += 1;
        if (connects === 1) throw handshakeCut();
        return transport;
      },
      silentLogger,
      { pauseMs: 1 },
    );

    await factory(machine);

    expect(connects).toBe(2);
  });

  it('stops after maxTries connects', async () => {
    let connects = 0;
    const factory = reconnectTransports(
      async () => {
        connects += 1;
        throw handshakeCut();
      },
      silentLogger,
      { pauseMs: 1, maxTries: 3 },
    );

    await expect(factory(machine)).rejects.toThrow('SSH connection failed');
    expect(connects).toBe(3);
  });

  it('sends a rename again when it did not happen', async () => {
    const files = new Set(['/data/a']);
    const fake = fakeTransport(files, { rename: ['before'] });
    const wrapped = await reconnectTransports(async () => fake.transport, silentLogger, {
      pauseMs: 1,
    })(machine);

    await wrapped.rename('/data/a', '/data/b');

    expect([...files]).toEqual(['/data/b']);
    expect(fake.calls.filter((call) => call.startsWith('rename'))).toHaveLength(2);
  });

  it('counts a rename done when it happened before the drop', async () => {
    const files = new Set(['/data/a']);
    const fake = fakeTransport(files, { rename: ['after'] });
    const wrapped = await reconnectTransports(async () => fake.transport, silentLogger, {
      pauseMs: 1,
    })(machine);

    await wrapped.rename('/data/a', '/data/b');

    expect([...files]).toEqual(['/data/b']);
    expect(fake.calls.filter((call) => call.startsWith('rename'))).toHaveLength(1);
  });

  it('counts a remove done when the file is gone', async () => {
    const files = new Set(['/data/a']);
    const fake = fakeTransport(files, { remove: ['after'] });
    const wrapped = await reconnectTransports(async () => fake.transport, silentLogger, {
      pauseMs: 1,
    })(machine);

    await wrapped.remove('/data/a');

    expect(files.size).toBe(0);
    expect(fake.calls.filter((call) => call.startsWith('remove'))).toHaveLength(1);
  });

  it('sends a stat again after a drop', async () => {
    const fake = fakeTransport(new Set(['/data/a']), { stat: ['before'] });
    const wrapped = await reconnectTransports(async () => fake.transport, silentLogger, {
      pauseMs: 1,
    })(machine);

    const info = await wrapped.stat('/data/a');

    expect(info?.size).toBe(1);
    expect(fake.calls).toEqual(['stat /data/a', 'stat /data/a']);
  });
});
