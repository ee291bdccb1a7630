import { delay, HttpResponse, http } from 'msw';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createMswDispatcher } from '../../fly-sim/src/msw-dispatcher.js';

const handlers = [
  http.get('*/v1/echo/:name', ({ request: incoming, params }) =>
    HttpResponse.json(
      {
        name: params.name,
        query: new URL(incoming.url).searchParams.get('q'),
        auth: incoming.headers.get('authorization'),
      },
      { headers: { 'fly-request-id': 'req-1' } },
    ),
  ),
  http.post('*/v1/echo', async ({ request: incoming }) =>
    HttpResponse.json({ got: await incoming.json() }, { status: 201 }),
  ),
  http.get('*/v1/broken', () => {
    throw new TypeError('socket hang up');
  }),
  http.get('*/v1/reset', () => HttpResponse.error()),
  http.get('*/v1/slow', async () => {
    await delay(5_000);
    return HttpResponse.json({ late: true });
  }),
];

describe('createMswDispatcher', () => {
  it('answers GET from a handler with headers', async () => {
    const dispatcher = createMswDispatcher(handlers);
    const response = await request('http://127.0.0.1:4280/v1/echo/web?q=1', {
      dispatcher,
      headers: { authorization: 'Bearer x' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['fly-request-id']).toBe('req-1');
    expect(await response.body.json()).toEqual({ name: 'web', query: '1', auth: 'Bearer x' });
  });

  it('passes a JSON POST body through', async () => {
    const dispatcher = createMswDispatcher(() => handlers);
    const response = await request('http://127.0.0.1:4280/v1/echo', {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(response.statusCode).toBe(201);
    expect(await response.body.json()).toEqual({ got: { a: 1 } });
  });

  it('answers 501 naming an unhandled request', async () => {
    const dispatcher = createMswDispatcher(handlers);
    const response = await request('http://127.0.0.1:4280/v1/nothing', {
      dispatcher,
      method: 'DELETE',
    });
    expect(response.statusCode).toBe(501);
    expect(await response.body.json()).toEqual({ error: 'no msw handler for DELETE /v1/nothing' });
  });

  it('fails the request when a handler throws', async () => {
    const dispatcher = createMswDispatcher(handlers);
    await expect(request('http://127.0.0.1:4280/v1/broken', { dispatcher })).rejects.toThrow(
      'socket hang up',
    );
  });

  it('fails as a reset connection on Response.error', async () => {
    const dispatcher = createMswDispatcher(handlers);
    await expect(request('http://127.0.0.1:4280/v1/reset', { dispatcher })).rejects.toMatchObject({
      code: 'ECONNRESET',
      message: expect.stringContaining('connection reset by msw handler for GET'),
    });
  });

  it('rejects at once when the signal aborts', async () => {
    const dispatcher = createMswDispatcher(handlers);
    const controller = new AbortController();
    const started = Date.now();
    const pending = request('http://127.0.0.1:4280/v1/slow', {
      dispatcher,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('stop now')), 20);
    await expect(pending).rejects.toThrow('stop now');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('serves fetch through the dispatcher too', async () => {
    const { fetch } = await import('undici');
    const dispatcher = createMswDispatcher(handlers);
    const response = await fetch('http://127.0.0.1:4280/v1/echo/api', { dispatcher });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { name: string }).name).toBe('api');
  });

  it('refuses requests after close', async () => {
    const dispatcher = createMswDispatcher(handlers);
    await dispatcher.close();
    await expect(request('http://127.0.0.1:4280/v1/echo/x', { dispatcher })).rejects.toThrow(
      'closed',
    );
  });
});
