import { badRequest, notFound, SimApiError } from '../api-error.js';
import { LEASE_NONCE_HEADER, requireLeaseNonce } from '../leases.js';
import type { MachineRecord } from '../model.js';
import { emptyResponse, jsonResponse, type RouteContext, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

function metadataOf(machine: MachineRecord): Record<string, string> {
  machine.config.metadata ??= {};
  return machine.config.metadata;
}

function checkKey(key: string): string {
  if (!METADATA_KEY.test(key)) {
    throw badRequest(`invalid metadata key "${key}": use letters, digits, "_", "." or "-"`);
  }
  return key;
}

/** Routes of machine metadata. */
export function metadataRoutes(world: SimWorld): RouteSpec[] {
  const machineOf = (context: RouteContext, mutation?: string): MachineRecord => {
    const machine = world.getMachine(context.params.app ?? '', context.params.id ?? '');
    if (mutation !== undefined) {
      requireLeaseNonce(machine, context.request.headers.get(LEASE_NONCE_HEADER), mutation);
    }
    return machine;
  };

  const replaceAll = (merge: boolean) => async (context: RouteContext) => {
    const machine = machineOf(context, 'update metadata');
    const request = await context.body();
    if (
      typeof request.machine_version === 'string' &&
      request.machine_version !== machine.instanceId
    ) {
      throw new SimApiError(412, {
        error: `machine ${machine.id} is at version ${machine.instanceId}, not ${request.machine_version}`,
      });
    }
    const metadata = request.metadata;
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw badRequest('metadata is required: an object of string values');
    }
    const next: Record<string, string> = merge ? { ...metadataOf(machine) } : {};
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw badRequest(`invalid metadata value for "${key}"`);
      next[checkKey(key)] = value;
    }
    machine.config.metadata = next;
    machine.updatedAt = new Date();
    return emptyResponse(204);
  };

  return [
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/metadata',
      action: 'machines.metadata.list',
      handle: (context) => jsonResponse({ ...metadataOf(machineOf(context)) }),
    },
    {
      method: 'put',
      path: '/v1/apps/:app/machines/:id/metadata',
      action: 'machines.metadata.replace',
      handle: replaceAll(false),
    },
    {
      method: 'patch',
      path: '/v1/apps/:app/machines/:id/metadata',
      action: 'machines.metadata.merge',
      handle: replaceAll(true),
    },
    {
      method: 'get',
      path: '/v1/apps/:app/machines/:id/metadata/:key',
      action: 'machines.metadata.get',
      handle: (context) => {
        const machine = machineOf(context);
        const value = metadataOf(machine)[context.params.key ?? ''];
        if (value === undefined) {
          throw notFound(`metadata key "${context.params.key}" not found on machine ${machine.id}`);
        }
        return jsonResponse({ value });
      },
    },
    {
      method: 'post',
      path: '/v1/apps/:app/machines/:id/metadata/:key',
      action: 'machines.metadata.set',
      handle: async (context) => {
        const machine = machineOf(context, 'set metadata');
        const key = checkKey(context.params.key ?? '');
        const request = await context.body();
        if (typeof request.value !== 'string') {
          throw badRequest(`invalid value for metadata key "${key}": expected a string`);
        }
        metadataOf(machine)[key] = request.value;
        machine.updatedAt = new Date();
        return emptyResponse(204);
      },
    },
    {
      method: 'delete',
      path: '/v1/apps/:app/machines/:id/metadata/:key',
      action: 'machines.metadata.delete',
      handle: (context) => {
        const machine = machineOf(context, 'delete metadata');
        delete metadataOf(machine)[context.params.key ?? ''];
        machine.updatedAt = new Date();
        return emptyResponse(204);
      },
    },
  ];
}
