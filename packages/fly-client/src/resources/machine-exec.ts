import type { ClientContext } from '../context.js';
import { type ExecResult, FlyExecError, FlyInputError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import { execResponseSchema } from '../schemas/machine.js';
import { checkInteger } from '../validate.js';
import { machinePath } from './paths.js';

/** Input of `machines.exec`. */
export interface ExecRequest {
  /** Program and arguments; no shell is involved unless argv[0] is one. */
  command: readonly string[];
  /** Text written to the command's standard input. */
  stdin?: string | undefined;
  /** Seconds Fly lets the command run. */
  timeoutSeconds?: number | undefined;
  /** Return a failed result instead of raising FlyExecError. @default false */
  allowFailure?: boolean | undefined;
}

/** Slack added to the HTTP timeout over the command timeout, for the response to arrive. */
const HTTP_SLACK_MS = 15_000;

function checkCommand(command: unknown): readonly string[] {
  const valid =
    Array.isArray(command) &&
    command.length > 0 &&
    command.every((part) => typeof part === 'string') &&
    typeof command[0] === 'string' &&
    command[0].length > 0;
  if (!valid) {
    throw new FlyInputError(
      'command',
      `invalid command ${JSON.stringify(command)}: expected a non-empty array of strings`,
      'Pass argv, such as ["sqlite3", "/data/app.db", ".tables"].',
    );
  }
  return command as string[];
}

/**
 * Runs a command on a started machine. Sends `POST .../machines/{id}/exec` with
 * `{ command, stdin?, timeout? }`. Fly responds 200 even when the command fails, so the exit
 * code decides: a non-zero exit code or a terminating signal is a failure.
 *
 * Never retried, because the command may have run. To reconcile after a network error or
 * timeout, check the command's effect on the machine (for example with `test -e` or
 * `sha256sum`) before running it again.
 *
 * @throws FlyInputError for an empty command or bad timeout (nothing sent); FlyExecError
 *   (`FLY_EXEC_FAILED`, carrying the result) on failure unless allowFailure; FlyApiError
 *   classes from the response; the signal's reason when aborted.
 */
export async function execCommand(
  context: ClientContext,
  app: string,
  machineId: string,
  request: ExecRequest,
  options: CallOptions,
): Promise<ExecResult> {
  const command = checkCommand(request?.command);
  if (request.timeoutSeconds !== undefined) {
    checkInteger(
      request.timeoutSeconds,
      'timeoutSeconds',
      1,
      3600,
      'Pass whole seconds, such as 60.',
    );
  }
  if (request.stdin !== undefined && typeof request.stdin !== 'string') {
    throw new FlyInputError(
      'stdin',
      'invalid stdin: expected a string',
      'Encode binary input as base64.',
    );
  }

  const response = await restRequest(context, {
    endpoint: 'machines.exec',
    method: 'POST',
    path: `${machinePath(app, machineId)}/exec`,
    body: { command, stdin: request.stdin, timeout: request.timeoutSeconds },
    schema: execResponseSchema,
    idempotent: false,
    app,
    machineId,
    nonce: options.nonce,
    rate: { key: `exec:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    timeoutMs:
      request.timeoutSeconds === undefined
        ? Math.max(context.timeoutMs, 60_000)
        : request.timeoutSeconds * 1000 + HTTP_SLACK_MS,
    subject: `machine ${machineId} of app ${app}`,
  });

  // NOTE: Fly may also respond to exec with application/octet-stream; only the JSON form is
  // handled here, and another form raises FlyResponseError.
  const result: ExecResult = {
    exitCode: response.exit_code ?? 0,
    exitSignal: response.exit_signal ?? undefined,
    stdout: response.stdout ?? '',
    stderr: response.stderr ?? '',
  };
  const failed = result.exitCode !== 0 || (result.exitSignal ?? 0) !== 0;
  if (failed && !request.allowFailure) throw new FlyExecError(machineId, command, result);
  return result;
}
