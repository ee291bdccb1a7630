import { HttpResponse, http, type RequestHandler } from 'msw';
import { appBody, machineBody, regionsBody, volumeBody } from './fixtures.js';

/** One request as a handler saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

/** A scripted response: status, JSON body (or raw text) and headers. */
export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
  /** Delay before responding, in milliseconds. */
  delayMs?: number;
}

interface Script {
  method: string;
  path: RegExp;
  answers: ScriptedAnswer[];
}

interface LeaseState {
  nonce: string;
  expiresAt: number;
  owner: string;
  description: string;
}

const REQUEST_ID = '01JBX7A0D5Q2M8Y6W4R1C3E9TZ-nrt';

/**
 * A small stateful Fly Machines API for client tests: apps, machines, volumes, leases and
 * metadata, with scripted responses that override a route for the next N requests.
 * The handlers use `*`-prefixed paths so they run both in-process and on 127.0.0.1.
 */
export class FakeFly {
  readonly seen: SeenRequest[] = [];
  readonly machines = new Map<string, Record<string, unknown>>();
  readonly volumes = new Map<string, Record<string, unknown>>();
  readonly leases = new Map<string, LeaseState>();
  readonly metadata = new Map<string, Record<string, string>>();
  readonly #scripts: Script[] = [];
  #nextMachine = 0x148ed193b95100;

  constructor() {
    const machine = machineBody();
    this.machines.set(machine.id as string, machine);
    const volume = volumeBody();
    this.volumes.set(volume.id as string, volume);
    this.metadata.set(machine.id as string, { fly_process_group: 'app' });
  }

  /** Responds to the next requests matching method and path with `answers`, in order. */
  script(method: string, path: RegExp, ...answers: ScriptedAnswer[]): void {
    this.#scripts.push({ method, path, answers: [...answers] });
  }

  /** Requests whose method and path match. */
  requests(method?: string, path?: RegExp): SeenRequest[] {
    return this.seen.filter(
      (item) => (!method || item.method === method) && (!path || path.test(item.path)),
    );
  }

  get handlers(): RequestHandler[] {
    return buildHandlers(this);
  }

  /** Records the request and returns a scripted response, if one is due. */
  async intercept(request: Request): Promise<Response | undefined> {
    const url = new URL(request.url);
    const text = request.method === 'GET' ? '' : await request.clone().text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    this.seen.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
    });

    const script = this.#scripts.find(
      (item) =>
        item.method === request.method && item.path.test(url.pathname) && item.answers.length > 0,
    );
    const answer = script?.answers.shift();
    if (!answer) return undefined;
    if (answer.delayMs) await abortableDelay(answer.delayMs, request.signal);
    return toResponse(answer);
  }

  /** Returns the 409 a leased machine sends for a call without its nonce, if any. */
  leaseBlocks(machineId: string, request: Request): Response | undefined {
    const lease = this.leases.get(machineId);
    if (!lease || lease.expiresAt < Date.now() / 1000) return undefined;
    if (request.headers.get('fly-machine-lease-nonce') === lease.nonce) return undefined;
    return json(409, { error: `machine ${machineId} is currently leased by another client` });
  }

  newMachineId(): string {
    this.#nextMachine += 1;
    return this.#nextMachine.toString(16);
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function toResponse(answer: ScriptedAnswer): Response {
  const headers = { 'fly-request-id': REQUEST_ID, ...answer.headers };
  if (answer.text !== undefined) {
    return new HttpResponse(answer.text, {
      status: answer.status,
      headers: { 'content-type': 'text/plain', ...headers },
    });
  }
  if (answer.body === undefined) return new HttpResponse(null, { status: answer.status, headers });
  return HttpResponse.json(answer.body as Record<string, unknown>, {
    status: answer.status,
    headers,
  });
}

function json(status: number, body: unknown): Response {
  return HttpResponse.json(body as Record<string, unknown>, {
    status,
    headers: { 'fly-request-id': REQUEST_ID },
  });
}

function notFound(what: string): Response {
  return json(404, { error: `${what} not found` });
}

type Resolver = (request: Request, params: Record<string, string>) => Response | Promise<Response>;

function buildHandlers(fly: FakeFly): RequestHandler[] {
  const route =
    (resolver: Resolver) =>
    async ({ request, params }: { request: Request; params: Record<string, unknown> }) => {
      const scripted = await fly.intercept(request);
      if (scripted) return scripted;
      return resolver(request, params as Record<string, string>);
    };
  const machineOr404 = (id: string) => fly.machines.get(id);
  const base = '*/v1/apps/:app';

  return [
    http.get(
      '*/v1/platform/regions',
      route(() => json(200, regionsBody())),
    ),
    http.post(
      '*/v1/platform/placements',
      route(() => json(200, { regions: [{ region: 'sin', count: 3, concurrency: 1 }] })),
    ),
    http.post(
      '*/graphql',
      route(async (request) => graphql(request)),
    ),

    http.get(
      '*/v1/apps',
      route(() => json(200, { total_apps: 1, apps: [appBody()] })),
    ),
    http.post(
      '*/v1/apps',
      route(() => json(201, { id: 'a1b2c3d4e5', created_at: 1_730_520_000_000 })),
    ),
    http.get(
      base,
      route((_request, { app }) =>
        app === 'live-schedule-api' ? json(200, appBody()) : notFound(`app ${app}`),
      ),
    ),
    http.delete(
      base,
      route(() => new HttpResponse(null, { status: 202 })),
    ),

    http.get(
      `${base}/machines`,
      route(() => json(200, [...fly.machines.values()])),
    ),
    http.post(
      `${base}/machines`,
      route(async (request) => {
        const body = (await request.json()) as Record<string, unknown>;
        const machine = machineBody({
          id: fly.newMachineId(),
          name: body.name ?? 'quiet-sun-4821',
          region: typeof body.region === 'string' ? body.region.split(',')[0] : 'nrt',
          config: body.config,
          state: body.skip_launch ? 'created' : 'starting',
        });
        fly.machines.set(machine.id as string, machine);
        return json(200, machine);
      }),
    ),

    http.get(
      `${base}/machines/:id/wait`,
      route((_request, { id }) => {
        const machine = machineOr404(id as string);
        if (!machine) return notFound(`machine ${id}`);
        return json(200, {
          ok: true,
          state: machine.state,
          version: machine.instance_id,
          event_id: '01JBX6QB9E0Q4Z6F8M2V1T3K5N',
        });
      }),
    ),
    http.get(
      `${base}/machines/:id/lease`,
      route((_request, { id }) => {
        const lease = fly.leases.get(id as string);
        if (!lease) return notFound('lease');
        return json(200, {
          status: 'success',
          data: {
            nonce: lease.nonce,
            expires_at: lease.expiresAt,
            owner: lease.owner,
            description: lease.description,
            version: '01JBX6Q2T3SAWC7N5RW4E1K9ZD',
          },
        });
      }),
    ),
    http.post(
      `${base}/machines/:id/lease`,
      route(async (request, { id }) => {
        const body = (await request.json()) as { ttl?: number; description?: string };
        const held = fly.leases.get(id as string);
        const nonce = request.headers.get('fly-machine-lease-nonce');
        if (held && held.nonce !== nonce && held.expiresAt > Date.now() / 1000) {
          return json(409, { error: 'lease currently held by another client' });
        }
        const lease: LeaseState = {
          nonce:
            held && nonce === held.nonce
              ? held.nonce
              : `nonce-${Math.random().toString(16).slice(2, 14)}`,
          expiresAt: Math.floor(Date.now() / 1000) + (body.ttl ?? 30),
          owner: 'ops@example.com',
          description: body.description ?? '',
        };
        fly.leases.set(id as string, lease);
        return json(201, {
          status: 'success',
          data: {
            nonce: lease.nonce,
            expires_at: lease.expiresAt,
            owner: lease.owner,
            description: lease.description,
            version: '01JBX6Q2T3SAWC7N5RW4E1K9ZD',
          },
        });
      }),
    ),
    http.delete(
      `${base}/machines/:id/lease`,
      route((request, { id }) => {
        const held = fly.leases.get(id as string);
        if (!held) return notFound('lease');
        if (request.headers.get('fly-machine-lease-nonce') !== held.nonce) {
          return json(409, { error: 'lease nonce does not match' });
        }
        fly.leases.delete(id as string);
        return json(200, { ok: true });
      }),
    ),
    http.get(
      `${base}/machines/:id/metadata`,
      route((_request, { id }) => json(200, fly.metadata.get(id as string) ?? {})),
    ),
    http.post(
      `${base}/machines/:id/metadata/:key`,
      route(async (request, { id, key }) => {
        const blocked = fly.leaseBlocks(id as string, request);
        if (blocked) return blocked;
        const { value } = (await request.json()) as { value: string };
        fly.metadata.set(id as string, {
          ...fly.metadata.get(id as string),
          [key as string]: value,
        });
        return new HttpResponse(null, { status: 204 });
      }),
    ),
    http.delete(
      `${base}/machines/:id/metadata/:key`,
      route((_request, { id, key }) => {
        const entries = { ...fly.metadata.get(id as string) };
        delete entries[key as string];
        fly.metadata.set(id as string, entries);
        return new HttpResponse(null, { status: 204 });
      }),
    ),
    http.put(
      `${base}/machines/:id/metadata`,
      route(async (request, { id }) => {
        const { metadata } = (await request.json()) as { metadata: Record<string, string> };
        fly.metadata.set(id as string, metadata);
        return new HttpResponse(null, { status: 204 });
      }),
    ),
    http.patch(
      `${base}/machines/:id/metadata`,
      route(async (request, { id }) => {
        const { metadata } = (await request.json()) as { metadata: Record<string, string> };
        fly.metadata.set(id as string, { ...fly.metadata.get(id as string), ...metadata });
        return new HttpResponse(null, { status: 204 });
      }),
    ),
    http.get(
      `${base}/machines/:id/events`,
      route((_request, { id }) => json(200, machineOr404(id as string)?.events ?? [])),
    ),
    http.get(
      `${base}/machines/:id/versions`,
      route(() =>
        json(200, [{ version: '01JBX6Q2T3SAWC7N5RW4E1K9ZD', user_config: machineBody().config }]),
      ),
    ),
    http.get(
      `${base}/machines/:id/ps`,
      route(() =>
        json(200, [
          {
            pid: 1,
            command: 'node server.js',
            cpu: 3,
            rss: 81_920,
            listen_sockets: [{ address: '0.0.0.0:8080', proto: 'tcp' }],
          },
        ]),
      ),
    ),
    http.post(
      `${base}/machines/:id/exec`,
      route(async (request) => {
        const { command } = (await request.json()) as { command: string[] };
        if (command[0] === 'printenv') return json(200, { stdout: '148ed193b95089\n' });
        return json(200, { exit_code: 127, stdout: '', stderr: `sh: ${command[0]}: not found\n` });
      }),
    ),
    http.post(
      `${base}/machines/:id/:action`,
      route((request, { id, action }) => {
        const machine = machineOr404(id as string);
        if (!machine) return notFound(`machine ${id}`);
        const blocked = fly.leaseBlocks(id as string, request);
        if (blocked) return blocked;
        const next: Record<string, string> = {
          start: 'started',
          stop: 'stopped',
          suspend: 'suspended',
          restart: 'started',
        };
        const previous = machine.state;
        if (action && next[action]) machine.state = next[action];
        if (action === 'cordon' || action === 'uncordon') machine.cordoned = action === 'cordon';
        if (action === 'start')
          return json(200, { previous_state: previous, migrated: false, new_host: '' });
        return json(200, { ok: true });
      }),
    ),
    http.get(
      `${base}/machines/:id`,
      route((_request, { id }) => {
        const machine = machineOr404(id as string);
        return machine ? json(200, machine) : notFound(`machine ${id}`);
      }),
    ),
    http.post(
      `${base}/machines/:id`,
      route(async (request, { id }) => {
        const machine = machineOr404(id as string);
        if (!machine) return notFound(`machine ${id}`);
        const blocked = fly.leaseBlocks(id as string, request);
        if (blocked) return blocked;
        const body = (await request.json()) as { config: unknown };
        machine.config = body.config;
        machine.instance_id = '01JBX9ZZZZZZZZZZZZZZZZZZZZ';
        return json(200, machine);
      }),
    ),
    http.delete(
      `${base}/machines/:id`,
      route((request, { id }) => {
        const blocked = fly.leaseBlocks(id as string, request);
        if (blocked) return blocked;
        if (!fly.machines.delete(id as string)) return notFound(`machine ${id}`);
        return json(200, { ok: true });
      }),
    ),

    http.get(
      `${base}/volumes`,
      route(() => json(200, [...fly.volumes.values()])),
    ),
    http.post(
      `${base}/volumes`,
      route(async (request) => {
        const body = (await request.json()) as Record<string, unknown>;
        const volume = volumeBody({
          id: `vol_${Math.random().toString(36).slice(2, 18)}`,
          name: body.name,
          region: body.region,
          size_gb: body.size_gb ?? 3,
          state: initialVolumeState(body),
          attached_machine_id: null,
        });
        fly.volumes.set(volume.id as string, volume);
        return json(200, volume);
      }),
    ),
    http.get(
      `${base}/volumes/:vid/snapshots`,
      route(() =>
        json(200, [
          {
            id: 'vs_MgLAggLZkYx89fLy',
            size: 14_618_624,
            volume_size: 1_073_741_824,
            digest: 'b6f0c1b2',
            created_at: '2026-11-01T00:00:00Z',
            status: 'complete',
            retention_days: 5,
          },
        ]),
      ),
    ),
    http.post(
      `${base}/volumes/:vid/snapshots`,
      route(() => json(200, { Msg: { backup: { id: 'internal' } } })),
    ),
    http.put(
      `${base}/volumes/:vid/extend`,
      route(async (request, { vid }) => {
        const volume = fly.volumes.get(vid as string);
        if (!volume) return notFound(`volume ${vid}`);
        const { size_gb } = (await request.json()) as { size_gb: number };
        volume.size_gb = size_gb;
        return json(200, { volume, needs_restart: true });
      }),
    ),
    http.get(
      `${base}/volumes/:vid`,
      route((_request, { vid }) => {
        const volume = fly.volumes.get(vid as string);
        return volume ? json(200, volume) : notFound(`volume ${vid}`);
      }),
    ),
    http.put(
      `${base}/volumes/:vid`,
      route(async (request, { vid }) => {
        const volume = fly.volumes.get(vid as string);
        if (!volume) return notFound(`volume ${vid}`);
        Object.assign(volume, await request.json());
        return json(200, volume);
      }),
    ),
    http.delete(
      `${base}/volumes/:vid`,
      route((_request, { vid }) => {
        const volume = fly.volumes.get(vid as string);
        if (!volume) return notFound(`volume ${vid}`);
        fly.volumes.delete(vid as string);
        return json(200, { ...volume, state: 'pending_destroy' });
      }),
    ),
  ];
}

/** State of a new volume: forks hydrate, restores restore, empty volumes are created. */
function initialVolumeState(body: Record<string, unknown>): string {
  if (body.source_volume_id) return 'hydrating';
  if (body.snapshot_id) return 'restoring';
  return 'created';
}

async function graphql(request: Request): Promise<Response> {
  const { query, variables } = (await request.json()) as {
    query: string;
    variables: Record<string, unknown>;
  };
  if (query.includes('app(name:')) {
    if (variables.appName !== 'live-schedule-api') {
      return json(200, {
        data: { app: null },
        errors: [{ message: 'Could not find App', extensions: { code: 'NOT_FOUND' } }],
      });
    }
    return json(200, { data: { app: { organization: { id: 'T3JnYW5pemF0aW9uOjEyMzQ=' } } } });
  }
  const input = (variables.input ?? {}) as Record<string, unknown>;
  return json(200, {
    data: {
      issueCertificate: {
        certificate: `ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIFakeCertBody${String(input.validHours)}`,
        key: null,
      },
    },
  });
}
