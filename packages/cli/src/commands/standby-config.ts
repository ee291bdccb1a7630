import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { rewriteFlyTomlForStandby } from '@flydr/dr-core';
import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { checkRegionCode } from '../region-code.js';

/** `flydr standby config`: writes fly.toml.backup for the standby region. */
export const standbyConfigCommand: CommandDefinition = {
  command: 'config',
  describe: 'write fly.toml.backup: fly.toml with the standby primary_region and volume name',
  examples: [
    ['flydr standby config --region sin', 'write fly.toml.backup with primary_region = "sin"'],
    [
      'flydr standby config --region sin --volume data_backup',
      'also point the mount at the standby volume data_backup',
    ],
  ],
  builder: (parser) =>
    parser
      .option('region', { type: 'string', demandOption: true, describe: 'standby region code' })
      .option('volume', { type: 'string', describe: 'standby volume name for the mount source' })
      .option('output', {
        type: 'string',
        describe: 'file to write',
        defaultDescription: 'fly.toml.backup beside fly.toml',
      }),

  async run(args, context) {
    const region = checkRegionCode(args.region, '--region');
    const volume = args.volume as string | undefined;
    if (volume !== undefined && !/^[a-z0-9_]{1,30}$/.test(volume)) {
      throw new UsageError(
        `invalid volume name ${JSON.stringify(volume)}: use at most 30 lowercase letters, digits and underscores`,
        'for example --volume data_backup',
      );
    }

    const flyToml = await context.flyToml();
    if (flyToml === undefined) {
      throw new UsageError(
        'no fly.toml in this folder',
        'run in the app folder, or pass -c path/to/fly.toml',
      );
    }

    const text = await readFile(flyToml.path, 'utf8');
    const rewritten = rewriteFlyTomlForStandby(text, {
      primaryRegion: region,
      ...(volume !== undefined ? { mountSource: volume } : {}),
    });

    const output = context.path(
      (args.output as string | undefined) ?? join(dirname(flyToml.path), 'fly.toml.backup'),
    );
    if (existsSync(output)) await context.confirm(`overwrite ${output}?`);

    // Written under a temporary name and renamed, so a failed write never leaves half a file.
    const temporary = `${output}.flydr-tmp-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temporary, rewritten, { flag: 'wx' });
      await rename(temporary, output);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }

    context.out.line(
      `wrote ${output} (primary_region = "${region}"${volume ? `, mount source = "${volume}"` : ''})`,
    );
    context.out.line(
      `use it with \`fly deploy --config ${output}\` only while ${region} is the primary (after \`flydr failover --to ${region}\`), so two regions never run the app at once`,
    );
    context.out.result({
      ok: true,
      path: output,
      primaryRegion: region,
      mountSource: volume ?? null,
    });
  },
};
