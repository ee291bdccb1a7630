import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestHandler } from 'msw';
import type { Dispatcher } from 'undici';
import { AppProxy } from './app-proxy.js';
import { type FaultHandle, FaultRegistry, type FaultSpec } from './faults.js';
import { createApp } from './handlers/apps.js';
import { allRoutes, routeHandlers } from './handlers/index.js';
import { type HandlerServer, serveHandlers } from './http-server.js';
import { createMachine } from './machine-lifecycle.js';
import { MachineRuntime } from './machine-runtime.js';
import { createMswDispatcher } from './msw-dispatcher.js';
import type { SimOptions } from './options.js';
import { RateLimiter } from './rate-limit.js';
import { RequestLog, type SimRequest, type SimRequestSummary } from './request-log.js';
import type { RouteMethod } from './routes.js';
import {
  type AppWriterView,
  appWriterView,
  type SeededMachine,
  type SeedMachineOptions,
  type SimMachineView,
} from './sim-controls.js';
import { authorizedKeyLine } from './ssh/ed25519-keys.js';
import { parseAuthorizedKeys } from './ssh/ssh-auth.js';
import type { Violation } from './violations.js';
import { createVolume } from './volumes.js';
import { SimWorld } from './world.js';

/** Count of the SSH connections that an armed {@link Sim.dropSshAfterBytes} cut. */
export interface SshDropHandle {
  readonly cuts: number;
}

/** A route of the simulated API, for tests that walk all of them. */
export interface SimRoute {
  method: RouteMethod;
  path: string;
  action: string;
}

/**
 * A running simulated Fly: the Machines API and GraphQL on 127.0.0.1, an SSH server per
 * started machine on its own loopback address, and test controls.
 */
export class Sim {
  /** Machines API base, e.g. http://127.0.0.1:PORT (paths start with /v1). */
  readonly apiUrl: string;
  /** GraphQL endpoint, `${apiUrl}/graphql`. */
  readonly graphqlUrl: string;
  /** Every route the sim serves. */
  readonly routes: readonly SimRoute[];

  private readonly proxies = new Map<string, Promise<AppProxy>>();

  /** @internal Use {@link startSim}. */
  constructor(
    private readonly world: SimWorld,
    private readonly runtime: MachineRuntime,
    private readonly server: HandlerServer,
    private readonly portReservation: NetServer,
    private readonly faults: FaultRegistry,
    private readonly ownsDataDir: boolean,
    /** The API token the sim accepts (as `Bearer` or `FlyV1`). */
    readonly token: string,
    /** SSH port of every started machine, on its private_ip. */
    readonly sshPort: number,
    /** The stateful msw handlers, for {@link createMswDispatcher}. */
    readonly handlers: RequestHandler[],
    routes: SimRoute[],
    private readonly requestLog: RequestLog,
  ) {
    this.apiUrl = server.url;
    this.graphqlUrl = `${server.url}/graphql`;
    this.routes = routes;
  }

  /** Folder that contains the volumes and snapshots. */
  get dataDir(): string {
    return this.world.dataDir;
  }

  /** The default organization's SSH CA public key, as an authorized_keys line. */
  get sshCa(): { publicKey: string } {
    return this.sshCaFor(this.world.defaultOrgSlug);
  }

  /** Returns the SSH CA public key of an organization. */
  sshCaFor(orgSlug: string): { publicKey: string } {
    return { publicKey: authorizedKeyLine(this.world.org(orgSlug).sshCa, `${orgSlug}-ssh-ca`) };
  }

  /** Creates an undici dispatcher that serves the handlers in-process, with no socket. */
  dispatcher(): Dispatcher {
    return createMswDispatcher(this.handlers);
  }

  /**
   * Creates an app.
   *
   * @throws SimApiError for an invalid or taken name.
   */
  createApp(
    name: string,
    options: { orgSlug?: string; primaryRegion?: string } = {},
  ): { id: string; name: string; orgSlug: string } {
    const app = createApp(this.world, name, options);
    return { id: app.id, name: app.name, orgSlug: app.orgSlug };
  }

  /**
   * Creates a volume and a machine that mounts it, then waits until the machine is started
   * (unless `skipLaunch`) and its SSH server and app run.
   *
   * @throws SimApiError for invalid options or missing capacity, as the API would respond.
   */
  async seedMachine(appName: string, options: SeedMachineOptions = {}): Promise<SeededMachine> {
    const app = this.world.getApp(appName);
    const region =
      options.region ?? app.primaryRegion ?? this.world.regions.list()[0]?.code ?? 'nrt';
    const volume = createVolume(this.world, appName, {
      name: options.volumeName ?? 'data',
      region,
      size_gb: options.volumeSizeGb ?? 1,
    });
    const { machine } = createMachine(this.world, appName, {
      region,
      skip_launch: options.skipLaunch === true,
      config: {
        image: options.image ?? `registry.fly.io/${appName}:deployment-1`,
        env: options.env ?? {},
        metadata: options.metadata ?? {},
        init: options.init ?? {},
        mounts: [{ volume: volume.id, path: options.mountPath ?? '/app/data', name: volume.name }],
        checks: {
          health: { type: 'http', port: 8080, path: '/health', interval: '15s', timeout: '2s' },
        },
      },
    });
    if (options.skipLaunch !== true) {
      await this.world.waitForState(machine, new Set(['started', 'failed']), 30_000);
      await this.runtime.settle();
    }
    return { machineId: machine.id, volumeId: volume.id, privateIp: machine.privateIp, region };
  }

  /** Returns a view of one app's machines: `app(name).machine(id).volumeDir`. */
  app(name: string): { machine(id: string): SimMachineView } {
    this.world.getApp(name);
    return { machine: (id) => this.machine(id, name) };
  }

  /**
   * Returns a view of a machine.
   *
   * @throws Error when no machine has this id (in this app, when given).
   */
  machine(id: string, appName?: string): SimMachineView {
    const machine = this.world.machines.get(id);
    if (machine === undefined || (appName !== undefined && machine.app !== appName)) {
      throw new Error(
        `machine ${id} does not exist${appName === undefined ? '' : ` in app ${appName}`}; seed it first`,
      );
    }
    const mount = machine.config.mounts?.[0];
    return {
      id,
      state: machine.state,
      region: machine.region,
      privateIp: machine.privateIp,
      volumeDir: mount === undefined ? undefined : this.world.volumes.get(mount.volume)?.dir,
      databasePath: this.runtime.databasePath(machine),
      hostPublicKey: authorizedKeyLine(machine.hostKey),
    };
  }

  /** Local folder of a volume. */
  volumeDir(volumeId: string): string {
    const volume = this.world.volumes.get(volumeId);
    if (volume === undefined) throw new Error(`volume ${volumeId} does not exist`);
    return volume.dir;
  }

  /**
   * Counts `bytes` more bytes as used on a volume without writing them, so that tests can
   * fill a volume (df, SFTP writes, redirects and sqlite3 copies see the space as taken).
   * A negative number frees reserved bytes again.
   *
   * @throws Error when the volume does not exist.
   */
  fillVolume(volumeId: string, bytes: number): void {
    const volume = this.world.volumes.get(volumeId);
    if (volume === undefined) throw new Error(`volume ${volumeId} does not exist`);
    volume.reservedBytes = Math.max(0, volume.reservedBytes + bytes);
  }

  /**
   * Sets how many machines may run and volumes may exist in a region.
   *
   * @throws Error for a region that is not in the table.
   */
  setCapacity(region: string, capacity: { machines?: number; volumes?: number }): void {
    this.world.regions.setCapacity(region, capacity);
  }

  /** Injects a response (status, body, delay or reset) for matching API requests. */
  injectFault(spec: FaultSpec): FaultHandle {
    return this.faults.inject(spec);
  }

  /**
   * Takes a machine's host down: `host_status` becomes unreachable, lifecycle calls fail with
   * 503, and SSH accepts connections but never replies. By default the app stops too (a
   * power cut); `keepAppRunning` keeps it writing (a network partition).
   */
  async hostDown(machineId: string, options: { keepAppRunning?: boolean } = {}): Promise<void> {
    // NOTE: the stopped app closes its database cleanly (WAL checkpointed), unlike a real
    // power cut, which can leave the WAL behind.
    const machine = this.requireMachine(machineId);
    machine.hostDown = true;
    machine.appRunsWhileHostDown = options.keepAppRunning === true;
    await this.runtime.reconcile(machine, machine.state);
  }

  /** Brings a machine's host back, so a started machine serves SSH and runs its app again. */
  async hostUp(machineId: string): Promise<void> {
    const machine = this.requireMachine(machineId);
    machine.hostDown = false;
    machine.appRunsWhileHostDown = false;
    await this.runtime.reconcile(machine, machine.state);
  }

  /**
   * Cuts the machine's SSH connections once they carry `bytes` bytes (both directions),
   * for `times` connections (default 1). Applies to open connections and later ones, also
   * after the machine restarts. The handle counts the connections cut since this call.
   */
  dropSshAfterBytes(
    machineId: string,
    bytes: number,
    options: { times?: number } = {},
  ): SshDropHandle {
    this.requireMachine(machineId);
    return this.runtime.dropSshAfterBytes(machineId, bytes, options.times ?? 1);
  }

  /** Adds an authorized_keys line that may log in as root on every machine. */
  addAuthorizedKey(line: string): void {
    this.runtime.addAuthorizedKeys(parseAuthorizedKeys([line]));
  }

  /** Returns the simulated app of a machine: its committed row ids, whether it runs, its health URL. */
  appWriter(machineId: string): AppWriterView {
    this.requireMachine(machineId);
    return appWriterView(
      this.runtime.appLog(machineId),
      () => this.runtime.healthUrl(machineId) !== undefined,
      () => this.runtime.healthUrl(machineId),
    );
  }

  /**
   * Returns the app's public URL on 127.0.0.1 (standing in for https://<app>.fly.dev). Its
   * `GET /health` reaches a started, uncordoned machine whose app runs, else returns 503.
   *
   * @throws Error when the app does not exist.
   */
  async publicUrl(appName: string): Promise<string> {
    this.world.getApp(appName);
    let proxy = this.proxies.get(appName);
    if (proxy === undefined) {
      proxy = AppProxy.start(appName, () => {
        for (const machine of this.world.machines.values()) {
          if (machine.app !== appName || machine.state !== 'started' || machine.cordoned) continue;
          const healthUrl = this.runtime.healthUrl(machine.id);
          if (healthUrl !== undefined) return { machineId: machine.id, healthUrl };
        }
        return undefined;
      });
      this.proxies.set(appName, proxy);
    }
    return (await proxy).url;
  }

  /**
   * Returns the API requests handled so far, oldest first, with each route's action, key,
   * status and Fly's documented rate limit. The log keeps the last 100,000.
   */
  requests(): SimRequest[] {
    return this.requestLog.list();
  }

  /**
   * Counts the handled requests per action and key: the total, the 429 responses and the
   * most received within any `windowMs`, to compare with each action's rate limit.
   *
   * @throws RangeError when `windowMs` is not a number above 0.
   */
  requestSummary(windowMs = 1_000): SimRequestSummary[] {
    return this.requestLog.summary(windowMs);
  }

  /** Forgets the requests recorded so far. */
  clearRequests(): void {
    this.requestLog.clear();
  }

  /** Returns every invariant violation seen so far (database written under a running app, two writers). */
  violations(): Violation[] {
    return this.world.violations.list();
  }

  /** Failures inside the sim (e.g. an SSH server that could not listen), for diagnosis. */
  runtimeErrors(): string[] {
    return [...this.world.runtimeErrors];
  }

  /** Waits until every machine's SSH server and app match its state. */
  settle(): Promise<void> {
    return this.runtime.settle();
  }

  /** Stops every timer, SSH server, app and the HTTP server, and removes a temporary data folder. */
  async close(): Promise<void> {
    if (this.world.isClosed) return;
    this.world.close();
    await this.runtime.close();
    await this.server.close();
    const proxies = await Promise.allSettled(this.proxies.values());
    await Promise.all(proxies.map((p) => (p.status === 'fulfilled' ? p.value.close() : undefined)));
    await new Promise<void>((resolve) => this.portReservation.close(() => resolve()));
    if (this.ownsDataDir) rmSync(this.world.dataDir, { recursive: true, force: true });
  }

  private requireMachine(machineId: string) {
    const machine = this.world.machines.get(machineId);
    if (machine === undefined)
      throw new Error(`machine ${machineId} does not exist; seed it first`);
    return machine;
  }
}

/**
 * Holds a port on 127.0.0.1 for the sim's lifetime, so that no other sim in this or another
 * process picks the same SSH port. Connections to it are closed at once.
 */
function reservePort(port: number): Promise<NetServer> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/**
 * Starts a simulated Fly on 127.0.0.1.
 *
 * @throws Error when an option is invalid (e.g. an authorized key line) or a port cannot be bound.
 */
export async function startSim(options: SimOptions = {}): Promise<Sim> {
  const authorizedKeys = parseAuthorizedKeys(options.authorizedKeys ?? []);
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'flydr-sim-'));
  const token = options.token ?? `flydr-sim-${randomBytes(16).toString('hex')}`;

  const world = new SimWorld(options, dataDir);
  const portReservation = await reservePort(options.sshPort ?? 0);
  const sshPort = (portReservation.address() as AddressInfo).port;
  const runtime = new MachineRuntime(world, {
    sshPort,
    authorizedKeys,
    writeIntervalMs: options.writeIntervalMs ?? 25,
  });

  const faults = new FaultRegistry();
  const env = { world, token, faults, rateLimiter: new RateLimiter(), requests: new RequestLog() };
  const routes = allRoutes(env, (machine, argv, stdin) => runtime.exec(machine, argv, stdin));
  const handlers = routeHandlers(routes, env);
  const server = await serveHandlers(handlers);

  return new Sim(
    world,
    runtime,
    server,
    portReservation,
    faults,
    ownsDataDir,
    token,
    sshPort,
    handlers,
    routes.map(({ method, path, action }) => ({ method, path, action })),
    env.requests,
  );
}
