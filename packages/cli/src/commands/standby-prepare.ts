import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { parseWholeNumber, wholeNumberOption } from '../number-option.js';
import { checkRegionCode } from '../region-code.js';

/** `flydr standby prepare --region R`: the standby volume (and machine), reused when present. */
export const standbyPrepareCommand: CommandDefinition = {
  command: 'prepare',
  describe: 'create the standby volume (and a stopped machine) in a region; reuses what exists',
  examples: [
    ['flydr standby prepare --region sin', 'a volume in sin as large as the primary one'],
    [
      'flydr standby prepare --region sin --machine',
      'also a stopped machine cloned from the primary',
    ],
    ['flydr standby prepare --region sin --volume data_backup --size 1', "the runbook's volume"],
  ],
  builder: (parser) =>
    parser
      .option('region', {
        type: 'string',
        demandOption: true,
        describe: 'standby region code, such as sin (upper case is read as lower case)',
      })
      .option('volume', {
        type: 'string',
        describe: "volume name; default the primary mount's name",
      })
      .option('size', {
        ...wholeNumberOption(),
        describe: "volume size in whole GB, from 1 to 500; default the primary volume's",
      })
      .option('machine', {
        type: 'boolean',
        default: false,
        describe: 'also create a stopped standby machine (skip_launch) from the primary config',
      }),

  async run(args, context) {
    const region = checkRegionCode(args.region, '--region');
    const volume = args.volume as string | undefined;
    if (volume !== undefined && !/^[a-z0-9_]{1,30}$/.test(volume)) {
      throw new UsageError(
        `invalid --volume ${JSON.stringify(volume)}: use at most 30 lowercase letters, digits and underscores`,
        'for example --volume data_backup',
      );
    }
    const size =
      args.size === undefined
        ? undefined
        : parseWholeNumber(args.size, '--size', {
            min: 1,
            max: 500,
            unit: 'gigabytes',
            example: 1,
          });

    await context.requireKnownRegions([region]);
    const dr = await context.dr();
    const report = await dr.prepareStandby({
      region,
      ...(volume === undefined ? {} : { volumeName: volume }),
      ...(size === undefined ? {} : { sizeGb: size }),
      machine: args.machine === true,
    });

    const verb = (created: boolean | undefined) => (created ? 'created' : 'reused');
    context.out.line(
      `standby in ${report.region}: volume ${report.volumeName} (${report.volumeId}, ${report.sizeGb} GB) ${verb(report.createdVolume)}`,
    );
    if (report.machineId)
      context.out.line(`  stopped machine ${report.machineId} ${verb(report.createdMachine)}`);
    context.out.result({
      ok: true,
      region: report.region,
      primaryMachineId: report.primaryMachineId,
      volumeId: report.volumeId,
      volumeName: report.volumeName,
      sizeGb: report.sizeGb,
      createdVolume: report.createdVolume,
      machineId: report.machineId ?? null,
      createdMachine: report.createdMachine ?? null,
    });
  },
};
