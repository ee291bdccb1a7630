import { checkCapacity, type RegionCapacity, validateRegions } from '@flydr/dr-core';
import type { FlyClient } from '@flydr/fly-client';
import { readAppShape } from '../app-shape.js';
import type { CommandDefinition } from '../command.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { checkRegionCode } from '../region-code.js';

/** `flydr regions [REGION...]`: Fly's regions and whether the app's machine fits there now. */
export const regionsCommand: CommandDefinition = {
  command: 'regions [regions..]',
  describe: "list regions and check where a machine like the app's (and its volume) fits now",
  examples: [
    ['flydr regions', 'every region, with capacity for the app in ./fly.toml'],
    ['flydr regions nrt sin', 'can nrt and sin take the app machine and its volume now?'],
    ['flydr regions nrt sin --json', 'the same as one JSON document'],
  ],
  builder: (parser) =>
    parser.positional('regions', {
      type: 'string',
      array: true,
      describe: 'region codes to check; default every region',
    }),

  async run(args, context) {
    const codes = ((args.regions as string[] | undefined) ?? []).map((code) =>
      checkRegionCode(code, 'the regions argument'),
    );
    const client = await context.client();
    const app = await context.appName().catch((error: unknown) => {
      if (error instanceof UsageError && args.app === undefined) return undefined;
      throw error;
    });
    if (app === undefined) return listRegions(client, codes, context);

    const databasePath = await context.databasePath().catch(() => undefined);
    const shape = await readAppShape(client, app, databasePath);

    const all =
      codes.length > 0 ? codes : (await client.platform.regions()).regions.map((r) => r.code);
    const capacity = await checkCapacity(client, all, {
      orgSlug: shape.orgSlug,
      guest: shape.guest,
      volumeSizeBytes: shape.volumeSizeBytes,
    });

    const guest = shape.guest
      ? `${shape.guest.cpu_kind ?? 'shared'}-cpu-${shape.guest.cpus ?? 1}x ${shape.guest.memory_mb ?? 256}MB`
      : "Fly's default size";
    const volume = shape.volumeSizeBytes
      ? ` with a ${shape.volumeSizeBytes / 1024 ** 3} GB volume`
      : '';
    context.out.line(`capacity for one ${guest} machine${volume} (org ${shape.orgSlug}):`);
    context.out.table(capacity, [
      { header: 'REGION', value: (r: RegionCapacity) => r.region },
      { header: 'NAME', value: (r) => r.name },
      {
        header: 'CAPACITY',
        value: (r) => (r.canPlace ? 'yes' : 'none'),
      },
      { header: '', value: (r) => (r.region === shape.region ? 'current primary' : '') },
    ]);
    context.out.result({
      ok: true,
      orgSlug: shape.orgSlug,
      guest: shape.guest ?? null,
      volumeSizeBytes: shape.volumeSizeBytes ?? null,
      regions: capacity.map((r) => ({ ...r, current: r.region === shape.region })),
    });
  },
};

/** Without an app there is no organization or machine size to place, so only list. */
async function listRegions(client: FlyClient, codes: string[], context: CommandContext) {
  const regions =
    codes.length > 0
      ? await validateRegions(client, codes)
      : (await client.platform.regions()).regions.map((r) => ({
          code: r.code,
          name: r.name ?? r.code,
        }));
  context.out.note('no app given (-a or fly.toml), so capacity is not checked');
  context.out.table(regions, [
    { header: 'REGION', value: (r) => r.code },
    { header: 'NAME', value: (r) => r.name },
  ]);
  context.out.result({
    ok: true,
    orgSlug: null,
    guest: null,
    volumeSizeBytes: null,
    regions: regions.map((r) => ({
      region: r.code,
      name: r.name,
      canPlace: null,
      count: null,
      current: false,
    })),
  });
}
