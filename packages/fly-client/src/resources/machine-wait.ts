import type { ClientContext } from '../context.js';
import { FlyInputError, FlyTimeoutError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import { waitResponseSchema } from '../schemas/machine.js';
import { checkTimeoutMs } from '../validate.js';
import { machinePath } from './paths.js';

/** States the wait call accepts. */
export const WAIT_STATES = [
  'started',
  'stopped',
  'suspended',
  'destroyed',
  'failed',
  'settled',
] as const;

/** A state the wait call accepts. */
export type WaitState = (typeof WAIT_STATES)[number];

/** Input of `machines.wait`. */
export interface WaitOptions {
  /** State to wait for, or several (any of them ends the wait). */
  state: WaitState | readonly WaitState[];
  /** The machine's `instance_id`; required for `stopped`, so an older stop does not count. */
  instanceId?: string | undefined;
  /** Only count events after this event id. */
  fromEventId?: string | undefined;
  /** Total budget across server waits, in milliseconds. @default 60000 */
  timeoutMs?: number | undefined;
}

/** Outcome of a wait. */
export interface WaitResult {
  /** State the machine reached. */
  state: string;
  /** Fly's `ok` flag, when sent. */
  ok: boolean | undefined;
  /** Machine version (`instance_id`) the state belongs to, when sent. */
  instanceId: string | undefined;
  /** Id of the event that ended the wait, when sent. */
  eventId: string | undefined;
}

/** Slack added to each HTTP timeout over the server-side wait, for the response to arrive. */
const HTTP_SLACK_MS = 15_000;

function checkStates(state: WaitOptions['state']): WaitState[] {
  const states = Array.isArray(state) ? [...state] : [state];
  const valid =
    states.length > 0 && states.every((item) => WAIT_STATES.includes(item as WaitState));
  if (!valid) {
    throw new FlyInputError(
      'state',
      `invalid state ${JSON.stringify(state)}: expected one or more of ${WAIT_STATES.join(', ')}`,
      'Wait for "started" after a start, or "stopped" (with instanceId) after a stop.',
    );
  }
  return states as WaitState[];
}

/**
 * Waits until a machine reaches a state. Sends `GET .../machines/{id}/wait` with `state`,
 * `version` and `instance_id` (both set to instanceId, as Fly's docs and spec name it
 * differently), `from_event_id` and `timeout` (seconds, at most the server maximum of 60).
 * A 408 from Fly means that server wait ran out: the client sends another until `timeoutMs`
 * is spent.
 *
 * @throws FlyInputError for an unknown state, or `stopped` without instanceId (nothing sent);
 *   FlyTimeoutError when the budget runs out; FlyNotFoundError and the other FlyApiError classes
 *   from the response; the signal's reason when aborted.
 */
export async function waitForState(
  context: ClientContext,
  app: string,
  machineId: string,
  wait: WaitOptions,
  options: CallOptions,
): Promise<WaitResult> {
  const states = checkStates(wait?.state);
  if (states.includes('stopped') && !wait.instanceId) {
    throw new FlyInputError(
      'instanceId',
      'missing instanceId: waiting for "stopped" needs the machine\'s instance_id',
      'Pass instanceId: machine.instance_id from the machine you stopped.',
    );
  }
  const budgetMs =
    wait.timeoutMs === undefined ? 60_000 : checkTimeoutMs(wait.timeoutMs, 'timeoutMs');
  const deadline = Date.now() + budgetMs;
  const subject = `machine ${machineId} of app ${app}`;

  for (let round = 1; ; round++) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      throw new FlyTimeoutError(
        `${subject} did not reach state ${states.join(' or ')} within ${budgetMs} ms`,
        {
          status: 408,
          method: 'GET',
          path: `${machinePath(app, machineId)}/wait`,
          hint: 'Check the machine with `fly machine status`, or raise timeoutMs.',
        },
      );
    }
    const serverSeconds = Math.max(
      1,
      Math.min(context.waitMaxSeconds, Math.ceil(remainingMs / 1000)),
    );

    try {
      const response = await restRequest(context, {
        endpoint: 'machines.wait',
        method: 'GET',
        path: `${machinePath(app, machineId)}/wait`,
        query: {
          state: states,
          version: wait.instanceId,
          instance_id: wait.instanceId,
          from_event_id: wait.fromEventId,
          timeout: serverSeconds,
        },
        schema: waitResponseSchema,
        emptyAs: {},
        idempotent: true,
        app,
        machineId,
        rate: { key: `wait:${app}/${machineId}`, class: 'action' },
        signal: options.signal,
        timeoutMs: serverSeconds * 1000 + HTTP_SLACK_MS,
        subject,
      });
      return {
        state: response.state ?? states[0] ?? 'unknown',
        ok: response.ok,
        instanceId: response.version ?? undefined,
        eventId: response.event_id ?? undefined,
      };
    } catch (error) {
      if (!(error instanceof FlyTimeoutError) || error.status !== 408) throw error;
      context.logger.debug('fly machine wait round ended, waiting again', {
        machine_id: machineId,
        round,
        remaining_ms: deadline - Date.now(),
      });
    }
  }
}
