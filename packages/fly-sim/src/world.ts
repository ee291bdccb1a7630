import { notFound } from './api-error.js';
import { CapacityErrorPicker } from './capacity-errors.js';
import { newOpaqueId } from './ids.js';
import type {
  AppRecord,
  MachineEventRecord,
  MachineRecord,
  OrgRecord,
  SnapshotRecord,
  VolumeRecord,
} from './model.js';
import { RUNNING_STATES } from './model.js';
import type { SimImageSpec, SimLatencies, SimOptions } from './options.js';
import { resolveLatencies } from './options.js';
import { RegionTable } from './regions.js';
import { generateEd25519 } from './ssh/ed25519-keys.js';
import { ViolationLog } from './violations.js';

/** Something waiting for a machine to reach one of a set of states. */
interface StateWaiter {
  states: ReadonlySet<string>;
  resolve(state: string | undefined): void;
}

/**
 * The simulated platform's state: organizations, apps, machines, volumes, snapshots and
 * regions, plus the timers of transitions in progress. Handlers and test controls change it.
 */
export class SimWorld {
  readonly orgs = new Map<string, OrgRecord>();
  readonly apps = new Map<string, AppRecord>();
  readonly machines = new Map<string, MachineRecord>();
  readonly volumes = new Map<string, VolumeRecord>();
  readonly snapshots = new Map<string, SnapshotRecord>();
  readonly regions: RegionTable;
  readonly latencies: SimLatencies;
  readonly capacityErrors: CapacityErrorPicker;
  readonly violations = new ViolationLog();
  readonly defaultOrgSlug: string;

  /** Called after every machine state or host change, so SSH servers and apps follow. */
  onMachineChange: (machine: MachineRecord) => void = () => {};

  /** Makes a machine ready for a state before it enters it; set by the runtime. */
  prepare: (machine: MachineRecord, state: string) => Promise<void> = async () => {};

  /** Failures of the runtime (SSH servers, apps) that had no caller to report to. */
  readonly runtimeErrors: string[] = [];

  /** Whether the simulated app runs on a machine; set by the runtime. */
  appRunning: (machineId: string) => boolean = () => false;

  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private readonly waiters = new Map<string, Set<StateWaiter>>();
  private nextHost = 2;
  private nextNumericId = 1000;
  private eventCounter = 0;
  private closed = false;

  constructor(
    readonly options: SimOptions,
    readonly dataDir: string,
  ) {
    this.regions = new RegionTable(options.regions);
    this.latencies = resolveLatencies(options.latencies);
    this.capacityErrors = new CapacityErrorPicker(options.capacityErrors ?? 'rotate');
    this.defaultOrgSlug = options.orgSlug ?? 'personal';
    this.org(this.defaultOrgSlug);
  }

  /** Returns the organization with this slug, creating it (and its SSH CA) on first use. */
  org(slug: string): OrgRecord {
    let org = this.orgs.get(slug);
    if (org === undefined) {
      org = {
        id: `org_${newOpaqueId()}`,
        slug,
        name: slug === 'personal' ? 'Personal' : slug,
        internalNumericId: this.numericId(),
        sshCa: generateEd25519(),
      };
      this.orgs.set(slug, org);
    }
    return org;
  }

  /** Returns a new number for `internal_numeric_id` fields. */
  numericId(): number {
    this.nextNumericId += 1;
    return this.nextNumericId;
  }

  /** Returns the next loopback address for a machine: 127.0.0.2, 127.0.0.3, ... */
  allocatePrivateIp(): string {
    // Host parts 0 and 255 are skipped so every address looks like a usable host address.
    while (this.nextHost % 256 === 0 || this.nextHost % 256 === 255) this.nextHost += 1;
    const n = this.nextHost;
    this.nextHost += 1;
    return `127.0.${Math.floor(n / 256)}.${n % 256}`;
  }

  /**
   * Returns an app by name.
   *
   * @throws SimApiError 404 when no app has this name.
   */
  getApp(name: string): AppRecord {
    const app = this.apps.get(name);
    if (app === undefined) throw notFound(`app not found: ${name}`);
    return app;
  }

  /**
   * Returns a machine of an app, hidden during its not-found window after create.
   *
   * @throws SimApiError 404 when the app has no such machine (yet).
   */
  getMachine(appName: string, id: string): MachineRecord {
    this.getApp(appName);
    const machine = this.machines.get(id);
    if (machine === undefined || machine.app !== appName || Date.now() < machine.visibleAt) {
      throw notFound(`machine not found: ${id}`);
    }
    return machine;
  }

  /**
   * Returns a volume of an app.
   *
   * @throws SimApiError 404 when the app has no such volume.
   */
  getVolume(appName: string, id: string): VolumeRecord {
    this.getApp(appName);
    const volume = this.volumes.get(id);
    if (volume === undefined || volume.app !== appName) {
      throw notFound(`volume not found: ${id}`);
    }
    return volume;
  }

  /** Returns the image spec for an image reference. */
  image(ref: string): SimImageSpec {
    return { sqlite3: true, ...this.options.defaultImage, ...this.options.images?.[ref] };
  }

  /** Counts machines that hold a slot of a region's capacity, across all apps. */
  runningMachinesIn(region: string): number {
    let count = 0;
    for (const machine of this.machines.values()) {
      if (machine.region === region && RUNNING_STATES.has(machine.state)) count += 1;
    }
    return count;
  }

  /** Counts volumes that exist in a region, across all apps. */
  volumesIn(region: string): number {
    let count = 0;
    for (const volume of this.volumes.values()) {
      if (volume.region === region && volume.state !== 'destroyed') count += 1;
    }
    return count;
  }

  /** Appends an event to a machine's log (newest first, as the API lists them). */
  recordEvent(
    machine: MachineRecord,
    type: string,
    status: string,
    source: MachineEventRecord['source'],
  ): void {
    this.eventCounter += 1;
    machine.events.unshift({
      id: `01SIMEVENT${String(this.eventCounter).padStart(16, '0')}`,
      type,
      status,
      source,
      timestamp: Date.now(),
    });
    if (machine.events.length > 50) machine.events.length = 50;
  }

  /** Moves a machine to a state and notifies waiters and the runtime. */
  setState(machine: MachineRecord, state: string): void {
    machine.state = state;
    machine.updatedAt = new Date();

    for (const waiter of this.waiters.get(machine.id) ?? []) {
      if (waiter.states.has(state)) waiter.resolve(state);
    }
    this.onMachineChange(machine);
  }

  /**
   * Resolves with the state once the machine is in one of `states`, or with undefined after
   * `timeoutMs` or when the sim closes.
   */
  waitForState(
    machine: MachineRecord,
    states: ReadonlySet<string>,
    timeoutMs: number,
  ): Promise<string | undefined> {
    if (states.has(machine.state)) return Promise.resolve(machine.state);

    return new Promise((resolve) => {
      let set = this.waiters.get(machine.id);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(machine.id, set);
      }
      const machineWaiters = set;

      const waiter: StateWaiter = {
        states,
        resolve: (state) => {
          machineWaiters.delete(waiter);
          this.cancel(timer);
          resolve(state);
        },
      };
      const timer = this.schedule(timeoutMs, () => waiter.resolve(undefined));
      machineWaiters.add(waiter);
    });
  }

  /** Runs `fn` after `ms` unless the sim closes first. */
  schedule(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** Resolves after `ms`, or at once when the sim closes. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve();
        return;
      }
      this.sleepers.add(resolve);
      this.schedule(ms, () => {
        this.sleepers.delete(resolve);
        resolve();
      });
    });
  }

  /** Cancels a timer from {@link schedule}. */
  cancel(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  /** Whether {@link close} has run. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops every timer and releases every waiter. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const set of this.waiters.values()) {
      for (const waiter of [...set]) waiter.resolve(undefined);
    }
    this.waiters.clear();
    for (const resolve of this.sleepers) resolve();
    this.sleepers.clear();
  }
}
