import { notFound } from '../api-error.js';
import {
  acquireLease,
  currentLease,
  LEASE_NONCE_HEADER,
  leaseJson,
  refreshLease,
  releaseLease,
} from '../leases.js';
import { jsonResponse, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

/** Reads the TTL from the body's `ttl` or, as fly-go sends it, the `ttl` query parameter. */
function ttlSeconds(body: Record<string, unknown>, query: URLSearchParams): number {
  if (typeof body.ttl === 'number') return body.ttl;
  const fromQuery = query.get('ttl');
  return fromQuery === null ? 30 : Number(fromQuery);
}

/** Routes of machine leases. */
export function leaseRoutes(world: SimWorld): RouteSpec[] {
  const path = '/v1/apps/:app/machines/:id/lease';
  return [
    {
      method: 'post',
      path,
      action: 'machines.lease.acquire',
      handle: async ({ params, query, request, body }) => {
        const machine = world.getMachine(params.app ?? '', params.id ?? '');
        const request_ = await body();
        const ttl = ttlSeconds(request_, query);
        const nonce = request.headers.get(LEASE_NONCE_HEADER);
        const description = typeof request_.description === 'string' ? request_.description : '';
        const lease =
          nonce !== null && nonce !== ''
            ? refreshLease(machine, nonce, ttl)
            : acquireLease(machine, ttl, description);
        return jsonResponse(leaseJson(lease), 201);
      },
    },
    {
      method: 'get',
      path,
      action: 'machines.lease.get',
      handle: ({ params }) => {
        const machine = world.getMachine(params.app ?? '', params.id ?? '');
        const lease = currentLease(machine);
        if (lease === undefined) throw notFound(`lease not found on machine ${machine.id}`);
        return jsonResponse(leaseJson(lease));
      },
    },
    {
      method: 'delete',
      path,
      action: 'machines.lease.release',
      handle: ({ params, request }) => {
        const machine = world.getMachine(params.app ?? '', params.id ?? '');
        releaseLease(machine, request.headers.get(LEASE_NONCE_HEADER));
        return jsonResponse({ status: 'success' });
      },
    },
  ];
}
