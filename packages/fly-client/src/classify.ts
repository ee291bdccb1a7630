import {
  FlyApiError,
  type FlyApiErrorDetails,
  FlyCapacityError,
  FlyInvalidStateError,
  FlyLeaseConflictError,
  FlyNotFoundError,
  FlyRateLimitError,
  FlyTimeoutError,
  FlyUnauthorizedError,
} from './errors.js';
import { parseRetryAfter } from './retry.js';
import { errorBodySchema } from './schemas/common.js';

/** Fly `status` codes that mean no capacity. */
const CAPACITY_STATUSES = new Set(['insufficient_capacity', 'volume_placement_capacity']);

/**
 * Messages Fly uses when resources ran out, such as "insufficient resources to create new
 * machine with existing volume" (412), "could not reserve resource for machine: insufficient
 * memory available" (409), or "deploys to this host are temporarily disabled".
 */
const CAPACITY_TEXT =
  /\binsufficient (?:resources|capacity|memory|cpus?|gpus?|disk|storage|space)\b|could not reserve resource|\bcapacity\b|deploys to this host are temporarily disabled/i;

/** Messages that report the machine or volume is in the wrong state for the request. */
const STATE_TEXT =
  /current state|invalid state|not in a valid state|failed_precondition|unable to (?:start|stop|restart|suspend|cordon|uncordon|update|signal) machine|machine (?:is|was) (?:not|already)\b/i;

/** Everything the classifier needs about one failed response. */
export interface FailedResponse {
  status: number;
  bodyText: string;
  headers: Record<string, string | string[] | undefined>;
  method: string;
  path: string;
  /** Region the request targeted, for capacity messages. */
  region?: string | undefined;
  /** Resource the request addressed, such as `machine 148ed193b95089 of app web`. */
  subject?: string | undefined;
}

/** Reads Fly's error message and `status` code from an error body, JSON or plain text. */
export function readErrorBody(bodyText: string): { message: string; flyStatus?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return { message: bodyText.trim().slice(0, 300) };
  }

  const result = errorBodySchema.safeParse(parsed);
  if (!result.success) return { message: bodyText.trim().slice(0, 300) };
  const body = result.data;
  const message = body.message ?? body.error ?? '';
  const flyStatus = body.status ?? body.code ?? undefined;
  return { message: message.slice(0, 300), ...(flyStatus ? { flyStatus } : {}) };
}

function header(headers: FailedResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Turns a non-2xx response into the matching error class.
 *
 * Checks run in this order, first match wins:
 * 1. capacity by Fly `status`;
 * 2. 429;
 * 3. capacity by message on 400, 403, 409 and 412;
 * 4. 401 and 403;
 * 5. 404, then 408;
 * 6. lease conflicts (409 or 412 naming a lease);
 * 7. wrong state by message on 400, 409, 412 and 422;
 * 8. any other 409 as a lease conflict;
 * 9. everything else as a plain FlyApiError.
 */
export function classifyFailedResponse(response: FailedResponse): FlyApiError {
  const { message, flyStatus } = readErrorBody(response.bodyText);
  const subject = response.subject ?? `${response.method} ${response.path}`;
  const details: FlyApiErrorDetails = {
    status: response.status,
    flyStatus,
    requestId: header(response.headers, 'fly-request-id'),
    method: response.method,
    path: response.path,
    detail: message || undefined,
    retryAfterMs: parseRetryAfter(header(response.headers, 'retry-after')),
  };
  const suffix = message ? `: ${message}` : '';

  if (flyStatus && CAPACITY_STATUSES.has(flyStatus))
    return capacityError(response, details, suffix);
  if (response.status === 429) {
    return new FlyRateLimitError(`Fly rate limit reached for ${subject}${suffix}`, {
      ...details,
      hint: 'Wait and retry; run fewer flydr operations on this app at once.',
    });
  }
  if ([400, 403, 409, 412].includes(response.status) && CAPACITY_TEXT.test(message)) {
    return capacityError(response, details, suffix);
  }
  if (response.status === 401 || response.status === 403) {
    return new FlyUnauthorizedError(
      `Fly rejected the token for ${subject} (HTTP ${response.status})${suffix}`,
      {
        ...details,
        hint:
          response.status === 401
            ? 'Check FLY_API_TOKEN; create a new one with `fly tokens create deploy`.'
            : 'The token may not access this resource, or the app belongs to another organization.',
      },
    );
  }
  if (response.status === 404) {
    return new FlyNotFoundError(`${subject} not found${suffix}`, {
      ...details,
      hint: 'Check the app, machine or volume id; `fly machines list` and `fly volumes list` show them.',
    });
  }
  if (response.status === 408) {
    return new FlyTimeoutError(`Fly timed out on ${subject}${suffix}`, {
      ...details,
      hint: 'Retry with a longer timeout.',
    });
  }
  const leaseRelated = /\blease\b/i.test(message) || /\/lease$/.test(response.path);
  if ((response.status === 409 || response.status === 412) && leaseRelated) {
    return leaseConflictError(subject, details, suffix);
  }
  if ([400, 409, 412, 422].includes(response.status) && STATE_TEXT.test(message)) {
    return new FlyInvalidStateError(`${subject} is in the wrong state for this request${suffix}`, {
      ...details,
      hint: 'Read the machine state with `fly machines list`, wait for it to settle, then retry.',
    });
  }
  // The Machines API uses 409 for leases held by someone else; other conflicts are matched above.
  if (response.status === 409) return leaseConflictError(subject, details, suffix);
  return new FlyApiError(`Fly returned HTTP ${response.status} for ${subject}${suffix}`, {
    ...details,
    hint: hintForStatus(response.status, flyStatus),
  });
}

function leaseConflictError(
  subject: string,
  details: FlyApiErrorDetails,
  suffix: string,
): FlyLeaseConflictError {
  return new FlyLeaseConflictError(`lease conflict on ${subject}${suffix}`, {
    ...details,
    hint: 'Another operation holds the machine lease; wait for it to finish or expire, then retry.',
  });
}

function capacityError(
  response: FailedResponse,
  details: FlyApiErrorDetails,
  suffix: string,
): FlyCapacityError {
  const where = response.region ? ` in region ${response.region}` : '';
  return new FlyCapacityError(`Fly has no capacity for this request${where}${suffix}`, {
    ...details,
    region: response.region,
    hint: 'Try another region; `flydr regions` lists regions that have room.',
  });
}

function hintForStatus(status: number, flyStatus: string | undefined): string {
  if (flyStatus === 'name_taken') return 'The name is taken; choose another name.';
  if (status >= 500)
    return 'Fly had an internal error; retry later, or check https://status.flyio.net.';
  if (status === 412)
    return 'A precondition failed (for example a metadata version); read the resource again and retry.';
  return 'Check the request values against the error message.';
}
