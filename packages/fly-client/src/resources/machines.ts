import { z } from 'zod';
import { type ClientContext, LeaseRegistry } from '../context.js';
import { type ExecResult, FlyInputError } from '../errors.js';
import { type CallOptions, type RestCall, restRequest } from '../http.js';
import type { RateClass } from '../rate-limiter.js';
import {
  type Machine,
  type MachineEvent,
  type MachineSummary,
  type MachineVersion,
  machineEventSchema,
  machineSchema,
  machineSummarySchema,
  machineVersionSchema,
  type ProcessStat,
  processStatSchema,
  type StartResult,
  startResponseSchema,
} from '../schemas/machine.js';
import {
  checkAppName,
  checkDuration,
  checkInteger,
  checkMachineId,
  checkMetadataKey,
  checkRegionCode,
  checkSignal,
  checkTimeoutMs,
  type StopSignal,
} from '../validate.js';
import { type ExecRequest, execCommand } from './machine-exec.js';
import {
  acquireLease,
  getLease,
  type Lease,
  type LeaseOptions,
  refreshLease,
  releaseLease,
} from './machine-leases.js';
import { deleteMetadata, getMetadata, setMetadata, writeMetadata } from './machine-metadata.js';
import {
  type CreateMachineRequest,
  checkCreateMachineRequest,
  checkUpdateMachineRequest,
  type MountVolume,
  type UpdateMachineRequest,
} from './machine-request.js';
import { type WaitOptions, type WaitResult, waitForState } from './machine-wait.js';
import { appPath, machinePath } from './paths.js';

/** Filters of `machines.list`. */
export interface ListMachinesOptions {
  /** Only machines in this region. */
  region?: string | undefined;
  /** Only machines in these states (created, started, stopped, suspended). */
  states?: readonly string[] | undefined;
  /** Only machines whose metadata has all these key/value pairs. */
  metadata?: Record<string, string> | undefined;
  /** Leave out config, checks, events and host status. */
  summary?: boolean | undefined;
  /** Include destroyed machines. */
  includeDeleted?: boolean | undefined;
}

/** Options of `machines.create`. */
export interface CreateMachineOptions extends CallOptions {
  /**
   * For this long after the create, calls on the new machine that get 404 are repeated,
   * because Fly may not list a new machine at once. The first successful response about the
   * machine ends the window. Lease reads are never repeated, since a 404 there means no lease.
   * In milliseconds. @default 0 (off)
   */
  notFoundRetryMs?: number | undefined;
  /** Volumes named in `config.mounts`; each must lie in the requested region. */
  mountVolumes?: readonly MountVolume[] | undefined;
}

/** Options of `machines.get`. */
export interface GetMachineOptions extends CallOptions {
  /** Repeat a 404 for this long, in milliseconds, for a machine created moments ago. */
  notFoundRetryMs?: number | undefined;
}

/** Options of `machines.stop`. */
export interface StopMachineOptions {
  /** Signal sent first. @default Fly's default, SIGINT */
  signal?: StopSignal | undefined;
  /** Go duration to wait before SIGKILL, such as "30s". */
  timeout?: string | undefined;
}

/** Options of `machines.restart`. */
export interface RestartMachineOptions extends StopMachineOptions {
  /** Kill the machine if it does not stop in time. */
  forceStop?: boolean | undefined;
}

const STATES = new Set(['created', 'started', 'stopped', 'suspended']);
const eventsSchema = z.array(machineEventSchema).nullable();

/**
 * Machines of one app: list, get, create, update, lifecycle, wait, exec, events, metadata and
 * leases. While {@link withLease} holds a machine, every mutating call on it sends the lease
 * nonce in `fly-machine-lease-nonce`; an explicit `options.nonce` takes precedence.
 */
export class MachinesResource {
  readonly #context: ClientContext;

  /** Built by {@link createFlyClient}; not meant to be constructed directly. */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  /** Common fields of a call on one machine. */
  #onMachine(
    app: string,
    machineId: string,
    action: string,
    options: CallOptions,
    rateClass: RateClass = 'action',
  ): Pick<RestCall<undefined>, 'app' | 'machineId' | 'rate' | 'signal' | 'subject' | 'nonce'> {
    checkAppName(app);
    checkMachineId(machineId);
    return {
      app,
      machineId,
      rate: { key: `${action}:${app}/${machineId}`, class: rateClass },
      signal: options.signal,
      nonce: options.nonce,
      subject: `machine ${machineId} of app ${app}`,
    };
  }

  /**
   * Lists machines. Sends `GET /v1/apps/{app}/machines` with `region`, `state` (comma list),
   * `metadata.<key>=<value>`, `summary` and `include_deleted`; retried like every read.
   *
   * @throws FlyInputError for bad filters (nothing sent); FlyNotFoundError when the app does not
   *   exist; other FlyApiError classes.
   */
  list(
    app: string,
    filters: ListMachinesOptions & { summary: true },
    options?: CallOptions,
  ): Promise<MachineSummary[]>;
  list(app: string, filters?: ListMachinesOptions, options?: CallOptions): Promise<Machine[]>;
  async list(
    app: string,
    filters: ListMachinesOptions = {},
    options: CallOptions = {},
  ): Promise<Machine[] | MachineSummary[]> {
    checkAppName(app);
    if (filters.region !== undefined) checkRegionCode(filters.region);
    for (const state of filters.states ?? []) {
      if (!STATES.has(state)) {
        throw new FlyInputError(
          'states',
          `invalid state filter ${JSON.stringify(state)}: expected created, started, stopped or suspended`,
          'Filter on persistent states only.',
        );
      }
    }
    const query: Record<string, string | boolean | undefined> = {
      region: filters.region,
      state: filters.states?.length ? filters.states.join(',') : undefined,
      summary: filters.summary ? true : undefined,
      include_deleted: filters.includeDeleted ? true : undefined,
    };
    for (const [key, value] of Object.entries(filters.metadata ?? {})) {
      checkMetadataKey(key, 'metadata');
      query[`metadata.${key}`] = value;
    }

    const machines = await restRequest(this.#context, {
      endpoint: 'machines.list',
      method: 'GET',
      path: `${appPath(app)}/machines`,
      query,
      schema: z.array(filters.summary ? machineSummarySchema : machineSchema).nullable(),
      idempotent: true,
      rate: { key: `machines.list:${app}`, class: 'action' },
      signal: options.signal,
      subject: `machines of app ${app}`,
    });
    return machines ?? [];
  }

  /**
   * Gets one machine. Sends `GET .../machines/{id}`; retried like every read, and within
   * notFoundRetryMs of a create also on 404. Limited client-side to 5 per second, burst 10.
   *
   * @throws FlyInputError for a bad id (nothing sent); FlyNotFoundError; other FlyApiError classes.
   */
  async get(app: string, machineId: string, options: GetMachineOptions = {}): Promise<Machine> {
    const common = this.#onMachine(app, machineId, 'get', options, 'getMachine');
    return restRequest(this.#context, {
      ...common,
      endpoint: 'machines.get',
      method: 'GET',
      path: machinePath(app, machineId),
      schema: machineSchema,
      idempotent: true,
      notFoundRetryUntil: notFoundDeadline(options.notFoundRetryMs),
    });
  }

  /**
   * Creates a machine. Sends `POST /v1/apps/{app}/machines` with the request as given.
   *
   * Never retried: after a network error or timeout the machine may exist. Reconcile by giving
   * each create a unique `name` (or a metadata marker) and listing the app's machines for it
   * before sending the create again. Capacity errors (FLY_CAPACITY) mean nothing was created.
   *
   * @throws FlyInputError for a bad config, name, region, mount path, more than one mount, or a
   *   mounted volume outside the requested region (nothing sent); FlyCapacityError;
   *   FlyApiError classes from the response; the signal's reason when aborted.
   */
  async create(
    app: string,
    request: CreateMachineRequest,
    options: CreateMachineOptions = {},
  ): Promise<Machine> {
    checkAppName(app);
    checkCreateMachineRequest(request, options.mountVolumes);
    const windowMs =
      options.notFoundRetryMs === undefined
        ? 0
        : checkTimeoutMs(options.notFoundRetryMs, 'notFoundRetryMs');
    const single = request.region && /^[a-z]{3}$/.test(request.region) ? request.region : undefined;

    const machine = await restRequest(this.#context, {
      endpoint: 'machines.create',
      method: 'POST',
      path: `${appPath(app)}/machines`,
      body: request,
      schema: machineSchema,
      idempotent: false,
      rate: { key: `machines.create:${app}`, class: 'action' },
      signal: options.signal,
      region: single ?? request.region,
      subject: `new machine in app ${app}`,
    });

    if (windowMs > 0) {
      this.#context.recentlyCreated.set(LeaseRegistry.key(app, machine.id), Date.now() + windowMs);
    }
    return machine;
  }

  /**
   * Replaces a machine's config. Sends `POST .../machines/{id}` with the FULL config; a running
   * machine restarts on the new config. Not retried: after a network error, get the machine
   * and compare `instance_id` and `config` before sending again.
   *
   * @throws FlyInputError for a bad config or an attempt to change name or region (nothing
   *   sent); FlyLeaseConflictError without the current nonce; FlyCapacityError when the host
   *   cannot fit the new size; other FlyApiError classes.
   */
  async update(
    app: string,
    machineId: string,
    request: UpdateMachineRequest,
    options: CallOptions = {},
  ): Promise<Machine> {
    const common = this.#onMachine(app, machineId, 'update', options);
    checkUpdateMachineRequest(request);
    return restRequest(this.#context, {
      ...common,
      endpoint: 'machines.update',
      method: 'POST',
      path: machinePath(app, machineId),
      body: request,
      schema: machineSchema,
      idempotent: false,
    });
  }

  /**
   * Starts a stopped or suspended machine. Sends `POST .../start`; the response differs between
   * Fly's docs and spec, so every field of the result may be missing. Not retried; after a
   * network error, `wait` for `started`.
   *
   * @throws FlyCapacityError when the host has no room; FlyInvalidStateError; other FlyApiError classes.
   */
  async start(app: string, machineId: string, options: CallOptions = {}): Promise<StartResult> {
    const common = this.#onMachine(app, machineId, 'start', options);
    return restRequest(this.#context, {
      ...common,
      endpoint: 'machines.start',
      method: 'POST',
      path: `${machinePath(app, machineId)}/start`,
      schema: startResponseSchema,
      emptyAs: {},
      idempotent: false,
    });
  }

  /**
   * Stops a machine. Sends `POST .../stop` with `{ signal?, timeout? }`. Not retried; after a
   * network error, `wait` for `stopped` with the machine's instance id.
   *
   * @throws FlyInputError for an unknown signal or a bad duration (nothing sent);
   *   FlyInvalidStateError; other FlyApiError classes.
   */
  async stop(
    app: string,
    machineId: string,
    stop: StopMachineOptions = {},
    options: CallOptions = {},
  ): Promise<void> {
    const common = this.#onMachine(app, machineId, 'stop', options);
    if (stop.signal !== undefined) checkSignal(stop.signal);
    if (stop.timeout !== undefined) checkDuration(stop.timeout);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.stop',
      method: 'POST',
      path: `${machinePath(app, machineId)}/stop`,
      body: { signal: stop.signal, timeout: stop.timeout },
      idempotent: false,
    });
  }

  /**
   * Restarts a machine. Sends `POST .../restart?signal=&timeout=&force_stop=`. Not retried.
   *
   * @throws FlyInputError for an unknown signal or bad duration (nothing sent); FlyApiError classes.
   */
  async restart(
    app: string,
    machineId: string,
    restart: RestartMachineOptions = {},
    options: CallOptions = {},
  ): Promise<void> {
    const common = this.#onMachine(app, machineId, 'restart', options);
    if (restart.signal !== undefined) checkSignal(restart.signal);
    if (restart.timeout !== undefined) checkDuration(restart.timeout);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.restart',
      method: 'POST',
      path: `${machinePath(app, machineId)}/restart`,
      query: {
        signal: restart.signal,
        timeout: restart.timeout,
        force_stop: restart.forceStop === undefined ? undefined : restart.forceStop,
      },
      idempotent: false,
    });
  }

  /**
   * Suspends a machine (memory snapshot; the next start resumes). Sends `POST .../suspend`.
   * Not retried; after a network error, `wait` for `suspended`.
   *
   * @throws FlyInvalidStateError when the machine cannot suspend; other FlyApiError classes.
   */
  async suspend(app: string, machineId: string, options: CallOptions = {}): Promise<void> {
    const common = this.#onMachine(app, machineId, 'suspend', options);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.suspend',
      method: 'POST',
      path: `${machinePath(app, machineId)}/suspend`,
      idempotent: false,
    });
  }

  /**
   * Sends a signal to the machine's main process. Sends `POST .../signal` with `{ signal }`.
   *
   * @throws FlyInputError for an unknown signal (nothing sent); FlyApiError classes.
   */
  async signal(
    app: string,
    machineId: string,
    signal: StopSignal,
    options: CallOptions = {},
  ): Promise<void> {
    const common = this.#onMachine(app, machineId, 'signal', options);
    checkSignal(signal);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.signal',
      method: 'POST',
      path: `${machinePath(app, machineId)}/signal`,
      body: { signal },
      idempotent: false,
    });
  }

  /**
   * Destroys a machine. Sends `DELETE .../machines/{id}`, with `?force=true` to kill a running
   * one. Not retried; after a network error, `get` returning 404 (or state `destroyed`)
   * confirms the delete.
   *
   * @throws FlyInvalidStateError when it is running and force is unset; other FlyApiError classes.
   */
  async delete(
    app: string,
    machineId: string,
    deletion: { force?: boolean | undefined } = {},
    options: CallOptions = {},
  ): Promise<void> {
    const common = this.#onMachine(app, machineId, 'delete', options);
    // NOTE: fly-go sends ?kill=true instead; whether Fly treats it as an alias is unconfirmed.
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.delete',
      method: 'DELETE',
      path: machinePath(app, machineId),
      query: { force: deletion.force ? true : undefined },
      idempotent: false,
    });
  }

  /**
   * Waits until the machine reaches a state, repeating Fly's 60-second server wait (and its
   * 408 responses) until `timeoutMs` is spent.
   *
   * @throws FlyInputError for an unknown state, or `stopped` without instanceId (nothing sent);
   *   FlyTimeoutError when the budget runs out; other FlyApiError classes.
   */
  async wait(
    app: string,
    machineId: string,
    wait: WaitOptions,
    options: GetMachineOptions = {},
  ): Promise<WaitResult> {
    this.#onMachine(app, machineId, 'wait', options);
    if (options.notFoundRetryMs !== undefined) {
      const until = Date.now() + checkTimeoutMs(options.notFoundRetryMs, 'notFoundRetryMs');
      this.#context.recentlyCreated.set(LeaseRegistry.key(app, machineId), until);
    }
    return waitForState(this.#context, app, machineId, wait, options);
  }

  /**
   * Stops the Fly proxy from routing requests to the machine. Sends `POST .../cordon`; retried,
   * as cordoning twice is harmless.
   *
   * @throws FlyApiError classes from the response.
   */
  async cordon(app: string, machineId: string, options: CallOptions = {}): Promise<void> {
    const common = this.#onMachine(app, machineId, 'cordon', options);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.cordon',
      method: 'POST',
      path: `${machinePath(app, machineId)}/cordon`,
      idempotent: true,
    });
  }

  /**
   * Lets the Fly proxy route requests to the machine again. Sends `POST .../uncordon`; retried.
   *
   * @throws FlyApiError classes from the response.
   */
  async uncordon(app: string, machineId: string, options: CallOptions = {}): Promise<void> {
    const common = this.#onMachine(app, machineId, 'uncordon', options);
    await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.uncordon',
      method: 'POST',
      path: `${machinePath(app, machineId)}/uncordon`,
      idempotent: true,
    });
  }

  /**
   * Runs a command on the machine through `POST .../exec`. A non-zero exit code raises
   * FlyExecError unless `allowFailure`. Never retried, because the command may have run: check
   * its effect on the machine before running it again.
   *
   * @throws FlyInputError (nothing sent); FlyExecError (`FLY_EXEC_FAILED`); FlyApiError classes.
   */
  async exec(
    app: string,
    machineId: string,
    request: ExecRequest,
    options: CallOptions = {},
  ): Promise<ExecResult> {
    this.#onMachine(app, machineId, 'exec', options);
    return execCommand(this.#context, app, machineId, request, options);
  }

  /**
   * Lists recent machine events, newest first. Sends `GET .../events?limit=`; retried.
   *
   * @throws FlyInputError for a limit outside 1-50 (nothing sent); FlyApiError classes.
   */
  async events(
    app: string,
    machineId: string,
    filter: { limit?: number | undefined } = {},
    options: CallOptions = {},
  ): Promise<MachineEvent[]> {
    const common = this.#onMachine(app, machineId, 'events', options);
    if (filter.limit !== undefined)
      checkInteger(filter.limit, 'limit', 1, 50, 'Fly returns at most 50 events.');
    const events = await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.events',
      method: 'GET',
      path: `${machinePath(app, machineId)}/events`,
      query: { limit: filter.limit },
      schema: eventsSchema,
      idempotent: true,
    });
    return events ?? [];
  }

  /**
   * Lists the machine's config versions. Sends `GET .../versions`; retried.
   *
   * @throws FlyApiError classes from the response.
   */
  async versions(
    app: string,
    machineId: string,
    options: CallOptions = {},
  ): Promise<MachineVersion[]> {
    const common = this.#onMachine(app, machineId, 'versions', options);
    const versions = await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.versions',
      method: 'GET',
      path: `${machinePath(app, machineId)}/versions`,
      schema: z.array(machineVersionSchema).nullable(),
      idempotent: true,
    });
    return versions ?? [];
  }

  /**
   * Lists processes running on the machine. Sends `GET .../ps`; retried.
   *
   * @throws FlyApiError classes from the response.
   */
  async processes(
    app: string,
    machineId: string,
    options: CallOptions = {},
  ): Promise<ProcessStat[]> {
    const common = this.#onMachine(app, machineId, 'ps', options);
    const processes = await restRequest(this.#context, {
      ...common,
      endpoint: 'machines.processes',
      method: 'GET',
      path: `${machinePath(app, machineId)}/ps`,
      schema: z.array(processStatSchema).nullable(),
      idempotent: true,
    });
    return processes ?? [];
  }

  /** Reads all metadata; see {@link getMetadata}. @throws FlyApiError classes. */
  async getMetadata(app: string, machineId: string, options: CallOptions = {}) {
    this.#onMachine(app, machineId, 'metadata', options);
    return getMetadata(this.#context, app, machineId, options);
  }

  /**
   * Sets one metadata key with `POST .../metadata/{key}`; see {@link setMetadata}.
   * @throws FlyInputError (nothing sent); FlyApiError classes.
   */
  async setMetadata(
    app: string,
    machineId: string,
    key: string,
    value: string,
    options: CallOptions = {},
  ): Promise<void> {
    this.#onMachine(app, machineId, 'metadata', options);
    return setMetadata(this.#context, app, machineId, key, value, options);
  }

  /**
   * Deletes one metadata key with `DELETE .../metadata/{key}`.
   * @throws FlyInputError (nothing sent); FlyApiError classes.
   */
  async deleteMetadata(app: string, machineId: string, key: string, options: CallOptions = {}) {
    this.#onMachine(app, machineId, 'metadata', options);
    return deleteMetadata(this.#context, app, machineId, key, options);
  }

  /**
   * Replaces all metadata with `PUT .../metadata`; a machineVersion makes Fly respond 412 when
   * the machine changed.
   * @throws FlyInputError (nothing sent); FlyApiError classes.
   */
  async replaceMetadata(
    app: string,
    machineId: string,
    metadata: Record<string, string>,
    write: { machineVersion?: string | undefined } = {},
    options: CallOptions = {},
  ): Promise<void> {
    this.#onMachine(app, machineId, 'metadata', options);
    return writeMetadata(
      this.#context,
      app,
      machineId,
      'replace',
      metadata,
      write.machineVersion,
      options,
    );
  }

  /**
   * Merges keys into the metadata with `PATCH .../metadata`.
   * @throws FlyInputError (nothing sent); FlyApiError classes.
   */
  async mergeMetadata(
    app: string,
    machineId: string,
    metadata: Record<string, string>,
    write: { machineVersion?: string | undefined } = {},
    options: CallOptions = {},
  ): Promise<void> {
    this.#onMachine(app, machineId, 'metadata', options);
    return writeMetadata(
      this.#context,
      app,
      machineId,
      'merge',
      metadata,
      write.machineVersion,
      options,
    );
  }

  /**
   * Acquires the machine's lease with `POST .../lease` `{ ttl, description }`. Not retried.
   * Prefer {@link withLease}, which refreshes and releases.
   *
   * @throws FlyLeaseConflictError naming the holder's description when the lease is held.
   */
  async acquireLease(
    app: string,
    machineId: string,
    lease: LeaseOptions,
    options: CallOptions = {},
  ): Promise<Lease> {
    this.#onMachine(app, machineId, 'lease', options);
    return acquireLease(this.#context, app, machineId, lease, options);
  }

  /**
   * Extends a held lease with `POST .../lease` and the nonce header. Retried.
   * @throws FlyLeaseConflictError when the nonce is stale.
   */
  async refreshLease(
    app: string,
    machineId: string,
    nonce: string,
    lease: Pick<LeaseOptions, 'ttlSeconds'>,
    options: CallOptions = {},
  ): Promise<Lease> {
    this.#onMachine(app, machineId, 'lease', options);
    return refreshLease(this.#context, app, machineId, nonce, lease, options);
  }

  /**
   * Releases a lease with `DELETE .../lease` and the nonce header; a missing lease is fine.
   * @throws FlyLeaseConflictError when someone else holds it.
   */
  async releaseLease(
    app: string,
    machineId: string,
    nonce: string,
    options: CallOptions = {},
  ): Promise<void> {
    this.#onMachine(app, machineId, 'lease', options);
    return releaseLease(this.#context, app, machineId, nonce, options);
  }

  /**
   * Reads the current lease with `GET .../lease`; undefined when there is none.
   * @throws FlyApiError classes other than not-found.
   */
  async getLease(
    app: string,
    machineId: string,
    options: CallOptions = {},
  ): Promise<Lease | undefined> {
    this.#onMachine(app, machineId, 'lease', options);
    return getLease(this.#context, app, machineId, options);
  }
}

function notFoundDeadline(windowMs: number | undefined): number | undefined {
  if (windowMs === undefined) return undefined;
  return Date.now() + checkTimeoutMs(windowMs, 'notFoundRetryMs');
}
