import type { Dispatcher } from 'undici';
import { buildAuthHeaders } from './auth.js';
import { CLIENT_CONTEXT } from './client-context-key.js';
import { type ClientContext, LeaseRegistry } from './context.js';
import { FlyInputError } from './errors.js';
import { createRedactingLogger, type FlyLogger, silentLogger } from './logger.js';
import { RateLimiter, type RateLimitOptions } from './rate-limiter.js';
import { globalRedactor, tokenParts } from './redact.js';
import { AppsResource } from './resources/apps.js';
import { MachinesResource } from './resources/machines.js';
import { PlatformResource } from './resources/platform.js';
import { SshResource } from './resources/ssh.js';
import { VolumesResource } from './resources/volumes.js';
import { type RetryPolicy, resolveRetryPolicy } from './retry.js';
import { checkInteger, checkTimeoutMs } from './validate.js';

/** Options of {@link createFlyClient}. */
export interface FlyClientOptions {
  /**
   * Fly API token. Macaroon tokens (`fm1r_`, `fm1a_`, `fm2_`, optionally prefixed `FlyV1 `)
   * are sent as `FlyV1`, others as `Bearer`. Never logged or put in errors.
   */
  token: string;
  /** Machines API base URL. @default 'https://api.machines.dev' */
  baseUrl?: string | undefined;
  /** GraphQL endpoint. @default 'https://api.fly.io/graphql' */
  graphqlUrl?: string | undefined;
  /** undici Dispatcher for every request. @default undici's global dispatcher */
  dispatcher?: Dispatcher | undefined;
  /** Retry bounds for idempotent calls; see RetryPolicy for the defaults. */
  retry?: Partial<RetryPolicy> | undefined;
  /** Per-request timeout in milliseconds (wait and exec extend it as needed). @default 30000 */
  timeoutMs?: number | undefined;
  /** User-Agent header. @default 'flydr-fly-client/0.1' */
  userAgent?: string | undefined;
  /** Receives request, retry and lease events; every line is redacted first. */
  logger?: FlyLogger | undefined;
  /** Client-side rate limits, or false to turn them off. @default Fly's published limits */
  rateLimit?: false | Partial<RateLimitOptions> | undefined;
  /**
   * Longest server-side wait per wait request, in seconds. Fly's maximum is 60; lower values
   * only make sense against a simulator. @default 60
   */
  waitMaxSeconds?: number | undefined;
}

/** A typed client for Fly's Machines, Volumes, Apps and Platform APIs, plus SSH certificates. */
export interface FlyClient {
  readonly apps: AppsResource;
  readonly machines: MachinesResource;
  readonly volumes: VolumesResource;
  readonly platform: PlatformResource;
  readonly ssh: SshResource;
  /** Internal state shared with helpers such as withLease. */
  readonly [CLIENT_CONTEXT]: ClientContext;
}

function checkUrl(value: unknown, field: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password
  ) {
    throw new FlyInputError(
      field,
      `invalid ${field} ${JSON.stringify(value)}: expected an http(s) URL without credentials`,
      `Leave ${field} out to use Fly's public endpoint.`,
    );
  }
  return url.toString().replace(/\/+$/, '');
}

function checkLogger(logger: unknown): FlyLogger {
  const valid =
    typeof logger === 'object' &&
    logger !== null &&
    ['debug', 'info', 'warn', 'error'].every(
      (level) => typeof (logger as Record<string, unknown>)[level] === 'function',
    );
  if (!valid) {
    throw new FlyInputError(
      'logger',
      'invalid logger: expected an object with debug, info, warn and error functions',
      'Pass a pino-style logger, or leave logger out.',
    );
  }
  return logger as FlyLogger;
}

function checkDispatcher(dispatcher: unknown): Dispatcher | undefined {
  if (dispatcher === undefined) return undefined;
  if (typeof (dispatcher as { dispatch?: unknown })?.dispatch !== 'function') {
    throw new FlyInputError(
      'dispatcher',
      'invalid dispatcher: expected an undici Dispatcher (Agent, Pool, Client or MockAgent)',
      'Pass an undici Agent, or leave dispatcher out to use the global one.',
    );
  }
  return dispatcher as Dispatcher;
}

/**
 * Creates a Fly client. Sends nothing until a method is called.
 *
 * The token is added to the process-wide redaction list at once, so it never appears in any
 * error, `String(error)`, `JSON.stringify(error)`, stack or logger line from this package.
 *
 * @throws FlyInputError (`FLY_INVALID_INPUT`) for a missing or malformed token, a URL that is
 *   not http(s) or carries credentials, or an out-of-range timeout, retry or rate option.
 */
export function createFlyClient(options: FlyClientOptions): FlyClient {
  if (typeof options?.token !== 'string') {
    throw new FlyInputError(
      'token',
      'missing Fly API token',
      'Pass token, for example from FLY_API_TOKEN.',
    );
  }
  globalRedactor.add(options.token);
  for (const part of tokenParts(options.token)) globalRedactor.add(part);

  const auth = buildAuthHeaders(options.token);
  const logger = createRedactingLogger(
    options.logger === undefined ? silentLogger : checkLogger(options.logger),
  );
  const context: ClientContext = {
    baseUrl: checkUrl(options.baseUrl ?? 'https://api.machines.dev', 'baseUrl'),
    graphqlUrl: checkUrl(options.graphqlUrl ?? 'https://api.fly.io/graphql', 'graphqlUrl'),
    auth,
    dispatcher: checkDispatcher(options.dispatcher),
    retry: resolveRetryPolicy(options.retry),
    timeoutMs:
      options.timeoutMs === undefined ? 30_000 : checkTimeoutMs(options.timeoutMs, 'timeoutMs'),
    userAgent: options.userAgent ?? 'flydr-fly-client/0.1',
    logger,
    limiter: options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit ?? {}),
    leases: new LeaseRegistry(),
    recentlyCreated: new Map(),
    waitMaxSeconds:
      options.waitMaxSeconds === undefined
        ? 60
        : checkInteger(options.waitMaxSeconds, 'waitMaxSeconds', 1, 60, 'Leave it out for 60.'),
  };
  if (/[\r\n]/.test(context.userAgent)) {
    throw new FlyInputError(
      'userAgent',
      'invalid userAgent: contains a line break',
      'Use one line.',
    );
  }

  return {
    apps: new AppsResource(context),
    machines: new MachinesResource(context),
    volumes: new VolumesResource(context),
    platform: new PlatformResource(context),
    ssh: new SshResource(context),
    [CLIENT_CONTEXT]: context,
  };
}
