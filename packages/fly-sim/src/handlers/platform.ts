import { badRequest } from '../api-error.js';
import { jsonResponse, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

/** Machine count that placements return for a region without a limit (Fly's org limit). */
const ORG_MACHINE_LIMIT = 20;

function regionsFor(world: SimWorld, expression: unknown): string[] {
  if (expression === undefined || expression === null || expression === '') {
    return world.regions.list().map((r) => r.code);
  }
  if (typeof expression !== 'string') throw badRequest('invalid region: expected a string');
  const codes: string[] = [];
  for (const part of expression.split(',').map((p) => p.trim().toLowerCase())) {
    if (part === 'any' || part === '[local]') {
      codes.push(...world.regions.list().map((r) => r.code));
    } else if (world.regions.get(part) !== undefined) {
      codes.push(part);
    } else {
      throw badRequest(`invalid region "${part}" in the region expression`);
    }
  }
  return [...new Set(codes)];
}

/** Routes of the platform: the region table and placements. */
export function platformRoutes(world: SimWorld): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/platform/regions',
      action: 'platform.regions',
      handle: () =>
        jsonResponse({
          nearest: world.regions.list()[0]?.code ?? '',
          regions: world.regions.list().map((region) => ({
            code: region.code,
            name: region.name,
            latitude: region.latitude,
            longitude: region.longitude,
            gateway_available: true,
            requires_paid_plan: false,
            deprecated: false,
            geo_region: 'sim',
            mpg_available: false,
          })),
        }),
    },
    {
      method: 'post',
      path: '/v1/platform/placements',
      action: 'platform.placements',
      handle: async ({ body }) => {
        const request = await body();
        if (typeof request.org_slug !== 'string' || request.org_slug === '') {
          throw badRequest('org_slug is required');
        }
        const wanted =
          typeof request.count === 'number' && request.count > 0
            ? request.count
            : ORG_MACHINE_LIMIT;
        const needsVolume =
          typeof request.volume_name === 'string' || typeof request.volume_size_bytes === 'number';

        const regions = regionsFor(world, request.region).flatMap((code) => {
          const region = world.regions.get(code);
          if (region === undefined) return [];
          let free = region.machineLimit - world.runningMachinesIn(code);
          if (needsVolume) free = Math.min(free, region.volumeLimit - world.volumesIn(code));
          const count = Math.min(wanted, free);
          return count > 0 ? [{ region: code, count, concurrency: 0 }] : [];
        });
        return jsonResponse({ regions });
      },
    },
  ];
}
