import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlyClient } from '@flydr/fly-client';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { CliError, ExitCode, UsageError } from '../exit-codes.js';
import { createScheduleDatabase } from './schedule-database.js';

/** The runbook's app, regions and mount. */
export const DEMO_APP = 'live-schedule-api';
export const PRIMARY_REGION = 'nrt';
export const STANDBY_REGION = 'sin';
export const MOUNT_PATH = '/app/data';
export const DATABASE_PATH = `${MOUNT_PATH}/app.db`;

/** Table the simulated app inserts a row into every interval. */
export const WRITES_TABLE = 'writes';

/**
 * Sim latencies: Fly's usual transition times for a small machine, halved so the whole
 * runbook runs in about a minute on two cores.
 */
export const DEMO_LATENCIES = {
  createMs: 200,
  startMs: 750,
  stopMs: 500,
  updateMs: 1_250,
  suspendMs: 750,
  destroyMs: 400,
};

/** A running simulated Fly with the runbook's app on its primary machine. */
export interface DemoWorld {
  sim: Sim;
  /** Folder with fly.toml, the state directory and the pristine copy of the database. */
  dir: string;
  flyTomlPath: string;
  stateDir: string;
  primaryMachineId: string;
  /** Copy of the database as it was placed on the volume, to compare with at the end. */
  originalPath: string;
  /** Tables of the original database, which must come back unchanged. */
  userTables: string[];
  close(): Promise<void>;
}

/**
 * Starts fly-sim on 127.0.0.1 and deploys the demo app: a volume and a machine in nrt
 * with the schedule database (or a copy of `databaseFile`) at /app/data/app.db, and the
 * simulated app writing to it.
 *
 * @throws UsageError when `databaseFile` is not a SQLite database the app can write to.
 */
export async function createDemoWorld(databaseFile: string | undefined): Promise<DemoWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'flydr-demo-'));
  const originalPath = join(dir, 'original.db');
  try {
    if (databaseFile === undefined) createScheduleDatabase(originalPath);
    else await copyUserDatabase(databaseFile, originalPath);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const userTables = listTables(originalPath);
  const startSim = await loadSimulator().catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  const sim = await startSim({
    latencies: DEMO_LATENCIES,
    writeIntervalMs: 40,
    dataDir: join(dir, 'sim'),
  });

  const close = async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    sim.createApp(DEMO_APP, { primaryRegion: PRIMARY_REGION });
    const seeded = await sim.seedMachine(DEMO_APP, {
      region: PRIMARY_REGION,
      mountPath: MOUNT_PATH,
      volumeName: 'data',
      volumeSizeGb: 1,
      skipLaunch: true,
    });
    copyFileSync(originalPath, join(sim.volumeDir(seeded.volumeId), 'app.db'));

    // `fly deploy` would start it; here the Machines API call does.
    const client = createFlyClient({ token: sim.token, baseUrl: sim.apiUrl, rateLimit: false });
    await client.machines.start(DEMO_APP, seeded.machineId);
    await client.machines.wait(DEMO_APP, seeded.machineId, { state: 'started', timeoutMs: 30_000 });
    await sim.settle();

    const flyTomlPath = join(dir, 'fly.toml');
    writeFileSync(flyTomlPath, demoFlyToml());
    return {
      sim,
      dir,
      flyTomlPath,
      stateDir: join(dir, 'state'),
      primaryMachineId: seeded.machineId,
      originalPath,
      userTables,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Loads fly-sim. Only the demo does, so no other command loads the simulator.
 *
 * @throws CliError when the package cannot be loaded (not built, or broken).
 */
async function loadSimulator(): Promise<typeof import('@flydr/fly-sim').startSim> {
  try {
    return (await import('@flydr/fly-sim')).startSim;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new CliError(
      `demo: the simulator package @flydr/fly-sim could not be loaded: ${reason}`,
      ExitCode.OperationFailed,
      'build the workspace with `pnpm install --frozen-lockfile && pnpm run build` (or `npm run demo`), then run the demo again',
      { cause: error },
    );
  }
}

/** fly.toml of the runbook's app. */
export function demoFlyToml(): string {
  return [
    `app = "${DEMO_APP}"`,
    `primary_region = "${PRIMARY_REGION}"`,
    '',
    '[http_service]',
    '  internal_port = 8080',
    '  force_https = true',
    '',
    '[[http_service.checks]]',
    '  method = "GET"',
    '  path = "/health"',
    '',
    '[mounts]',
    '  source = "data"',
    `  destination = "${MOUNT_PATH}"`,
    '',
  ].join('\n');
}

/**
 * Copies a user's SQLite file (with anything still in its WAL) to `target` in WAL mode,
 * as the app keeps it.
 *
 * @throws UsageError when the file is missing, not SQLite, or already has a `writes`
 *   table, which the simulated app needs for its own rows.
 */
async function copyUserDatabase(source: string, target: string): Promise<void> {
  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
    db.pragma('schema_version');
  } catch (error) {
    throw new UsageError(
      `invalid --database ${JSON.stringify(source)}: ${(error as Error).message}`,
      'pass the path of a SQLite database file, such as test/fixtures/chinook.sqlite',
    );
  }
  try {
    const clash = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?")
      .get(WRITES_TABLE);
    if (clash !== undefined) {
      throw new UsageError(
        `invalid --database ${JSON.stringify(source)}: it has a table named ${WRITES_TABLE}, which the simulated app writes its own rows to`,
        `rename that table in a copy of the file, or run the demo without --database`,
      );
    }
    await db.backup(target);
  } finally {
    db.close();
  }

  const copy = new Database(target);
  try {
    copy.pragma('journal_mode = WAL');
  } finally {
    copy.close();
  }
}

/** Names of the user tables of a database file. */
export function listTables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db
        .prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all() as { name: string }[]
    ).map((row) => row.name);
  } finally {
    db.close();
  }
}
