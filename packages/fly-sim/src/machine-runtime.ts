import type { ParsedKey } from 'ssh2';
import type { CommandContext } from './commands/command-context.js';
import type { CommandResult } from './commands/command-result.js';
import { MachineFiles } from './commands/machine-files.js';
import { runArgv } from './commands/run-command.js';
import { type AppWriterLog, LiveApp } from './live-app.js';
import { initOverridesApp, type MachineRecord } from './model.js';
import { openSshPrivateKey } from './ssh/ed25519-keys.js';
import { MachineSshServer } from './ssh/machine-ssh-server.js';
import { volumeUsedBytes } from './volumes.js';
import type { SimWorld } from './world.js';

/** Suffixes of the files that make up a SQLite database. */
const DATABASE_FILES = ['', '-wal', '-shm', '-journal'];

/** Processes of one machine: its SSH server and its app, plus the app's log. */
interface MachineProcesses {
  ssh?: MachineSshServer;
  app?: LiveApp;
  log: AppWriterLog;
  /** Reconciles run one after another per machine. */
  queue: Promise<void>;
  drop?: { bytes: number; times: number };
  /** Connections cut by the armed drops, over restarts. */
  sshCuts: number;
}

/** Settings of the runtime. */
export interface RuntimeSettings {
  sshPort: number;
  authorizedKeys: ParsedKey[];
  writeIntervalMs: number;
}

/**
 * Runs the processes of started machines: one SSH server per machine on its private_ip and
 * the simulated app with its writer. It follows the machines' states and hosts.
 */
export class MachineRuntime {
  private readonly processes = new Map<string, MachineProcesses>();
  private closed = false;

  constructor(
    private readonly world: SimWorld,
    private readonly settings: RuntimeSettings,
  ) {
    world.onMachineChange = (machine) => {
      void this.reconcile(machine, machine.state);
    };
    world.prepare = (machine, state) => this.reconcile(machine, state, true);
    world.appRunning = (id) => this.processes.get(id)?.app !== undefined;
  }

  private entry(machineId: string): MachineProcesses {
    let entry = this.processes.get(machineId);
    if (entry === undefined) {
      entry = { log: { committedIds: [], errors: [] }, queue: Promise.resolve(), sshCuts: 0 };
      this.processes.set(machineId, entry);
    }
    return entry;
  }

  /** Adds keys that may log in on every machine. */
  addAuthorizedKeys(keys: ParsedKey[]): void {
    this.settings.authorizedKeys.push(...keys);
  }

  /** Returns the app log of a machine (empty until its app first runs). */
  appLog(machineId: string): AppWriterLog {
    return this.entry(machineId).log;
  }

  /** Returns the health URL of the machine's running app, if it runs. */
  healthUrl(machineId: string): string | undefined {
    return this.processes.get(machineId)?.app?.healthUrl;
  }

  /** Path of the app's database on the machine, or undefined without a volume. */
  databasePath(machine: MachineRecord): string | undefined {
    const mount = machine.config.mounts?.[0];
    if (mount === undefined) return undefined;
    const image = this.world.image(machine.config.image);
    return (
      machine.config.env?.DATABASE_PATH ??
      image.databasePath ??
      `${mount.path.replace(/\/$/, '')}/app.db`
    );
  }

  /** Returns the machine's files: its volume at the mount path. */
  files(machine: MachineRecord): MachineFiles {
    const mount = machine.config.mounts?.[0];
    const volume = mount === undefined ? undefined : this.world.volumes.get(mount.volume);
    const databasePath = this.databasePath(machine);
    return new MachineFiles(
      mount?.path.replace(/\/$/, ''),
      volume?.dir,
      (guestPath, operation) => {
        const app = this.processes.get(machine.id)?.app;
        if (app === undefined || databasePath === undefined) return;
        if (!DATABASE_FILES.some((suffix) => guestPath === `${databasePath}${suffix}`)) return;
        this.world.violations.add({
          kind: 'database-written-while-app-running',
          app: machine.app,
          machineId: machine.id,
          path: guestPath,
          operation,
          at: new Date(),
        });
      },
      () => ({
        capacityBytes: (volume?.sizeGb ?? 0) * 1024 ** 3,
        usedBytes: volume === undefined ? 0 : volumeUsedBytes(volume),
      }),
    );
  }

  /** Returns the context that commands run in on this machine. */
  commandContext(machine: MachineRecord): Omit<CommandContext, 'stdin'> {
    return {
      machineId: machine.id,
      files: this.files(machine),
      image: this.world.image(machine.config.image),
      env: {
        ...machine.config.env,
        FLY_MACHINE_ID: machine.id,
        FLY_APP_NAME: machine.app,
        FLY_REGION: machine.region,
        FLY_PRIVATE_IP: machine.privateIp,
        FLY_IMAGE_REF: machine.config.image,
        FLY_MACHINE_VERSION: machine.instanceId,
      },
    };
  }

  /** Runs a command on a machine, as the exec API does. */
  exec(machine: MachineRecord, argv: string[], stdin: Buffer): Promise<CommandResult> {
    return runArgv(argv, { ...this.commandContext(machine), stdin: async () => stdin });
  }

  /**
   * Arms a byte-count drop on the machine's SSH connections, now and after restarts, where a
   * restarted server gets the cuts that are left. Returns a view of the cut count.
   */
  dropSshAfterBytes(machineId: string, bytes: number, times: number): { readonly cuts: number } {
    const entry = this.entry(machineId);
    const start = entry.sshCuts;
    entry.drop = { bytes, times };
    entry.ssh?.dropAfterBytes(bytes, times, () => this.countCut(entry));
    return {
      get cuts() {
        return entry.sshCuts - start;
      },
    };
  }

  private countCut(entry: MachineProcesses): void {
    entry.sshCuts += 1;
    if (entry.drop === undefined) return;
    entry.drop.times -= 1;
    if (entry.drop.times <= 0) entry.drop = undefined;
  }

  /** Waits until every machine's processes match its current state. */
  async settle(): Promise<void> {
    await Promise.all([...this.processes.values()].map((entry) => entry.queue));
  }

  /**
   * Brings a machine's processes in line with `state`. With `strict`, a failure to start
   * rejects (the transition then fails); otherwise it is recorded in runtimeErrors.
   */
  reconcile(machine: MachineRecord, state: string, strict = false): Promise<void> {
    const entry = this.entry(machine.id);
    const run = entry.queue.then(() => this.apply(machine, entry, state));
    entry.queue = run.catch((error: unknown) => {
      this.world.runtimeErrors.push(`machine ${machine.id}: ${(error as Error).message}`);
    });
    return strict ? run : entry.queue;
  }

  private async apply(
    machine: MachineRecord,
    entry: MachineProcesses,
    state: string,
  ): Promise<void> {
    const running = state === 'started' && !this.closed;
    const databasePath = this.databasePath(machine);
    const appHalted = machine.hostDown && !machine.appRunsWhileHostDown;
    const wantApp =
      running && !initOverridesApp(machine.config) && databasePath !== undefined && !appHalted;

    if (running && entry.ssh === undefined) {
      const ssh = new MachineSshServer({
        address: machine.privateIp,
        port: this.settings.sshPort,
        hostKey: openSshPrivateKey(machine.hostKey),
        authPolicy: () => ({
          caBlob: this.world.org(this.world.getApp(machine.app).orgSlug).sshCa.publicBlob,
          authorizedKeys: this.settings.authorizedKeys,
        }),
        commandContext: () => this.commandContext(machine),
      });
      await ssh.start();
      if (entry.drop !== undefined) {
        ssh.dropAfterBytes(entry.drop.bytes, entry.drop.times, () => this.countCut(entry));
      }
      entry.ssh = ssh;
    }
    entry.ssh?.setUnresponsive(machine.hostDown);
    if (!running && entry.ssh !== undefined) {
      const ssh = entry.ssh;
      entry.ssh = undefined;
      await ssh.stop();
    }

    if (wantApp && entry.app === undefined && databasePath !== undefined) {
      this.checkSplitBrain(machine);
      const files = this.files(machine);
      entry.app = await LiveApp.start({
        machineId: machine.id,
        region: machine.region,
        databaseFile: files.hostPath(databasePath),
        writeIntervalMs: this.settings.writeIntervalMs,
        log: entry.log,
      });
    }
    if (!wantApp && entry.app !== undefined) {
      const app = entry.app;
      entry.app = undefined;
      await app.stop();
    }
  }

  private checkSplitBrain(machine: MachineRecord): void {
    for (const [id, other] of this.processes) {
      if (id === machine.id || other.app === undefined) continue;
      if (this.world.machines.get(id)?.app !== machine.app) continue;
      this.world.violations.add({
        kind: 'two-writers',
        app: machine.app,
        machineIds: [id, machine.id],
        at: new Date(),
      });
    }
  }

  /** Stops every SSH server and app. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
    await Promise.all(
      [...this.processes.values()].map(async (entry) => {
        const { ssh, app } = entry;
        entry.ssh = undefined;
        entry.app = undefined;
        await Promise.all([ssh?.stop(), app?.stop()]);
      }),
    );
  }
}
