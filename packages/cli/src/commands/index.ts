import type { CommandDefinition, CommandGroup } from '../command.js';
import { backupCommand } from './backup.js';
import { backupsListCommand } from './backups-list.js';
import { backupsPruneCommand } from './backups-prune.js';
import { backupsShowCommand } from './backups-show.js';
import { backupsVerifyCommand } from './backups-verify.js';
import { diffCommand } from './diff.js';
import { doctorCommand } from './doctor.js';
import { regionsCommand } from './regions.js';
import { restoreCommand } from './restore.js';
import { standbyConfigCommand } from './standby-config.js';

/** Every top-level command and command group, in the order help lists them. */
export const commands: ReadonlyArray<CommandDefinition | CommandGroup> = [
  regionsCommand,
  backupCommand,
  {
    command: 'backups <command>',
    describe: 'list, show, verify and prune the catalogued backups',
    subcommands: [
      backupsListCommand,
      backupsShowCommand,
      backupsVerifyCommand,
      backupsPruneCommand,
    ],
  },
  restoreCommand,
  {
    command: 'standby <command>',
    describe: 'prepare the standby region: volume, stopped machine, fly.toml.backup',
    subcommands: [standbyConfigCommand],
  },
  diffCommand,
  doctorCommand,
];
