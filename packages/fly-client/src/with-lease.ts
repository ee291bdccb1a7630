import type { FlyClient } from './client.js';
import { CLIENT_CONTEXT } from './client-context-key.js';
import { FlyLeaseConflictError } from './errors.js';
import type { Lease } from './resources/machine-leases.js';
import { checkAppName, checkInteger, checkMachineId } from './validate.js';

/** Options of {@link withLease}. */
export interface WithLeaseOptions {
  /** Lease length in seconds; refreshed at half of it. @default 30 */
  ttlSeconds?: number | undefined;
  /** Shown to anyone who finds the machine leased. @default 'flydr' */
  description?: string | undefined;
  /** Aborts the acquire and is passed on to `fn` through the context. */
  signal?: AbortSignal | undefined;
}

/** Context passed to `fn` besides the lease. */
export interface LeaseContext {
  /** Aborts when the caller's signal aborts, or when a refresh fails and the lease may be lost. */
  signal: AbortSignal;
}

/**
 * Runs `fn` while holding the machine's lease.
 *
 * Sends `POST .../lease` (acquire, short TTL), then `POST .../lease` with the nonce at half the
 * TTL to refresh it, and `DELETE .../lease` with the nonce in `finally`. While `fn` runs, every
 * mutating call this client makes on the machine (update, start, stop, delete, exec, metadata,
 * cordon, ...) sends `fly-machine-lease-nonce` without the caller passing it. A nested call on
 * the same machine reuses the held lease instead of acquiring again.
 *
 * A failed refresh is logged and aborts `context.signal`. A failed release is logged but does
 * not replace `fn`'s outcome, because the lease then expires by itself after its TTL.
 *
 * @throws FlyLeaseConflictError (`FLY_LEASE_CONFLICT`) when someone else holds the lease, with
 *   the holder's description in the message and `holderDescription`; FlyInputError for bad
 *   arguments (nothing sent); whatever `fn` throws.
 */
export async function withLease<T>(
  client: FlyClient,
  app: string,
  machineId: string,
  options: WithLeaseOptions,
  fn: (lease: Lease, context: LeaseContext) => Promise<T>,
): Promise<T> {
  checkAppName(app);
  checkMachineId(machineId);
  const ttlSeconds = checkInteger(
    options.ttlSeconds ?? 30,
    'ttlSeconds',
    2,
    3600,
    'Use a short lease, such as 30 seconds.',
  );
  const context = client[CLIENT_CONTEXT];

  const held = context.leases.lease(app, machineId) as Lease | undefined;
  if (held !== undefined) {
    return fn(held, { signal: options.signal ?? new AbortController().signal });
  }

  const lease = await client.machines.acquireLease(
    app,
    machineId,
    { ttlSeconds, description: options.description ?? 'flydr' },
    { signal: options.signal },
  );
  context.leases.set(app, machineId, lease);
  const lost = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
  const stopRefresh = startRefresh(client, app, machineId, lease, ttlSeconds, lost);

  try {
    return await fn(lease, { signal });
  } finally {
    await stopRefresh();
    context.leases.delete(app, machineId, lease.nonce);
    await client.machines.releaseLease(app, machineId, lease.nonce).catch((error: unknown) => {
      context.logger.warn('fly lease release failed; it expires after its TTL', {
        app,
        machine_id: machineId,
        ttl_seconds: ttlSeconds,
        error,
      });
    });
  }
}

/**
 * Refreshes the lease every ttl/2 seconds until stopped. When the lease would expire before the
 * next refresh could succeed, `lost` is aborted.
 */
function startRefresh(
  client: FlyClient,
  app: string,
  machineId: string,
  lease: Lease,
  ttlSeconds: number,
  lost: AbortController,
): () => Promise<void> {
  const context = client[CLIENT_CONTEXT];
  const intervalMs = (ttlSeconds * 1000) / 2;
  let expiresAt = Date.now() + ttlSeconds * 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const refresh = async () => {
    try {
      await client.machines.refreshLease(app, machineId, lease.nonce, { ttlSeconds });
      expiresAt = Date.now() + ttlSeconds * 1000;
    } catch (error) {
      context.logger.warn('fly lease refresh failed', { app, machine_id: machineId, error });
      if (error instanceof FlyLeaseConflictError || Date.now() + intervalMs >= expiresAt) {
        lost.abort(
          new FlyLeaseConflictError(`lease on machine ${machineId} of app ${app} was lost`, {
            method: 'POST',
            path: `/v1/apps/${app}/machines/${machineId}/lease`,
            hint: 'Another operation may have taken the machine; check its state before continuing.',
            cause: error,
          }),
        );
      }
    }
    if (!stopped && !lost.signal.aborted) timer = schedule();
  };
  const schedule = () => {
    const next = setTimeout(() => {
      inFlight = refresh();
    }, intervalMs);
    next.unref();
    return next;
  };

  timer = schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await inFlight;
  };
}
