import type { CommandDefinition, CommandGroup } from '../command.js';
import { standbyConfigCommand } from './standby-config.js';

/** Every top-level command and command group, in the order help lists them. */
export const commands: ReadonlyArray<CommandDefinition | CommandGroup> = [
  {
    command: 'standby <command>',
    describe: 'prepare the standby region: volume, stopped machine, fly.toml.backup',
    subcommands: [standbyConfigCommand],
  },
];
