import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { RequestLog, type SimRequest } from '../src/request-log.js';
import { api } from './helpers/http.js';

const ACTION_RATE = { perSecond: 1, burst: 3 };

/** Builds a request of action `list` on app `a`, received at `receivedAt`. */
function entry(receivedAt: number, status = 200): SimRequest {
  return {
    action: 'list',
    key: 'a',
    method: 'GET',
    path: '/v1/apps/a/machines',
    status,
    receivedAt,
    rate: ACTION_RATE,
  };
}

describe('RequestLog.summary', () => {
  it('counts the most requests within one window', () => {
    const log = new RequestLog();
    for (const at of [0, 10, 20, 1_005, 1_010, 1_020, 1_030]) log.record(entry(at));
    const [summary] = log.summary(1_000);
    expect(summary?.count).toBe(7);
    expect(summary?.maxInWindow).toBe(4);
  });

  it('ends a window before its length has passed', () => {
    const log = new RequestLog();
    for (const at of [0, 500, 1_000]) log.record(entry(at));
    expect(log.summary(1_000)[0]?.maxInWindow).toBe(2);
  });

  it('groups by action and key', () => {
    const log = new RequestLog();
    log.record(entry(0));
    log.record({ ...entry(0), key: 'b' });
    log.record({ ...entry(0), action: 'get' });
    expect(log.summary().map((s) => `${s.action}:${s.key}:${s.count}`)).toEqual([
      'list:a:1',
      'list:b:1',
      'get:a:1',
    ]);
  });

  it('counts 429 responses', () => {
    const log = new RequestLog();
    for (const status of [200, 429, 429, 500]) log.record(entry(0, status));
    expect(log.summary()[0]?.throttled).toBe(2);
  });

  it('rejects a window of 0 ms', () => {
    expect(() => new RequestLog().summary(0)).toThrow(/invalid windowMs 0/);
  });
});

describe('RequestLog size', () => {
  it('drops the oldest past its size', () => {
    const log = new RequestLog(3);
    for (const at of [1, 2, 3, 4, 5]) log.record(entry(at));
    expect(log.list().map((request) => request.receivedAt)).toEqual([3, 4, 5]);
    expect(log.dropped).toBe(2);
  });

  it('forgets everything on clear', () => {
    const log = new RequestLog(3);
    for (const at of [1, 2, 3, 4]) log.record(entry(at));
    log.clear();
    expect(log.list()).toEqual([]);
    expect(log.dropped).toBe(0);
  });
});

describe('Sim.requests', () => {
  let sim: Sim;
  let machineId: string;

  beforeAll(async () => {
    sim = await startSim({ rateLimit: true });
    sim.createApp('count-app', { primaryRegion: 'nrt' });
    ({ machineId } = await sim.seedMachine('count-app', { skipLaunch: true }));
  });
  afterAll(() => sim.close());

  it('records action, key and status', async () => {
    sim.clearRequests();
    await api(sim, 'GET', `/v1/apps/count-app/machines/${machineId}`);
    await api(sim, 'GET', '/v1/apps/count-app/machines/missing-machine');
    expect(sim.requests().map((r) => `${r.method} ${r.action} ${r.key} ${r.status}`)).toEqual([
      `GET machines.get ${machineId} 200`,
      'GET machines.get missing-machine 404',
    ]);
  });

  it('records the documented rate of each route', async () => {
    sim.clearRequests();
    await api(sim, 'GET', `/v1/apps/count-app/machines/${machineId}`);
    await api(sim, 'GET', '/v1/apps/count-app/machines');
    expect(sim.requests().map((r) => [r.action, r.rate])).toEqual([
      ['machines.get', { perSecond: 5, burst: 10 }],
      ['machines.list', { perSecond: 1, burst: 3 }],
    ]);
  });

  it('counts the 429s of a burst', async () => {
    sim.clearRequests();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      statuses.push((await api(sim, 'GET', '/v1/apps/count-app/volumes')).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const summary = sim.requestSummary().find((s) => s.action === 'volumes.list');
    expect(summary).toMatchObject({ key: 'count-app', count: 5, maxInWindow: 5, throttled: 2 });
  });

  it('records a reset connection as status 0', async () => {
    sim.clearRequests();
    sim.injectFault({ path: '/v1/apps/:app/machines/:id', reset: true });
    await expect(api(sim, 'GET', `/v1/apps/count-app/machines/${machineId}`)).rejects.toThrow();
    expect(sim.requests().map((r) => r.status)).toEqual([0]);
  });

  it('records a rejected token as 401', async () => {
    sim.clearRequests();
    const answer = await api(sim, 'GET', '/v1/apps/count-app/machines', {
      headers: { authorization: 'Bearer not-the-sim-token' },
    });
    expect(answer.status).toBe(401);
    expect(sim.requests().map((r) => r.status)).toEqual([401]);
  });
});
