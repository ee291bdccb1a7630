import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from '@mswjs/http-middleware';
import { Agent } from 'undici';
// fly-sim depends on fly-client, so the client's tests reach the bridge by path instead of
// adding a dependency cycle between the two packages.
import { createMswDispatcher } from '../../../fly-sim/src/msw-dispatcher.js';
import {
  createFlyClient,
  type FlyClient,
  type FlyClientOptions,
  type FlyLogger,
} from '../../src/index.js';
import { FakeFly } from './fake-fly.js';

/** A macaroon token in the shape `fly tokens create` prints. */
export const MACAROON_TOKEN =
  'FlyV1 fm2_lJPECAAAAAAAAMw1xBDcEfTestMacaroonSecretQ8rW1lZpXk3T,fm2_lJPETh1rdPartyDischargeSecretZ9yX';

/** An OAuth-style token (sent as Bearer). */
export const OAUTH_TOKEN = 'fo1_oauthSecretTokenValue7Gq2Lm9Xz';

/** Retry bounds small enough that tests never wait long. */
export const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 20, maxElapsedMs: 2_000 };

/** Creates a logger that keeps every line, for redaction and retry checks. */
export function recordingLogger(): FlyLogger & {
  lines: { level: string; message: string; fields: unknown }[];
} {
  const lines: { level: string; message: string; fields: unknown }[] = [];
  const keep = (level: string) => (message: string, fields?: unknown) => {
    lines.push({ level, message, fields });
  };
  return {
    lines,
    debug: keep('debug'),
    info: keep('info'),
    warn: keep('warn'),
    error: keep('error'),
  };
}

export interface Harness {
  fly: FakeFly;
  client: FlyClient;
  close(): Promise<void>;
}

type ClientOverrides = Partial<FlyClientOptions>;

/** Creates a client served in-process by the fake's msw handlers, with no socket. */
export function memoryHarness(overrides: ClientOverrides = {}, fly = new FakeFly()): Harness {
  const dispatcher = createMswDispatcher(() => fly.handlers);
  const client = createFlyClient({
    token: MACAROON_TOKEN,
    baseUrl: 'http://127.0.0.1:4280',
    graphqlUrl: 'http://127.0.0.1:4280/graphql',
    dispatcher,
    retry: FAST_RETRY,
    rateLimit: false,
    ...overrides,
  });
  return { fly, client, close: () => dispatcher.close() };
}

/** Serves the same handlers over real HTTP on 127.0.0.1 and connects a keep-alive undici Agent. */
export async function httpHarness(
  overrides: ClientOverrides = {},
  fly = new FakeFly(),
): Promise<Harness & { connections: () => number; origin: string }> {
  // The middleware's CommonJS typings name msw's CommonJS handler type; the objects are the same.
  const app = createServer(...(fly.handlers as unknown as Parameters<typeof createServer>));
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: 4, keepAliveTimeout: 10_000 });
  const client = createFlyClient({
    token: MACAROON_TOKEN,
    baseUrl: origin,
    graphqlUrl: `${origin}/graphql`,
    dispatcher: agent,
    retry: FAST_RETRY,
    rateLimit: false,
    ...overrides,
  });
  return {
    fly,
    client,
    origin,
    connections: () => connections,
    close: async () => {
      await agent.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
