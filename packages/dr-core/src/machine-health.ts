import { setTimeout as sleep } from 'node:timers/promises';
import { DrError, messageOf } from './errors.js';
import type { FlyClient, Machine } from './fly-types.js';

/** Options of {@link waitForHealthy}. */
export interface HealthWaitOptions {
  /**
   * Also require `GET healthUrl` to return 2xx. A function is called on every poll with the
   * machine as Fly reports it, for URLs that change when the app restarts.
   */
  healthUrl?: string | ((machine: Machine) => string | undefined);
  /** @default 120000 */
  timeoutMs?: number;
  /** Pause between polls. @default 500 */
  pollMs?: number;
  /**
   * Consecutive passing polls required, so an app that passes once and then fails (for
   * example on its first write) is not taken as healthy. @default 3
   */
  passesRequired?: number;
  signal?: AbortSignal;
}

/**
 * Waits until the machine is `started`, every health check Fly reports for it is
 * `passing`, and the health URL (when given) returns 2xx, on `passesRequired` polls in a
 * row.
 *
 * @throws DrError `DR_HEALTH_FAILED` naming the failing checks, or the last health URL
 *   status, when the time runs out.
 */
export async function waitForHealthy(
  client: FlyClient,
  app: string,
  machineId: string,
  options: HealthWaitOptions = {},
): Promise<Machine> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const pollMs = options.pollMs ?? 500;
  const passesRequired = options.passesRequired ?? 3;
  let passes = 0;
  let problem = 'no poll finished';
  let lastProblem = '';
  for (;;) {
    const machine = await client.machines.get(
      app,
      machineId,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const url =
      typeof options.healthUrl === 'function' ? options.healthUrl(machine) : options.healthUrl;
    problem =
      machineProblem(machine) ??
      (options.healthUrl !== undefined && url === undefined
        ? 'the health URL is not known yet'
        : await healthUrlProblem(url, options.signal)) ??
      '';
    passes = problem === '' ? passes + 1 : 0;
    if (passes >= passesRequired) {
      return machine;
    }
    if (problem !== '') {
      lastProblem = problem;
    }
    if (Date.now() + pollMs > deadline) {
      break;
    }
    await sleep(pollMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
  throw new DrError(
    'DR_HEALTH_FAILED',
    `machine ${machineId} of app ${app} did not become healthy: ${problem || lastProblem || `passed ${passes} of ${passesRequired} polls in a row`}`,
    'Look at the app logs (fly logs); flydr put the previous database and config back.',
    { machineId },
  );
}

function machineProblem(machine: Machine): string | undefined {
  if (machine.state !== 'started') {
    return `state is ${machine.state}`;
  }
  const failing = (machine.checks ?? []).filter((check) => check.status !== 'passing');
  if (failing.length > 0) {
    return `checks not passing: ${failing
      .map(
        (check) =>
          `${check.name ?? 'check'}=${check.status ?? 'unknown'}${check.output ? ` (${check.output})` : ''}`,
      )
      .join(', ')}`;
  }
  return undefined;
}

async function healthUrlProblem(
  url: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  if (url === undefined) {
    return undefined;
  }
  try {
    const timeout = AbortSignal.timeout(5_000);
    const response = await fetch(url, {
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
    await response.arrayBuffer();
    return response.ok ? undefined : `GET ${url} returned ${response.status}`;
  } catch (error) {
    return `GET ${url} failed: ${messageOf(error)}`;
  }
}
