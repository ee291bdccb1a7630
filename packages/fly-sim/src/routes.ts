import { HttpResponse, http, type RequestHandler } from 'msw';
import { SimApiError } from './api-error.js';
import type { FaultRegistry, FaultSpec } from './faults.js';
import { newRequestId } from './ids.js';
import type { JsonObject } from './model.js';
import type { SimRateLimit } from './options.js';
import { FLY_DEFAULT_RATE, type RateLimiter } from './rate-limit.js';
import type { RequestLog } from './request-log.js';
import type { SimWorld } from './world.js';

/** HTTP methods the routes use. */
export type RouteMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Request data passed to a route handler. */
export interface RouteContext {
  request: Request;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parses the JSON body; an empty body is `{}`. Throws a 400 SimApiError for invalid JSON. */
  body(): Promise<JsonObject>;
}

/** A route of the simulated API. */
export interface RouteSpec {
  method: RouteMethod;
  /** Path pattern without the origin, e.g. "/v1/apps/:app/machines/:id". */
  path: string;
  /** Name of the action, the rate-limit key (e.g. "machines.start"). */
  action: string;
  /** Rate limit of the action when rate limiting is on. @default 1/s with bursts of 3 */
  rate?: SimRateLimit;
  handle(context: RouteContext): Promise<Response> | Response;
}

/** State shared by every route: the world, the token, faults, rate limiter and request log. */
export interface RouteEnvironment {
  world: SimWorld;
  token: string;
  faults: FaultRegistry;
  rateLimiter: RateLimiter;
  requests: RequestLog;
}

/** Headers of every response. */
function baseHeaders(): Record<string, string> {
  return { 'fly-request-id': newRequestId() };
}

/** Builds a JSON response with the sim's standard headers. */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return HttpResponse.json(body as never, { status, headers: { ...baseHeaders(), ...headers } });
}

/** Builds a response without a body. */
export function emptyResponse(status: number): Response {
  return new HttpResponse(null, { status, headers: baseHeaders() });
}

function isAuthorized(request: Request, token: string): boolean {
  const header = request.headers.get('authorization') ?? '';
  const match = /^(Bearer|FlyV1)\s+(.+)$/i.exec(header.trim());
  if (match === null) return false;
  return (match[2] ?? '').split(',').some((part) => part.trim() === token);
}

function faultResponse(fault: FaultSpec): Response {
  if (fault.reset === true) return Response.error();
  const status = fault.status ?? 500;
  if (typeof fault.body === 'string') {
    return new HttpResponse(fault.body, { status, headers: baseHeaders() });
  }
  return jsonResponse(fault.body ?? { error: `injected fault: HTTP ${status}` }, status);
}

async function readJson(request: Request): Promise<JsonObject> {
  const text = await request.text();
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SimApiError(400, { error: 'invalid request body: not valid JSON' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SimApiError(400, { error: 'invalid request body: expected a JSON object' });
  }
  return value as JsonObject;
}

/** Returns the rate-limit key of a request: its machine, else its volume, else its app. */
function rateSubject(params: Record<string, string>): string {
  return params.id ?? params.volume ?? params.app ?? '';
}

function rateKey(spec: RouteSpec, params: Record<string, string>): string {
  return `${spec.action}:${rateSubject(params)}`;
}

function decodeParams(params: Record<string, unknown>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string') decoded[key] = decodeURIComponent(value);
  }
  return decoded;
}

/**
 * Turns a route spec into an msw handler with auth, faults, rate limiting and error bodies,
 * and records every response in the request log.
 */
export function toHandler(spec: RouteSpec, env: RouteEnvironment): RequestHandler {
  return http[spec.method](`*${spec.path}`, async ({ request, params }) => {
    const receivedAt = Date.now();
    const response = await answer(spec, env, request, params);
    env.requests.record({
      action: spec.action,
      key: rateSubject(decodeParams(params)),
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      receivedAt,
      rate: spec.rate ?? FLY_DEFAULT_RATE,
    });
    return response;
  });
}

/** Builds the response to one request: an injected fault, else auth, the rate limit and the route's handler. */
async function answer(
  spec: RouteSpec,
  env: RouteEnvironment,
  request: Request,
  params: Record<string, unknown>,
): Promise<Response> {
  const url = new URL(request.url);
  const fault = env.faults.take(request.method, url.pathname);
  if (fault?.delayMs !== undefined) await env.world.sleep(fault.delayMs);
  if (fault !== undefined && (fault.reset === true || fault.status !== undefined)) {
    return faultResponse(fault);
  }

  if (!isAuthorized(request, env.token)) {
    return jsonResponse(
      { error: 'unauthorized: the token is missing or not accepted; pass the sim token' },
      401,
    );
  }

  const stringParams = decodeParams(params);

  const limit = env.world.options.rateLimit;
  if (limit !== undefined && limit !== false) {
    const rate = limit === true ? (spec.rate ?? FLY_DEFAULT_RATE) : limit;
    const waitMs = env.rateLimiter.take(rateKey(spec, stringParams), rate);
    if (waitMs > 0) {
      return jsonResponse({ error: `rate limit exceeded for ${spec.action}; retry later` }, 429, {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }
  }

  try {
    const response = await spec.handle({
      request,
      params: stringParams,
      query: url.searchParams,
      body: () => readJson(request),
    });
    if (fault?.delayResponseMs !== undefined) await env.world.sleep(fault.delayResponseMs);
    return response;
  } catch (error) {
    if (error instanceof SimApiError) return jsonResponse(error.body, error.status, error.headers);
    const message = error instanceof Error ? error.message : String(error);
    return jsonResponse({ error: `internal error in the simulator: ${message}` }, 500);
  }
}
