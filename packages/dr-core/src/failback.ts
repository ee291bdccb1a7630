import { waitForCapacity } from './capacity.js';
import { DrError } from './errors.js';
import type { FailoverBase } from './failover.js';
import { startFailover } from './failover.js';
import { ROLE_KEY } from './failover-preflight.js';
import type { FailoverReport, FailoverRunOptions } from './failover-types.js';
import type { CheckKind } from './verify.js';

/** Options of a failback. */
export interface FailbackOptions extends FailoverRunOptions {
  /** Region to go back to. @default the region of the primary before the current one */
  to?: string;
  /** Region that serves now. @default the current primary's region */
  from?: string;
  /**
   * Wait up to this long for capacity in the target region, checking with exponential
   * backoff. @default 0 (check once, refuse when there is none)
   */
  waitForCapacityMs?: number;
  /** First pause between capacity checks. @default 5000 */
  capacityPollMs?: number;
  /** Maximum pause between capacity checks. @default 60000 */
  capacityMaxPollMs?: number;
  /** Overwrite the old primary's database even when it changed since the failover. @default false */
  force?: boolean;
  /** See {@link FailoverParams.allowStaleBackupMs}. */
  allowStaleBackupMs?: number;
  check?: CheckKind;
}

/**
 * Moves the app back to its earlier primary region: optionally waits for capacity there,
 * then runs the failover steps in the other direction. The target is the old primary
 * machine (stopped, with its volume); its database goes through the divergence check
 * before it is overwritten.
 *
 * @throws DrError `DR_INVALID_INPUT` when no earlier primary is known and `to` is not
 *   given, `DR_NO_CAPACITY` when the wait runs out, `DR_DIVERGED`, and the failover errors.
 */
export async function runFailback(
  base: FailoverBase,
  app: string,
  databasePath: string,
  options: FailbackOptions,
): Promise<FailoverReport> {
  const { from, to } = await failbackRegions(base, app, databasePath, options);

  if ((options.waitForCapacityMs ?? 0) > 0) {
    const orgSlug = (await base.client.apps.get(app)).organization?.slug ?? 'personal';
    await waitForCapacity(base.client, to, {
      orgSlug,
      timeoutMs: options.waitForCapacityMs,
      ...(options.capacityPollMs === undefined ? {} : { initialDelayMs: options.capacityPollMs }),
      ...(options.capacityMaxPollMs === undefined ? {} : { maxDelayMs: options.capacityMaxPollMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onWait: (attempt, nextDelayMs) =>
        base.logger.info('no capacity yet in the failback region; waiting', {
          region: to,
          attempt,
          next_delay_ms: nextDelayMs,
        }),
    });
  }

  return startFailover(
    base,
    {
      kind: 'failback',
      app,
      databasePath,
      from,
      to,
      createVolume: true,
      force: options.force === true,
      check: options.check ?? 'quick',
      ...(options.allowStaleBackupMs === undefined
        ? {}
        : { allowStaleBackupMs: options.allowStaleBackupMs }),
    },
    options,
  );
}

/** Works out both regions of a failback from the options, the records and the roles. */
export async function failbackRegions(
  base: FailoverBase,
  app: string,
  databasePath: string,
  options: Pick<FailbackOptions, 'from' | 'to'>,
): Promise<{ from: string; to: string }> {
  const history = base.records.history(app);
  const from = options.from ?? history[0]?.region;
  let to = options.to ?? history[1]?.region;
  if (to === undefined) {
    const machines = await base.client.machines.list(app, {
      metadata: { [ROLE_KEY]: 'former-primary' },
    });
    to = machines.find((machine) => machine.region !== from)?.region ?? undefined;
  }
  if (from === undefined || to === undefined) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `flydr has no record of an earlier primary of app ${app} (database ${databasePath}), so it cannot tell where to fail back to`,
      'Name the regions: failback with from and to (for example --from sin --to nrt).',
      {},
    );
  }
  return { from, to };
}
