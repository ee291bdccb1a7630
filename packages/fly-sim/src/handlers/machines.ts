import { badRequest, SimApiError } from '../api-error.js';
import { machineJson } from '../api-json.js';
import { LEASE_NONCE_HEADER, requireLeaseNonce } from '../leases.js';
import {
  createMachine,
  destroyMachine,
  invalidState,
  restartMachine,
  startMachine,
  stopMachine,
  suspendMachine,
  updateMachine,
} from '../machine-lifecycle.js';
import type { MachineRecord } from '../model.js';
import { FLY_GET_MACHINE_RATE } from '../rate-limit.js';
import { jsonResponse, type RouteContext, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

/** States that `wait` accepts. */
const WAITABLE = new Set(['started', 'stopped', 'suspended', 'destroyed', 'failed', 'settled']);

/** States that count as settled for `wait?state=settled`. */
const SETTLED = ['started', 'stopped', 'suspended', 'failed', 'destroyed'];

function machineOf(world: SimWorld, context: RouteContext): MachineRecord {
  return world.getMachine(context.params.app ?? '', context.params.id ?? '');
}

/** Returns the machine after checking the lease nonce for a mutation. */
function leasedMachine(world: SimWorld, context: RouteContext, action: string): MachineRecord {
  const machine = machineOf(world, context);
  requireLeaseNonce(machine, context.request.headers.get(LEASE_NONCE_HEADER), action);
  return machine;
}

function matchesListQuery(machine: MachineRecord, query: URLSearchParams): boolean {
  if (query.get('include_deleted') !== 'true' && machine.state === 'destroyed') return false;
  if (Date.now() < machine.visibleAt) return false;

  const region = query.get('region');
  if (region !== null && region !== '' && machine.region !== region) return false;

  const states = query
    .getAll('state')
    .flatMap((s) => s.split(','))
    .filter((s) => s !== '');
  if (states.length > 0 && !states.includes(machine.state)) return false;

  for (const [key, value] of query) {
    if (key.startsWith('metadata.') && machine.config.metadata?.[key.slice(9)] !== value) {
      return false;
    }
  }
  return true;
}

/** Parses `state` of a wait request: repeated or comma-separated, "settled" expanded. */
function waitStates(query: URLSearchParams): Set<string> {
  const requested = query
    .getAll('state')
    .flatMap((s) => s.split(','))
    .filter((s) => s !== '');
  if (requested.length === 0) requested.push('started');
  const states = new Set<string>();
  for (const state of requested) {
    if (!WAITABLE.has(state)) {
      throw badRequest(`invalid state "${state}": wait accepts ${[...WAITABLE].join(', ')}`);
    }
    for (const s of state === 'settled' ? SETTLED : [state]) states.add(s);
  }
  return states;
}

/** Parses the wait timeout in seconds: default 60, clamped to 1..60 as Fly does. */
function waitTimeoutSeconds(query: URLSearchParams): number {
  const raw = query.get('timeout');
  if (raw === null || raw === '') return 60;
  const seconds = Number(raw.replace(/s$/, ''));
  if (!Number.isFinite(seconds)) throw badRequest(`invalid timeout "${raw}": expected seconds`);
  return Math.min(60, Math.max(1, Math.round(seconds)));
}

/** Routes of the Machines resource: CRUD, lifecycle actions, wait and events. */
export function machineRoutes(world: SimWorld): RouteSpec[] {
  const lifecycle = (
    action: string,
    run: (machine: MachineRecord, context: RouteContext) => Promise<unknown> | unknown,
  ): RouteSpec => ({
    method: 'post',
    path: `/v1/apps/:app/machines/:id/${action}`,
    action: `machines.${action}`,
    handle: async (context) => {
      const machine = leasedMachine(world, context, action);
      const result = await run(machine, context);
      return jsonResponse(result ?? { ok: true });
    },
  });

  return [
    {
      method: 'get',
      path: '/v1/apps/:app/machines',
      action: 'machines.list',
      handle: ({ params, query }) => {
        world.getApp(params.app ?? '');
        const summary = query.get('summary') === 'true';
        const includeLease = query.get('include_leases') === 'true';
        const machines = [...world.machines.values()]
          .filter((m) => m.app === params.app && matchesListQuery(m, query))
          .map((m) => machineJson(world, m, { summary, includeLease }));
        return jsonResponse(machines);
      },
    },
    {
      method: 'post',
      path: '/v1/apps/:app/machines',
      action: 'machines.create',
      handle: async ({ params, body }) => {
        const { machine, nonce } = createMachine(world, params.app ?? '', await body());
        return jsonResponse(machineJson(world, machine, { nonce }));
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id',
      action: 'machines.get',
      rate: FLY_GET_MACHINE_RATE,
      handle: (context) => {
        const includeLease = context.query.get('include_leases') === 'true';
        return jsonResponse(machineJson(world, machineOf(world, context), { includeLease }));
      },
    },
    {
      method: 'post',
      path: '/v1/apps/:app/machines/:id',
      action: 'machines.update',
      handle: async (context) => {
        const machine = leasedMachine(world, context, 'update');
        updateMachine(world, machine, await context.body());
        return jsonResponse(machineJson(world, machine));
      },
    },
    {
      method: 'delete',
      path: '/v1/apps/:app/machines/:id',
      action: 'machines.delete',
      handle: (context) => {
        const machine = leasedMachine(world, context, 'destroy');
        const force = context.query.get('force') === 'true' || context.query.get('kill') === 'true';
        destroyMachine(world, machine, force);
        return jsonResponse({ ok: true });
      },
    },
    lifecycle('start', (machine) => {
      const previous = startMachine(world, machine);
      return { previous_state: previous, migrated: false, new_host: '' };
    }),
    lifecycle('stop', async (machine, context) => {
      const request = await context.body();
      const signal = request.signal;
      if (signal !== undefined && (typeof signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(signal))) {
        throw badRequest(`invalid signal ${JSON.stringify(signal)}: use a name such as SIGTERM`);
      }
      stopMachine(world, machine);
    }),
    lifecycle('restart', (machine) => restartMachine(world, machine)),
    lifecycle('suspend', (machine) => suspendMachine(world, machine)),
    lifecycle('cordon', (machine) => {
      if (machine.state === 'destroyed') throw invalidState(machine, 'cordon');
      machine.cordoned = true;
      world.recordEvent(machine, 'cordon', machine.state, 'user');
    }),
    lifecycle('uncordon', (machine) => {
      if (machine.state === 'destroyed') throw invalidState(machine, 'uncordon');
      machine.cordoned = false;
      world.recordEvent(machine, 'uncordon', machine.state, 'user');
    }),
    lifecycle('signal', async (machine, context) => {
      const request = await context.body();
      if (typeof request.signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(request.signal)) {
        throw badRequest(
          `invalid signal ${JSON.stringify(request.signal)}: use a name such as SIGHUP`,
        );
      }
      if (machine.state !== 'started') throw invalidState(machine, 'signal');
      // NOTE: the signal is only recorded as an event; the simulated app does not react to it.
      world.recordEvent(machine, 'signal', machine.state, 'user');
    }),
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/ps',
      action: 'machines.ps',
      handle: (context) => {
        const machine = machineOf(world, context);
        if (machine.state !== 'started') throw invalidState(machine, 'list processes of');
        const init = machine.config.init;
        const command = [init?.exec, init?.entrypoint, init?.cmd].find(
          (v) => Array.isArray(v) && v.length > 0,
        );
        return jsonResponse([
          { pid: 1, command: '/.fly/init', cpu: 0, rss: 4096 },
          { pid: 300, command: command?.join(' ') ?? 'app', cpu: 0, rss: 65536 },
        ]);
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/wait',
      action: 'machines.wait',
      handle: async (context) => {
        const machine = machineOf(world, context);
        const states = waitStates(context.query);
        const timeoutSeconds = waitTimeoutSeconds(context.query);
        const reached = await world.waitForState(machine, states, timeoutSeconds * 1000);
        if (reached === undefined) {
          throw new SimApiError(408, {
            error: `deadline_exceeded: machine ${machine.id} did not reach state ${[...states].join('|')} within ${timeoutSeconds}s (it is ${machine.state})`,
          });
        }
        return jsonResponse({
          ok: true,
          state: reached,
          version: machine.instanceId,
          event_id: machine.events[0]?.id ?? '',
        });
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/events',
      action: 'machines.events',
      handle: (context) => {
        const machine = machineOf(world, context);
        const raw = Number(context.query.get('limit') ?? 20);
        const limit = Number.isFinite(raw) ? Math.min(50, Math.max(1, Math.floor(raw))) : 20;
        return jsonResponse(machine.events.slice(0, limit));
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/versions',
      action: 'machines.versions',
      handle: (context) => {
        const machine = machineOf(world, context);
        return jsonResponse(
          machine.versions.map((v) => ({ version: v.version, user_config: v.config })),
        );
      },
    },
  ];
}
