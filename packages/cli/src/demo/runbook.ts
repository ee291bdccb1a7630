import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatDuration, type Output } from '../output.js';
import { checkCommittedRows, checkSameContent, type InvariantResult } from './content-check.js';
import {
  createDemoWorld,
  DEMO_APP,
  type DemoWorld,
  PRIMARY_REGION,
  STANDBY_REGION,
} from './demo-world.js';
import { type InnerCliTarget, runInnerCli } from './inner-cli.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** SQLite file to run the runbook on a copy of; default the generated schedule database. */
  databaseFile?: string;
  /** Seconds after the failover until the simulated nrt capacity returns. @default 5 */
  capacityReturnsAfterS?: number;
}

/** Measured outcome of one failover or failback in the demo. */
export interface DemoMove {
  operationId: string;
  from: string;
  to: string;
  targetMachineId: string;
  rpoMs: number;
  rtoMs: number;
}

/** Outcome of the demo, printed as text or as the `--json` document. */
export interface DemoResult {
  ok: boolean;
  app: string;
  durationMs: number;
  database: string;
  failover: DemoMove;
  failback: DemoMove;
  rowsWrittenDuringRun: number;
  invariants: InvariantResult[];
}

/**
 * Runs the runbook against fly-sim: standby prepare in sin, backup, capacity check, nrt
 * runs out of capacity, failover to sin while the app writes, row check, capacity returns,
 * failback, row and content checks. Every step is a `flydr` command run through `main()`.
 *
 * @throws CliError (exit 1) when a step fails, or (exit 4) after Ctrl-C; the result's `ok`
 *   is false when an invariant does not hold.
 */
export async function runDemo(options: DemoOptions, io: CliIo, out: Output): Promise<DemoResult> {
  const startedAt = Date.now();
  const say = (text: string) => out.note(text);
  say(`starting a simulated Fly on 127.0.0.1 with ${DEMO_APP} in ${PRIMARY_REGION}`);
  const world = await createDemoWorld(options.databaseFile);

  // Ctrl-C stops the simulator and removes its files; the step that runs then fails.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    out.warn('interrupted: stopping the simulator and removing its files');
    void world.close();
  };
  process.once('SIGINT', onSignal);
  try {
    return await runbook(world, options, io, out, startedAt);
  } catch (error) {
    if (!interrupted) throw error;
    throw new CliError(
      'demo interrupted: the simulator was stopped and its files removed',
      ExitCode.Interrupted,
      'run `flydr demo` again to watch the whole runbook',
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    await world.close();
  }
}

async function runbook(
  world: DemoWorld,
  options: DemoOptions,
  io: CliIo,
  out: Output,
  startedAt: number,
): Promise<DemoResult> {
  const { sim } = world;
  const say = (text: string) => out.note(text);
  const sayCapacity = (document: Record<string, unknown>) => {
    const rows = document.regions as { region: string; canPlace: boolean; count: number }[];
    say(
      `   ${rows.map((row) => `${row.region}: ${row.canPlace ? 'has capacity' : 'no capacity'}`).join(', ')}`,
    );
  };
  const target: InnerCliTarget = {
    apiUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    sshPort: sim.sshPort,
    token: sim.token,
    flyTomlPath: world.flyTomlPath,
    stateDir: world.stateDir,
    cwd: world.dir,
  };
  let stepNumber = 0;
  const step = async (title: string, args: string[]) => {
    stepNumber += 1;
    say(`\n${out.style('bold', `${stepNumber}. ${title}`)}  $ flydr ${args.join(' ')}`);
    return runInnerCli(target, args, io.stderr, io.env);
  };

  const nrtWriter = sim.appWriter(world.primaryMachineId);
  await waitForRows(() => nrtWriter.committedIds().length, 10);
  say(
    `the app is live on machine ${world.primaryMachineId} in ${PRIMARY_REGION}, database ${world.userTables.length} tables + ${nrtWriter.committedIds().length} live rows so far`,
  );

  const standby = await step(`prepare the standby in ${STANDBY_REGION}`, [
    'standby',
    'prepare',
    '--region',
    STANDBY_REGION,
    '--machine',
  ]);
  say(
    `   volume ${String(standby.volumeId)} (${String(standby.sizeGb)} GB) and stopped machine ${String(standby.machineId)} in ${STANDBY_REGION}`,
  );
  const backup = (await step('back up the live database', ['backup'])).backup as { id: number };
  say(`   backup ${backup.id} verified`);
  sayCapacity(await step('check capacity', ['regions', PRIMARY_REGION, STANDBY_REGION]));

  sim.setCapacity(PRIMARY_REGION, { machines: 0 });
  say(`\n${PRIMARY_REGION} runs out of capacity (simulated)`);
  const noRoom = await step('check capacity again', ['regions', PRIMARY_REGION, STANDBY_REGION]);
  sayCapacity(noRoom);
  const nrtRow = (noRoom.regions as { region: string; canPlace: boolean }[]).find(
    (row) => row.region === PRIMARY_REGION,
  );

  const rowsBefore = nrtWriter.committedIds().length;
  const failover = move(
    await step(`fail over to ${STANDBY_REGION} while the app writes`, [
      'failover',
      '--to',
      STANDBY_REGION,
    ]),
  );
  const nrtIds = nrtWriter.committedIds();
  say(
    `   ${nrtIds.length - rowsBefore} rows were committed in ${PRIMARY_REGION} while the failover ran; RPO ${formatDuration(failover.rpoMs)}, RTO ${formatDuration(failover.rtoMs)}`,
  );

  const sinWriter = sim.appWriter(failover.targetMachineId);
  await waitForRows(() => sinWriter.committedIds().length, 5);
  const afterFailover = (await step(`back up the new primary in ${STANDBY_REGION}`, ['backup']))
    .backup as { path: string };
  const failoverRows = checkCommittedRows(
    `rows committed in ${PRIMARY_REGION} before the fence are in ${STANDBY_REGION}`,
    afterFailover.path,
    nrtIds,
  );
  say(`   ${failoverRows.ok ? 'ok' : 'FAILED'}: ${failoverRows.detail}`);

  const delayS = options.capacityReturnsAfterS ?? 5;
  say(`\n${PRIMARY_REGION} capacity returns in ${delayS}s (simulated)`);
  const capacityTimer = setTimeout(() => {
    sim.setCapacity(PRIMARY_REGION, { machines: Number.POSITIVE_INFINITY });
    say(`   (${PRIMARY_REGION} has capacity again)`);
  }, delayS * 1000);
  let failback: DemoMove;
  try {
    failback = move(
      await step(`fail back to ${PRIMARY_REGION} once it has capacity`, [
        'failback',
        '--to',
        PRIMARY_REGION,
        '--wait-for-capacity',
        '2m',
      ]),
    );
  } finally {
    clearTimeout(capacityTimer);
  }
  const sinIds = sinWriter.committedIds();
  say(`   RPO ${formatDuration(failback.rpoMs)}, RTO ${formatDuration(failback.rtoMs)}`);

  const finalWriter = sim.appWriter(failback.targetMachineId);
  await waitForRows(() => finalWriter.committedIds().length, nrtIds.length + 5);
  const final = (await step(`back up the primary in ${PRIMARY_REGION}`, ['backup'])).backup as {
    path: string;
  };
  const status = await step('show the final state', ['status']);
  const primary = status.primary as { machineId: string; region: string } | null;
  say(`   primary: ${primary?.machineId ?? 'none'} in ${primary?.region ?? '-'}`);

  const invariants: InvariantResult[] = [
    {
      name: `${PRIMARY_REGION} had no capacity before the failover`,
      ok: nrtRow?.canPlace === false,
      detail:
        nrtRow?.canPlace === false ? 'placements found no room' : 'placements still found room',
    },
    failoverRows,
    checkCommittedRows(
      `rows committed in ${STANDBY_REGION} before the failback fence are in ${PRIMARY_REGION}`,
      final.path,
      sinIds,
    ),
    checkCommittedRows(
      `the first ${PRIMARY_REGION} rows survive the round trip`,
      final.path,
      nrtIds,
    ),
    checkSameContent(world.originalPath, final.path),
    {
      name: 'one writer at a time, no database written under a running app',
      ok: sim.violations().length === 0,
      detail:
        sim.violations().length === 0
          ? 'the simulator recorded no violation'
          : sim
              .violations()
              .map((v) => v.kind)
              .join(', '),
    },
    {
      name: `the app runs only in ${PRIMARY_REGION} at the end`,
      ok: finalWriter.running() && !sinWriter.running() && failback.to === PRIMARY_REGION,
      detail: `${PRIMARY_REGION} writer ${finalWriter.running() ? 'running' : 'stopped'}, ${STANDBY_REGION} writer ${sinWriter.running() ? 'running' : 'stopped'}`,
    },
  ];

  return {
    ok: invariants.every((invariant) => invariant.ok),
    app: DEMO_APP,
    durationMs: Date.now() - startedAt,
    database: options.databaseFile ?? 'generated live-schedule database',
    failover,
    failback,
    rowsWrittenDuringRun: finalWriter.committedIds().length + sinIds.length,
    invariants,
  };
}

function move(document: Record<string, unknown>): DemoMove {
  return {
    operationId: String(document.operationId),
    from: String(document.from),
    to: String(document.to),
    targetMachineId: String(document.targetMachineId),
    rpoMs: Number(document.rpoMs),
    rtoMs: Number(document.rtoMs),
  };
}

/** Waits until `count()` reaches `minimum`, for at most 20 seconds. */
async function waitForRows(count: () => number, minimum: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (count() < minimum) {
    if (Date.now() > deadline) {
      throw new CliError(
        `demo: the simulated app committed ${count()} rows in 20 s, expected at least ${minimum}`,
        ExitCode.OperationFailed,
        'run the demo again; if it repeats, the machine is too busy for the simulator',
      );
    }
    await sleep(50);
  }
}
