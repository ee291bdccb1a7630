import { TransportError } from '@flydr/fly-client/transport';
import { describe, expect, it } from 'vitest';
import { transferError } from '../src/remote-database.js';

const MACHINE = '148ed193b95089';
const PATH = '/data/app.db';

describe('transferError', () => {
  it('points a dropped connection at the network', () => {
    const cause = new TransportError('TRANSPORT_CONNECTION_LOST', 'connection lost', {
      machineId: MACHINE,
    });
    const error = transferError(cause, 'download', MACHINE, PATH);
    expect(error.code).toBe('DR_TRANSFER_FAILED');
    expect(error.hint).toContain('Check the connection');
  });

  it('keeps a stopped transfer off the network', () => {
    const cause = new TransportError('TRANSPORT_ABORTED', 'transfer aborted by the caller', {
      machineId: MACHINE,
    });
    const error = transferError(cause, 'download', MACHINE, PATH);
    expect(error.code).toBe('DR_TRANSFER_FAILED');
    expect(error.hint).toContain('stopped on request');
    expect(error.hint).not.toContain('Check the connection');
  });
});
