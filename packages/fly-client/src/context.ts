import type { Dispatcher } from 'undici';
import type { AuthHeaders } from './auth.js';
import type { FlyLogger } from './logger.js';
import type { RateLimiter } from './rate-limiter.js';
import type { RetryPolicy } from './retry.js';

/** A lease as the registry keeps it. */
export interface HeldLease {
  nonce: string;
  expiresAt: number;
}

/**
 * Lease nonces the client holds, keyed by app and machine. While `withLease` holds a lease, every
 * mutating call on that machine sends its nonce without the caller passing it.
 */
export class LeaseRegistry {
  readonly #leases = new Map<string, HeldLease>();

  static key(app: string, machineId: string): string {
    return `${app}/${machineId}`;
  }

  /** Returns the nonce of the lease held on the machine, if any. */
  get(app: string, machineId: string): string | undefined {
    return this.#leases.get(LeaseRegistry.key(app, machineId))?.nonce;
  }

  /** Returns the whole lease held on the machine, if any. */
  lease(app: string, machineId: string): HeldLease | undefined {
    return this.#leases.get(LeaseRegistry.key(app, machineId));
  }

  set(app: string, machineId: string, lease: HeldLease): void {
    this.#leases.set(LeaseRegistry.key(app, machineId), lease);
  }

  /** Forgets the lease, unless another one replaced it meanwhile. */
  delete(app: string, machineId: string, nonce: string): void {
    const key = LeaseRegistry.key(app, machineId);
    if (this.#leases.get(key)?.nonce === nonce) this.#leases.delete(key);
  }
}

/** Settings and shared state behind one client; every resource reads it. */
export interface ClientContext {
  baseUrl: string;
  graphqlUrl: string;
  auth: AuthHeaders;
  dispatcher: Dispatcher | undefined;
  retry: RetryPolicy;
  timeoutMs: number;
  userAgent: string;
  logger: FlyLogger;
  limiter: RateLimiter | undefined;
  leases: LeaseRegistry;
  /** Machines created with `notFoundRetryMs`: key app/machine, value deadline (Unix ms). */
  recentlyCreated: Map<string, number>;
  /** Longest wait Fly allows per wait request, in seconds. */
  waitMaxSeconds: number;
}
