import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from '@mswjs/http-middleware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';

let sim: Sim;
let server: Server;
let origin: string;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('middleware-app');
  // http-middleware's types come from msw's CommonJS build, the sim's from its ESM build;
  // the handler objects are the same at run time.
  const app = createServer(...(sim.handlers as unknown as Parameters<typeof createServer>));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await sim.close();
});

describe('handlers under @mswjs/http-middleware', () => {
  it('answers a GET', async () => {
    const response = await fetch(`${origin}/v1/apps/middleware-app`, {
      headers: { authorization: `Bearer ${sim.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'middleware-app' });
  });

  it('answers a POST with a JSON body', async () => {
    const response = await fetch(`${origin}/v1/apps/middleware-app/volumes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'data', region: 'nrt', size_gb: 1 }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'data', region: 'nrt' });
  });
});
