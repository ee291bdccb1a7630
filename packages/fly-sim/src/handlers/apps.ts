import { badRequest, SimApiError } from '../api-error.js';
import { appJson } from '../api-json.js';
import { newOpaqueId } from '../ids.js';
import type { AppRecord } from '../model.js';
import { emptyResponse, jsonResponse, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

const APP_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * Creates an app in an organization.
 *
 * @throws SimApiError 400 for an invalid name, 422 `name_taken` when the name is in use.
 */
export function createApp(
  world: SimWorld,
  name: string,
  options: { orgSlug?: string; network?: string; primaryRegion?: string } = {},
): AppRecord {
  if (!APP_NAME.test(name)) {
    throw badRequest(
      `invalid app name "${name}": use 3 to 63 lowercase letters, digits and dashes`,
    );
  }
  if (world.apps.has(name)) {
    throw new SimApiError(422, {
      error: `app name "${name}" is already taken`,
      status: 'name_taken',
    });
  }
  const org = world.org(options.orgSlug ?? world.defaultOrgSlug);
  const app: AppRecord = {
    id: newOpaqueId(),
    name,
    orgSlug: org.slug,
    network: options.network ?? 'default',
    internalNumericId: world.numericId(),
    createdAt: new Date(),
    primaryRegion: options.primaryRegion,
  };
  world.apps.set(name, app);
  return app;
}

/** Routes of the Apps resource. */
export function appRoutes(world: SimWorld): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/apps',
      action: 'apps.list',
      handle: ({ query }) => {
        const orgSlug = query.get('org_slug');
        if (orgSlug === null || orgSlug === '') {
          throw badRequest('org_slug is required; pass ?org_slug=personal or your organization');
        }
        const apps = [...world.apps.values()]
          .filter((app) => app.orgSlug === orgSlug)
          .map((app) => appJson(world, app, world.org(app.orgSlug)));
        return jsonResponse({ total_apps: apps.length, apps });
      },
    },
    {
      method: 'post',
      path: '/v1/apps',
      action: 'apps.create',
      handle: async ({ body }) => {
        const request = await body();
        const name = request.name ?? request.app_name;
        if (typeof name !== 'string') throw badRequest('name is required');
        if (typeof request.org_slug !== 'string' || request.org_slug === '') {
          throw badRequest('org_slug is required');
        }
        const app = createApp(world, name, {
          orgSlug: request.org_slug,
          network: typeof request.network === 'string' ? request.network : undefined,
        });
        return jsonResponse({ id: app.id, created_at: app.createdAt.getTime() }, 201);
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app',
      action: 'apps.get',
      handle: ({ params }) => {
        const app = world.getApp(params.app ?? '');
        return jsonResponse(appJson(world, app, world.org(app.orgSlug)));
      },
    },
    {
      method: 'delete',
      path: '/v1/apps/:app',
      action: 'apps.delete',
      handle: ({ params, query }) => {
        const app = world.getApp(params.app ?? '');
        const machines = [...world.machines.values()].filter(
          (m) => m.app === app.name && m.state !== 'destroyed',
        );
        const running = machines.filter((m) => m.state !== 'stopped' && m.state !== 'created');
        if (running.length > 0 && query.get('force') !== 'true') {
          throw new SimApiError(412, {
            error: `app ${app.name} has ${running.length} running machines; stop them or pass force=true`,
          });
        }
        for (const machine of machines) world.setState(machine, 'destroyed');
        for (const volume of world.volumes.values()) {
          if (volume.app === app.name) volume.state = 'destroyed';
        }
        world.apps.delete(app.name);
        return emptyResponse(202);
      },
    },
  ];
}
