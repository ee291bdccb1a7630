import type { RequestHandler } from 'msw';
import { type RouteEnvironment, type RouteSpec, toHandler } from '../routes.js';
import { appRoutes } from './apps.js';
import { type ExecRunner, execRoutes } from './exec.js';
import { graphqlRoutes } from './graphql.js';
import { leaseRoutes } from './leases.js';
import { machineRoutes } from './machines.js';
import { metadataRoutes } from './metadata.js';
import { platformRoutes } from './platform.js';
import { volumeRoutes } from './volumes.js';

/** Returns every route of the simulated Machines API and GraphQL endpoint. */
export function allRoutes(env: RouteEnvironment, exec: ExecRunner): RouteSpec[] {
  const { world } = env;
  return [
    ...appRoutes(world),
    ...leaseRoutes(world),
    ...metadataRoutes(world),
    ...execRoutes(world, exec),
    ...machineRoutes(world),
    ...volumeRoutes(world),
    ...platformRoutes(world),
    ...graphqlRoutes(world),
  ];
}

/** Builds the msw handlers of the given routes. */
export function routeHandlers(routes: RouteSpec[], env: RouteEnvironment): RequestHandler[] {
  return routes.map((route) => toHandler(route, env));
}
