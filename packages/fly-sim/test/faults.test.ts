import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';
import { connect, execOver, openSftp, shellJoin, testKey } from './helpers/ssh.js';

const key = testKey();
let sim: Sim;
let machineId: string;
let privateIp: string;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [key.publicLine] });
  sim.createApp('fault-app', { primaryRegion: 'nrt' });
  ({ machineId, privateIp } = await sim.seedMachine('fault-app', {
    init: { exec: ['sleep', 'inf'] },
  }));
});
afterAll(() => sim.close());

describe('injectFault', () => {
  it('answers the injected status and body for a route pattern', async () => {
    sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines/:id',
      status: 503,
      body: { error: 'injected outage' },
    });
    const answer = await api<{ error: string }>(
      sim,
      'GET',
      `/v1/apps/fault-app/machines/${machineId}`,
    );
    expect(answer.status).toBe(503);
    expect(answer.body.error).toBe('injected outage');
  });

  it('applies only the given number of times', async () => {
    const fault = sim.injectFault({ path: /\/machines$/, status: 500, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await api(sim, 'GET', '/v1/apps/fault-app/machines')).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(fault.hits).toBe(2);
  });

  it('leaves other routes alone', async () => {
    sim.injectFault({ path: '/v1/apps/:app/volumes', status: 500 });
    expect((await api(sim, 'GET', `/v1/apps/fault-app/machines/${machineId}`)).status).toBe(200);
    expect((await api(sim, 'GET', '/v1/apps/fault-app/volumes')).status).toBe(500);
  });

  it('delays before the real answer', async () => {
    sim.injectFault({ path: '/v1/platform/regions', delayMs: 150 });
    const started = Date.now();
    const answer = await api(sim, 'GET', '/v1/platform/regions');
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('resets the connection', async () => {
    sim.injectFault({ method: 'POST', path: '/v1/apps/:app/machines/:id/stop', reset: true });
    await expect(
      api(sim, 'POST', `/v1/apps/fault-app/machines/${machineId}/stop`, { body: {} }),
    ).rejects.toThrow(/fetch failed/);
    const machine = await api<{ state: string }>(
      sim,
      'GET',
      `/v1/apps/fault-app/machines/${machineId}`,
    );
    expect(machine.body.state).toBe('started');
  });

  it('rejects a fault that does nothing', () => {
    expect(() => sim.injectFault({ path: '/v1/apps' })).toThrow(/status, reset or delayMs/);
  });
});

describe('dropSshAfterBytes', () => {
  it('cuts the connection after the byte count', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const drop = sim.dropSshAfterBytes(machineId, 64 * 1024);
    const sftp = await openSftp(client);
    // ssh2 never calls back a writeFile whose connection is cut, so only the close is awaited.
    sftp.writeFile('/app/data/cut.bin', Buffer.alloc(1024 * 1024, 1), () => {});
    await closed;
    const written = statSync(join(sim.machine(machineId).volumeDir ?? '', 'cut.bin')).size;
    expect(written).toBeLessThan(1024 * 1024);
    expect(drop.cuts).toBe(1);
  });

  it('lets the next connection through after one drop', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const sftp = await openSftp(client);
      const error = await new Promise<Error | undefined>((resolve) =>
        sftp.writeFile('/app/data/big.bin', Buffer.alloc(1024 * 1024, 1), (e) =>
          resolve(e ?? undefined),
        ),
      );
      expect(error).toBeUndefined();
    } finally {
      client.end();
    }
  });

  it('keeps only the cuts left after a restart', async () => {
    const drop = sim.dropSshAfterBytes(machineId, 64 * 1024, { times: 2 });
    const first = await connect(privateIp, sim.sshPort, key.privateKey);
    const closed = new Promise<void>((resolve) => first.on('close', () => resolve()));
    (await openSftp(first)).writeFile('/app/data/cut-1.bin', Buffer.alloc(1024 * 1024), () => {});
    await closed;
    const restarted = await api(sim, 'POST', `/v1/apps/fault-app/machines/${machineId}/restart`, {
      body: {},
    });
    const second = await connectAfterRestart();
    const secondClosed = new Promise<void>((resolve) => second.on('close', () => resolve()));
    (await openSftp(second)).writeFile('/app/data/cut-2.bin', Buffer.alloc(1024 * 1024), () => {});
    await secondClosed;
    const third = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const error = await new Promise<Error | undefined>((resolve) =>
        openSftp(third).then((sftp) =>
          sftp.writeFile('/app/data/whole.bin', Buffer.alloc(1024 * 1024, 1), (e) =>
            resolve(e ?? undefined),
          ),
        ),
      );
      expect(restarted.status).toBe(200);
      expect(error).toBeUndefined();
      expect(drop.cuts).toBe(2);
    } finally {
      third.end();
    }
  });
});

/** Connects once the restarted machine's SSH server listens again (at most 5 s). */
async function connectAfterRestart(): Promise<Awaited<ReturnType<typeof connect>>> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await connect(privateIp, sim.sshPort, key.privateKey);
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('hostDown', () => {
  it('marks the machine unreachable and fails lifecycle calls', async () => {
    await sim.hostDown(machineId);
    const machine = await api<{ host_status: string }>(
      sim,
      'GET',
      `/v1/apps/fault-app/machines/${machineId}`,
    );
    expect(machine.body.host_status).toBe('unreachable');
    const stop = await api(sim, 'POST', `/v1/apps/fault-app/machines/${machineId}/stop`, {
      body: {},
    });
    expect(stop.status).toBe(503);
  });

  it('leaves SSH connections unanswered', async () => {
    await expect(connect(privateIp, sim.sshPort, key.privateKey, 300)).rejects.toThrow(/Timed out/);
  });

  it('answers SSH again after hostUp', async () => {
    await sim.hostUp(machineId);
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      expect((await execOver(client, shellJoin(['sync']))).code).toBe(0);
    } finally {
      client.end();
    }
  });
});

describe('wait', () => {
  it('answers 408 when the state is not reached in time', async () => {
    const answer = await api<{ error: string }>(
      sim,
      'GET',
      `/v1/apps/fault-app/machines/${machineId}/wait?state=stopped&timeout=1`,
    );
    expect(answer.status).toBe(408);
    expect(answer.body.error).toMatch(/deadline_exceeded/);
  });

  it('rejects an unknown state', async () => {
    const answer = await api(
      sim,
      'GET',
      `/v1/apps/fault-app/machines/${machineId}/wait?state=running`,
    );
    expect(answer.status).toBe(400);
  });
});

describe('rate limiting and not-found window', () => {
  it('answers 429 past the burst', async () => {
    const limited = await startSim({ rateLimit: { perSecond: 1, burst: 2 } });
    try {
      limited.createApp('rate-app');
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await api(limited, 'GET', '/v1/apps/rate-app/machines')).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  it('hides a new machine for the window', async () => {
    const hidden = await startSim({ notFoundAfterCreateMs: 200 });
    try {
      hidden.createApp('late-app');
      const created = await api<{ id: string }>(hidden, 'POST', '/v1/apps/late-app/machines', {
        body: { skip_launch: true, config: { image: 'registry.fly.io/late-app:1' } },
      });
      expect(
        (await api(hidden, 'GET', `/v1/apps/late-app/machines/${created.body.id}`)).status,
      ).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(
        (await api(hidden, 'GET', `/v1/apps/late-app/machines/${created.body.id}`)).status,
      ).toBe(200);
    } finally {
      await hidden.close();
    }
  });
});
