import { request as undiciRequest } from 'undici';
import type { z } from 'zod';
import { classifyFailedResponse } from './classify.js';
import { type ClientContext, LeaseRegistry } from './context.js';
import {
  FlyApiError,
  FlyNetworkError,
  FlyNotFoundError,
  FlyTimeoutError,
  FlyUnauthorizedError,
} from './errors.js';
import { decodeJson, parseResponse, type ResponseOrigin } from './parse.js';
import type { RateClass } from './rate-limiter.js';
import { sleep, withRetry } from './retry.js';

/** Header that carries a machine lease nonce. */
export const LEASE_NONCE_HEADER = 'fly-machine-lease-nonce';

/** Options every client method accepts as its last argument. */
export interface CallOptions {
  /** Aborts the call, its retries and its waits; the call then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Lease nonce to send in `fly-machine-lease-nonce`. When left out, a mutating call on a machine
   * that `withLease` currently holds sends that lease's nonce.
   */
  nonce?: string | undefined;
}

type QueryValue = string | number | boolean | readonly string[] | undefined;

/** One REST call, as the resources describe it. */
export interface RestCall<S extends z.ZodType | undefined> {
  /** Client method name, such as `machines.get`, for errors and logs. */
  endpoint: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the base URL with every segment already encoded, such as `/v1/apps/web`. */
  path: string;
  query?: Record<string, QueryValue> | undefined;
  body?: unknown;
  /** Schema for a 2xx body; without one the body is read and ignored. */
  schema?: S;
  /** Value decoded for an empty 2xx body. @default undefined */
  emptyAs?: unknown;
  /** True only for calls that may run twice safely; others are never retried. */
  idempotent: boolean;
  rate?: { key: string; class: RateClass } | undefined;
  app?: string | undefined;
  machineId?: string | undefined;
  /** `null` never sends a nonce (lease acquire); a string always sends it. */
  nonce?: string | null | undefined;
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout; defaults to the client's `timeoutMs`. */
  timeoutMs?: number | undefined;
  /** Region the call targets, for capacity messages. */
  region?: string | undefined;
  /** Resource named in error messages, such as `machine 148ed193b95089 of app web`. */
  subject?: string | undefined;
  /** Retry 404 responses until this time (Unix ms), for a machine that was just created. */
  notFoundRetryUntil?: number | undefined;
  /**
   * True when a 404 is a valid response (no lease held), so the 404 window of a machine that
   * was just created does not apply.
   */
  notFoundIsValid?: boolean | undefined;
}

/** Raw response of one HTTP exchange. */
interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

function buildUrl(base: string, path: string, query: RestCall<undefined>['query']): URL {
  const url = new URL(base.replace(/\/+$/, '') + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) url.searchParams.set(key, value.join(','));
    } else {
      url.searchParams.set(key, String(value));
    }
  }
  return url;
}

function resolveNonce(context: ClientContext, call: RestCall<z.ZodType | undefined>) {
  if (call.nonce === null) return undefined;
  if (call.nonce !== undefined) return call.nonce;
  if (call.method === 'GET' || !call.app || !call.machineId) return undefined;
  return context.leases.get(call.app, call.machineId);
}

/**
 * Sends one REST call with rate limiting, retries for idempotent calls, and the 404 window for
 * just-created machines, then parses the 2xx body with the call's schema.
 *
 * @throws FlyApiError subclasses for error responses (see classifyFailedResponse),
 *   FlyNetworkError, FlyTimeoutError (no response within the timeout), FlyResponseError (the body
 *   does not fit), or the signal's reason when aborted.
 */
export async function restRequest<S extends z.ZodType | undefined>(
  context: ClientContext,
  call: RestCall<S>,
): Promise<Output<S>> {
  const url = buildUrl(context.baseUrl, call.path, call.query);
  const headers: Record<string, string> = {
    authorization: context.auth.machines,
    accept: 'application/json',
    'user-agent': context.userAgent,
  };
  const nonce = resolveNonce(context, call);
  if (nonce !== undefined) headers[LEASE_NONCE_HEADER] = nonce;
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  if (body !== undefined) headers['content-type'] = 'application/json';

  const attemptOnce = async (attempt: number): Promise<Output<S>> => {
    if (context.limiter && call.rate) {
      await context.limiter.acquire(call.rate.key, call.rate.class, call.signal);
    }
    const raw = await exchange(context, call, url, headers, body, attempt);
    return interpret(call, raw);
  };

  const withRetries = () =>
    withRetry(attemptOnce, {
      policy: context.retry,
      idempotent: call.idempotent,
      signal: call.signal,
      onRetry: ({ attempt, delayMs, error }) =>
        context.logger.warn('fly request retry', {
          endpoint: call.endpoint,
          method: call.method,
          path: call.path,
          attempt,
          delay_ms: delayMs,
          code: error instanceof FlyApiError ? error.code : undefined,
          status: error instanceof FlyApiError ? error.status : undefined,
        }),
    });

  return retryNotFoundWindow(context, call, withRetries);
}

/**
 * Repeats a call that got 404 until `notFoundRetryUntil`, with backoff from 100 ms to 2 s.
 * A 404 means Fly did nothing, so this is safe for any call. The first successful response
 * about a new machine ends its window, because a later 404 then means the machine is really gone.
 */
async function retryNotFoundWindow<T>(
  context: ClientContext,
  call: RestCall<z.ZodType | undefined>,
  run: () => Promise<T>,
): Promise<T> {
  const deadline = call.notFoundIsValid
    ? undefined
    : (call.notFoundRetryUntil ?? recentDeadline(context, call));
  let delayMs = 100;
  for (;;) {
    try {
      const result = await run();
      if (call.app && call.machineId) {
        context.recentlyCreated.delete(LeaseRegistry.key(call.app, call.machineId));
      }
      return result;
    } catch (error) {
      const remaining = (deadline ?? 0) - Date.now();
      if (!(error instanceof FlyNotFoundError) || remaining <= 0) throw error;

      const waitMs = Math.min(delayMs, remaining);
      context.logger.debug('fly machine not found yet, retrying', {
        endpoint: call.endpoint,
        path: call.path,
        delay_ms: waitMs,
      });
      await sleep(waitMs, call.signal);
      delayMs = Math.min(delayMs * 2, 2_000);
    }
  }
}

function recentDeadline(context: ClientContext, call: RestCall<z.ZodType | undefined>) {
  if (!call.app || !call.machineId) return undefined;
  const key = LeaseRegistry.key(call.app, call.machineId);
  const deadline = context.recentlyCreated.get(key);
  if (deadline !== undefined && deadline < Date.now()) context.recentlyCreated.delete(key);
  return deadline;
}

async function exchange(
  context: ClientContext,
  call: RestCall<z.ZodType | undefined>,
  url: URL,
  headers: Record<string, string>,
  body: string | undefined,
  attempt: number,
): Promise<RawResponse> {
  const timeoutMs = call.timeoutMs ?? context.timeoutMs;
  const raw = await send(context, {
    url,
    method: call.method,
    headers,
    body,
    signal: call.signal,
    timeoutMs,
    describe: { method: call.method, path: call.path, subject: call.subject },
  });
  context.logger.debug('fly request', {
    endpoint: call.endpoint,
    method: call.method,
    path: call.path,
    status: raw.status,
    request_id: firstHeader(raw.headers, 'fly-request-id'),
    duration_ms: raw.durationMs,
    attempt,
  });
  return raw;
}

function interpret<S extends z.ZodType | undefined>(
  call: RestCall<S>,
  raw: RawResponse,
): Output<S> {
  if (raw.status >= 300) {
    throw classifyFailedResponse({
      status: raw.status,
      bodyText: raw.text,
      headers: raw.headers,
      method: call.method,
      path: call.path,
      region: call.region,
      subject: call.subject,
    });
  }
  if (!call.schema) return undefined as Output<S>;

  const origin: ResponseOrigin = {
    endpoint: call.endpoint,
    method: call.method,
    path: call.path,
    status: raw.status,
    requestId: firstHeader(raw.headers, 'fly-request-id'),
  };
  const decoded = decodeJson(raw.text, origin, call.emptyAs);
  return parseResponse(call.schema, decoded, origin) as Output<S>;
}

function firstHeader(headers: RawResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One HTTP exchange with the client's dispatcher, timeout and abort signal. */
interface SendRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal | undefined;
  timeoutMs: number;
  describe: { method: string; path: string; subject?: string | undefined };
}

/**
 * Sends one request and reads the whole body.
 *
 * @throws FlyTimeoutError when no complete response arrives within `timeoutMs`, FlyNetworkError
 *   for failures below HTTP, or the caller signal's reason when it aborts.
 */
export async function send(
  context: ClientContext,
  request: SendRequest,
): Promise<RawResponse & { durationMs: number }> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const started = Date.now();
  const { method, path } = request.describe;
  const subject = request.describe.subject ?? `${method} ${path}`;

  try {
    const response = await undiciRequest(request.url, {
      method: request.method as 'GET',
      headers: request.headers,
      body: request.body,
      signal,
      ...(context.dispatcher ? { dispatcher: context.dispatcher } : {}),
    });
    const text = await response.body.text();
    return {
      status: response.statusCode,
      headers: response.headers,
      text,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    if (timeout.aborted) {
      throw new FlyTimeoutError(
        `no response from Fly for ${subject} within ${request.timeoutMs} ms`,
        {
          method,
          path,
          cause: error,
          hint: 'Check the network path to Fly, or raise timeoutMs.',
        },
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new FlyNetworkError(`network failure on ${subject}: ${reason}`, {
      method,
      path,
      cause: error,
      hint: `Check that ${request.url.origin} is reachable from here, then retry.`,
    });
  }
}

/** One GraphQL call. */
export interface GraphqlCall<S extends z.ZodType> {
  endpoint: string;
  query: string;
  variables: Record<string, unknown>;
  /** Schema for `data`. */
  schema: S;
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  subject?: string | undefined;
}

interface GraphqlErrorEntry {
  message?: unknown;
  extensions?: { code?: unknown } | undefined;
}

/**
 * Sends one GraphQL call to the client's `graphqlUrl` and parses `data` with the call's schema.
 *
 * @throws FlyUnauthorizedError or FlyNotFoundError when GraphQL `errors` report it, FlyApiError for
 *   other GraphQL errors, the REST error classes for HTTP errors, FlyResponseError when `data`
 *   does not fit, or the signal's reason when aborted.
 */
export async function graphqlRequest<S extends z.ZodType>(
  context: ClientContext,
  call: GraphqlCall<S>,
): Promise<z.output<S>> {
  const url = new URL(context.graphqlUrl);
  const path = url.pathname;
  const headers = {
    authorization: context.auth.graphql,
    accept: 'application/json',
    'content-type': 'application/json',
    'user-agent': context.userAgent,
  };
  const body = JSON.stringify({ query: call.query, variables: call.variables });
  const subject = call.subject ?? call.endpoint;

  const attemptOnce = async (): Promise<z.output<S>> => {
    const raw = await send(context, {
      url,
      method: 'POST',
      headers,
      body,
      signal: call.signal,
      timeoutMs: context.timeoutMs,
      describe: { method: 'POST', path, subject },
    });
    context.logger.debug('fly graphql request', {
      endpoint: call.endpoint,
      status: raw.status,
      duration_ms: raw.durationMs,
    });
    if (raw.status >= 300) {
      throw classifyFailedResponse({ ...raw, bodyText: raw.text, method: 'POST', path, subject });
    }

    const origin = { endpoint: call.endpoint, method: 'POST', path, status: raw.status };
    const decoded = decodeJson(raw.text, origin, {}) as {
      data?: unknown;
      errors?: GraphqlErrorEntry[];
    };
    if (Array.isArray(decoded.errors) && decoded.errors.length > 0) {
      throw graphqlError(decoded.errors, path, subject);
    }
    return parseResponse(call.schema, decoded.data, {
      ...origin,
      endpoint: `${call.endpoint} data`,
    });
  };

  return withRetry(attemptOnce, {
    policy: context.retry,
    idempotent: call.idempotent,
    signal: call.signal,
  });
}

function graphqlError(errors: GraphqlErrorEntry[], path: string, subject: string): FlyApiError {
  const first = errors[0];
  const message =
    typeof first?.message === 'string' ? first.message.slice(0, 300) : 'unknown error';
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : undefined;
  const details = { status: 200, flyStatus: code, method: 'POST', path, detail: message };

  if (code === 'UNAUTHORIZED' || /unauthori[sz]ed|not authori[sz]ed|permission/i.test(message)) {
    return new FlyUnauthorizedError(`Fly GraphQL rejected ${subject}: ${message}`, {
      ...details,
      hint: 'Use a token that may manage this app (for example `fly tokens create deploy`).',
    });
  }
  if (code === 'NOT_FOUND' || /not found|could not find/i.test(message)) {
    return new FlyNotFoundError(`${subject}: ${message}`, {
      ...details,
      hint: 'Check the app name with `fly apps list`.',
    });
  }
  return new FlyApiError(`Fly GraphQL error on ${subject}: ${message}`, {
    ...details,
    hint: 'Read the message; if the organization has no SSH CA yet, run `fly ssh issue` once.',
  });
}
