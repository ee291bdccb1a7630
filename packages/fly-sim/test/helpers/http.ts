import type { Sim } from '../../src/index.js';

/** A parsed response of the simulated API. */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** Sends one request to the sim over real HTTP with its token. */
export async function api<T = unknown>(
  sim: Sim,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const response = await fetch(`${sim.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sim.token}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const body = (text === '' ? undefined : JSON.parse(text)) as T;
  return { status: response.status, body, headers: response.headers };
}

/** Polls a condition every 10 ms until it is true or `timeoutMs` passes. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
