import { Server } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { startSim } from '../src/index.js';
import { api, eventually } from './helpers/http.js';
import { connect, execOver, shellJoin, testKey } from './helpers/ssh.js';

/** Counts active handles and requests by type, e.g. { TCPServerWrap: 1, Timeout: 2 }. */
function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function isLoopback(host: unknown): boolean {
  return typeof host === 'string' && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

describe('sim.close', () => {
  it('leaves no handle open and listened only on loopback', async () => {
    const listen = vi.spyOn(Server.prototype, 'listen');
    const before = resourceCounts();
    const key = testKey();

    const sim = await startSim({ authorizedKeys: [key.publicLine], writeIntervalMs: 5 });
    sim.createApp('close-app', { primaryRegion: 'nrt' });
    const first = await sim.seedMachine('close-app');
    await sim.seedMachine('close-app', { region: 'sin', init: { exec: ['sleep', 'inf'] } });
    await eventually(() => sim.appWriter(first.machineId).committedIds().length > 3);
    expect((await fetch(`${await sim.publicUrl('close-app')}/health`)).status).toBe(200);
    const client = await connect(first.privateIp, sim.sshPort, key.privateKey);
    expect((await execOver(client, shellJoin(['sync']))).code).toBe(0);
    const pendingWait = api(
      sim,
      'GET',
      `/v1/apps/close-app/machines/${first.machineId}/wait?state=stopped&timeout=60`,
    );
    sim.injectFault({ path: '/v1/platform/regions', delayMs: 60_000 });
    const pendingDelay = fetch(`${sim.apiUrl}/v1/platform/regions`).catch(
      (error: unknown) => error,
    );

    await sim.close();
    client.end();
    await pendingWait.catch(() => undefined);
    await pendingDelay;

    const hosts = listen.mock.calls.map((args) => args[1]);
    listen.mockRestore();
    expect(hosts.length).toBeGreaterThanOrEqual(6);
    expect(hosts.filter((host) => !isLoopback(host))).toEqual([]);

    // Every kind of handle is back to at most its count before the sim started.
    const leftOver = () =>
      Object.entries(resourceCounts()).filter(([type, count]) => count > (before[type] ?? 0));
    await eventually(() => leftOver().length === 0, 3_000).catch(() => undefined);
    expect(leftOver()).toEqual([]);
  });

  it('stops the app writer', async () => {
    const sim = await startSim({ writeIntervalMs: 5 });
    sim.createApp('writer-app');
    const { machineId } = await sim.seedMachine('writer-app');
    const writer = sim.appWriter(machineId);
    await eventually(() => writer.committedIds().length > 0);
    await sim.close();
    const count = writer.committedIds().length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writer.committedIds().length).toBe(count);
    expect(writer.running()).toBe(false);
  });
});
