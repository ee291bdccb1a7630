import { snapshotJson, volumeJson } from '../api-json.js';
import type { VolumeRecord } from '../model.js';
import { jsonResponse, type RouteContext, type RouteSpec } from '../routes.js';
import {
  createVolume,
  destroyVolume,
  extendVolume,
  snapshotVolume,
  updateVolume,
  volumeUsedBytes,
} from '../volumes.js';
import type { SimWorld } from '../world.js';

/** States that fly-go drops from volume lists: volumes on their way out. */
const HIDDEN_STATES = new Set([
  'scheduling_destroy',
  'fork_cleanup',
  'waiting_for_detach',
  'pending_destroy',
  'destroying',
  'destroyed',
]);

/** Routes of the Volumes resource and its snapshots. */
export function volumeRoutes(world: SimWorld): RouteSpec[] {
  const json = (volume: VolumeRecord) => volumeJson(world, volume, volumeUsedBytes(volume));
  const volumeOf = (context: RouteContext) =>
    world.getVolume(context.params.app ?? '', context.params.volume ?? '');

  return [
    {
      method: 'get',
      path: '/v1/apps/:app/volumes',
      action: 'volumes.list',
      handle: ({ params }) => {
        world.getApp(params.app ?? '');
        const volumes = [...world.volumes.values()].filter(
          (v) => v.app === params.app && !HIDDEN_STATES.has(v.state),
        );
        return jsonResponse(volumes.map(json));
      },
    },
    {
      method: 'post',
      path: '/v1/apps/:app/volumes',
      action: 'volumes.create',
      handle: async ({ params, body }) =>
        jsonResponse(json(createVolume(world, params.app ?? '', await body()))),
    },
    {
      method: 'get',
      path: '/v1/apps/:app/volumes/:volume',
      action: 'volumes.get',
      handle: (context) => jsonResponse(json(volumeOf(context))),
    },
    {
      method: 'put',
      path: '/v1/apps/:app/volumes/:volume',
      action: 'volumes.update',
      handle: async (context) => {
        const volume = volumeOf(context);
        updateVolume(volume, await context.body());
        return jsonResponse(json(volume));
      },
    },
    {
      method: 'put',
      path: '/v1/apps/:app/volumes/:volume/extend',
      action: 'volumes.extend',
      handle: async (context) => {
        const volume = volumeOf(context);
        extendVolume(volume, await context.body());
        return jsonResponse({ volume: json(volume), needs_restart: false });
      },
    },
    {
      method: 'delete',
      path: '/v1/apps/:app/volumes/:volume',
      action: 'volumes.delete',
      handle: (context) => {
        const volume = volumeOf(context);
        destroyVolume(world, volume);
        return jsonResponse(json(volume));
      },
    },
    {
      method: 'get',
      path: '/v1/apps/:app/volumes/:volume/snapshots',
      action: 'volumes.snapshots.list',
      handle: (context) => {
        const volume = volumeOf(context);
        const snapshots = [...world.snapshots.values()].filter((s) => s.volumeId === volume.id);
        return jsonResponse(snapshots.map(snapshotJson));
      },
    },
    {
      method: 'post',
      path: '/v1/apps/:app/volumes/:volume/snapshots',
      action: 'volumes.snapshots.create',
      handle: (context) => {
        snapshotVolume(world, volumeOf(context));
        // Fly returns 200 with no body for an on-demand snapshot.
        return new Response(null, { status: 200 });
      },
    },
  ];
}
