import { Readable } from 'node:stream';
import { getResponse, type RequestHandler } from 'msw';
import { Dispatcher } from 'undici';

/** Handlers given to the dispatcher: a fixed list, or a function read on every request. */
export type MswHandlerSource = RequestHandler[] | (() => RequestHandler[]);

/**
 * Creates an undici Dispatcher that answers every request from msw handlers, with no socket.
 *
 * Each dispatched request becomes a fetch `Request` that is passed to msw's `getResponse`. The
 * handler's `Response` is then replayed through undici's dispatch callbacks, so `undici.request`
 * and `undici.fetch` see an ordinary HTTP exchange. A request that no handler matches answers
 * 501 with a JSON body `{ "error": "no msw handler for METHOD PATH" }`. An abort from the
 * request's signal ends the exchange with the abort reason at once, even while a handler is
 * still running.
 *
 * Handlers should use path patterns such as `*\/v1/apps/:app/machines`, so the same handlers
 * also work when @mswjs/http-middleware serves them on 127.0.0.1.
 *
 * @throws never from the factory itself. A handler that throws makes the request fail with
 *   that error, the way a reset connection would, because msw's `getResponse` passes handler
 *   exceptions on.
 */
export function createMswDispatcher(handlers: MswHandlerSource): Dispatcher {
  return new MswDispatcher(handlers);
}

type LegacyHandler = {
  onConnect?: (abort: (reason?: Error) => void, context?: object) => void;
  onHeaders?: (
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ) => boolean;
  onData?: (chunk: Buffer) => boolean;
  onComplete?: (trailers: Buffer[]) => void;
  onError?: (error: Error) => void;
};

/** Callbacks for one exchange, hiding whether undici passed a new-style or legacy handler. */
interface ExchangeCallbacks {
  start(abort: (reason?: Error) => void): void;
  headers(status: number, headers: Headers, statusText: string): void;
  data(chunk: Buffer): void;
  end(): void;
  error(error: Error): void;
}

class MswDispatcher extends Dispatcher {
  readonly #handlers: MswHandlerSource;
  #closed = false;

  constructor(handlers: MswHandlerSource) {
    super();
    this.#handlers = handlers;
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    const callbacks = toCallbacks(handler);
    if (this.#closed) {
      callbacks.error(new Error('msw dispatcher is closed; create a new one'));
      return false;
    }
    void this.#exchange(options, callbacks);
    return true;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true;
    if (callback) {
      queueMicrotask(callback);
      return undefined;
    }
    return Promise.resolve();
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(
    first?: Error | null | (() => void),
    second?: () => void,
  ): Promise<void> | undefined {
    this.#closed = true;
    const callback = typeof first === 'function' ? first : second;
    if (callback) {
      queueMicrotask(callback);
      return undefined;
    }
    return Promise.resolve();
  }

  async #exchange(options: Dispatcher.DispatchOptions, callbacks: ExchangeCallbacks) {
    let aborted = false;
    let abortListener: ((reason: Error) => void) | undefined;
    const abortPromise = new Promise<never>((_resolve, reject) => {
      abortListener = reject;
    });
    abortPromise.catch(() => undefined);

    callbacks.start((reason) => {
      if (aborted) return;
      aborted = true;
      abortListener?.(reason ?? new Error('request aborted'));
    });

    try {
      const request = await buildRequest(options);
      const handlers = typeof this.#handlers === 'function' ? this.#handlers() : this.#handlers;
      const response = await Promise.race([
        getResponse(handlers, request).then((found) => found ?? unhandled(request)),
        abortPromise,
      ]);
      // A handler's `Response.error()` stands for a network failure: fail the request as a
      // reset connection does, with the error code undici gives one.
      if (response.type === 'error') {
        throw Object.assign(
          new Error(`connection reset by msw handler for ${request.method} ${request.url}`),
          {
            code: 'ECONNRESET',
          },
        );
      }
      const body = Buffer.from(await Promise.race([response.arrayBuffer(), abortPromise]));
      if (aborted) return;

      callbacks.headers(response.status, response.headers, response.statusText);
      if (body.length > 0 && options.method !== 'HEAD') callbacks.data(body);
      callbacks.end();
    } catch (error) {
      callbacks.error(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function unhandled(request: Request): Response {
  const path = new URL(request.url).pathname;
  return Response.json({ error: `no msw handler for ${request.method} ${path}` }, { status: 501 });
}

async function buildRequest(options: Dispatcher.DispatchOptions): Promise<Request> {
  const origin = options.origin ?? 'http://localhost';
  const url = new URL(options.path, origin);
  if (options.query) {
    for (const [key, value] of Object.entries(options.query)) {
      url.searchParams.append(key, String(value));
    }
  }

  const method = options.method.toUpperCase();
  const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(options.body);
  return new Request(url, { method, headers: toHeaders(options.headers), body });
}

async function readBody(body: Dispatcher.DispatchOptions['body']): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof Readable || isAsyncIterable(body)) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }
  throw new TypeError('msw dispatcher supports string, Buffer and stream bodies only');
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function toHeaders(raw: Dispatcher.DispatchOptions['headers']): Headers {
  const headers = new Headers();
  if (!raw) return headers;

  if (Array.isArray(raw)) {
    // undici's flat form: [name, value, name, value, ...]
    for (let i = 0; i + 1 < raw.length; i += 2) {
      headers.append(String(raw[i]), String(raw[i + 1]));
    }
    return headers;
  }

  const entries: Iterable<[string, unknown]> =
    Symbol.iterator in raw
      ? (raw as Iterable<[string, unknown]>)
      : Object.entries(raw as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, String(item));
  }
  return headers;
}

function toCallbacks(handler: Dispatcher.DispatchHandler): ExchangeCallbacks {
  if (handler.onRequestStart) return newStyleCallbacks(handler);
  return legacyCallbacks(handler as LegacyHandler);
}

function newStyleCallbacks(handler: Dispatcher.DispatchHandler): ExchangeCallbacks {
  let controller: Dispatcher.DispatchController | undefined;
  return {
    start(abort) {
      controller = makeController(abort);
      handler.onRequestStart?.(controller, {});
    },
    headers(status, headers, statusText) {
      const record: Record<string, string> = {};
      headers.forEach((value, name) => {
        record[name] = value;
      });
      handler.onResponseStart?.(controller!, status, record, statusText);
    },
    data(chunk) {
      handler.onResponseData?.(controller!, chunk);
    },
    end() {
      handler.onResponseEnd?.(controller!, {});
    },
    error(error) {
      handler.onResponseError?.(controller ?? makeController(() => undefined), error);
    },
  };
}

function makeController(abort: (reason?: Error) => void): Dispatcher.DispatchController {
  let reason: Error | null = null;
  return {
    get aborted() {
      return reason !== null;
    },
    get paused() {
      return false;
    },
    get reason() {
      return reason;
    },
    abort(error: Error) {
      reason = error;
      abort(error);
    },
    pause() {},
    resume() {},
  };
}

function legacyCallbacks(handler: LegacyHandler): ExchangeCallbacks {
  return {
    start(abort) {
      handler.onConnect?.(abort, {});
    },
    headers(status, headers, statusText) {
      const raw: Buffer[] = [];
      headers.forEach((value, name) => {
        raw.push(Buffer.from(name), Buffer.from(value));
      });
      handler.onHeaders?.(status, raw, () => undefined, statusText);
    },
    data(chunk) {
      handler.onData?.(chunk);
    },
    end() {
      handler.onComplete?.([]);
    },
    error(error) {
      handler.onError?.(error);
    },
  };
}
