import { access, constants, mkdir } from 'node:fs/promises';
import { mountHolding } from '@flydr/dr-core';
import type { FlyClient, Machine } from '@flydr/fly-client';
import type { CommandDefinition } from '../command.js';
import type { CommandContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { resolveToken } from '../token.js';

/** Outcome of one doctor check. */
interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  hint?: string;
}

/** `flydr doctor`: checks each link flydr needs, from the token to sqlite3 on the machine. */
export const doctorCommand: CommandDefinition = {
  command: 'doctor',
  describe: 'check the token, app, API, SSH path and sqlite3 on the machine, with fixes',
  examples: [
    ['flydr doctor', 'check everything for the app in ./fly.toml'],
    ['flydr doctor --transport exec', 'check the exec path (no WireGuard needed)'],
    [
      'flydr doctor --ssh-address 127.0.0.1:10022',
      'check SSH through a `fly proxy 10022:22` tunnel',
    ],
  ],

  async run(_args, context) {
    const checks: Check[] = [];
    const add = (check: Check) => {
      checks.push(check);
      const mark = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }[check.status];
      context.out.line(`${mark}  ${check.name}: ${check.detail}`);
      if (check.hint && check.status !== 'ok') context.out.line(`      next: ${check.hint}`);
    };

    await runChecks(context, add);

    const failed = checks.filter((check) => check.status === 'fail');
    context.out.result({ ok: failed.length === 0, checks });
    if (failed.length > 0) {
      throw new CliError(
        `${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((c) => c.name).join(', ')}`,
        ExitCode.OperationFailed,
        failed[0]?.hint,
      );
    }
  },
};

async function runChecks(context: CommandContext, add: (check: Check) => void): Promise<void> {
  const token = await resolveToken(context.io.env).catch(() => undefined);
  if (token === undefined) {
    add({
      name: 'token',
      status: 'fail',
      detail: 'no Fly API token in FLY_API_TOKEN, FLY_ACCESS_TOKEN or ~/.fly/config.yml',
      hint: 'run `fly auth login`, or export FLY_API_TOKEN="$(fly tokens create deploy)"',
    });
    return;
  }
  add({ name: 'token', status: 'ok', detail: `found in ${token.source} (not shown)` });

  const app = await checkStep(add, 'app', () => context.appName());
  if (app === undefined) return;
  const databasePath = await checkStep(add, 'database path', () => context.databasePath());
  await checkStep(add, 'state directory', async () => {
    const dir = await context.stateDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK);
    return dir;
  });

  const client = await context.client();
  const reached = await checkStep(add, 'Machines API', async () => {
    const found = await client.apps.get(app);
    return `app ${found.name} in org ${found.organization?.slug ?? '?'} (${context.args.apiUrl ?? 'https://api.machines.dev'})`;
  });
  if (reached === undefined || databasePath === undefined) return;

  const machine = await checkStep(
    add,
    'database machine',
    () => findMachine(client, app, databasePath),
    {
      detail: (m) => `${m.id} in ${m.region} (${m.state})`,
    },
  );
  if (machine === undefined) return;
  await checkMachineAccess(context, machine, add);
}

async function findMachine(client: FlyClient, app: string, databasePath: string): Promise<Machine> {
  const machines = await client.machines.list(app);
  const mounting = machines.filter((m) => mountHolding(m, databasePath) !== undefined);
  const started = mounting.find((m) => m.state === 'started');
  if (started === undefined) {
    throw new CliError(
      mounting.length === 0
        ? `no machine of ${app} mounts a volume holding ${databasePath}`
        : `no started machine mounts ${databasePath} (${mounting.map((m) => `${m.id} ${m.state}`).join(', ')})`,
      ExitCode.OperationFailed,
      'check --database-path against the mounts in fly.toml, or start the machine with `fly machine start`',
    );
  }
  return started;
}

async function checkMachineAccess(
  context: CommandContext,
  machine: Machine,
  add: (check: Check) => void,
): Promise<void> {
  const name = context.args.transport === 'ssh' ? 'SSH' : 'exec';
  const factory = await context.transportFactory();
  const transport = await checkStep(add, name, async () => factory(machine), {
    detail: (t) => `reached machine ${t.machineId} in ${machine.region}`,
    hint:
      context.args.transport === 'ssh'
        ? `the 6PN address ${machine.private_ip ?? '?'} needs WireGuard (\`fly wireguard create\`) or running inside Fly; or tunnel with \`fly proxy 10022:22 -a ${machine.id}\` and pass --ssh-address 127.0.0.1:10022; or use --transport exec`
        : 'check that the token may exec on the machine (a deploy token for this app)',
  });
  if (transport === undefined) return;

  try {
    const found = await transport.exec(['command', '-v', 'sqlite3'], { allowFailure: true });
    add(
      found.exitCode === 0
        ? { name: 'sqlite3', status: 'ok', detail: found.stdout.toString('utf8').trim() }
        : {
            name: 'sqlite3',
            status: 'warn',
            detail: 'not on the image; backups use the slower copy-validate strategy',
            hint: 'add sqlite3 to the image (e.g. `apt-get install -y sqlite3`) for sqlite3 .backup snapshots',
          },
    );
  } finally {
    await transport.close().catch(() => {});
  }
}

async function checkStep<T>(
  add: (check: Check) => void,
  name: string,
  run: () => Promise<T>,
  describe: { detail?: (value: T) => string; hint?: string } = {},
): Promise<T | undefined> {
  try {
    const value = await run();
    add({ name, status: 'ok', detail: describe.detail?.(value) ?? String(value) });
    return value;
  } catch (error) {
    const { message, hint } = error as Error & { hint?: string };
    add({
      name,
      status: 'fail',
      detail: message,
      ...((describe.hint ?? hint) ? { hint: describe.hint ?? hint } : {}),
    });
    return undefined;
  }
}
