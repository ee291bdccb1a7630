import type { CommandDefinition, CommandGroup } from '../command.js';
import { abortCommand } from './abort.js';
import { backupCommand } from './backup.js';
import { backupsDeleteCommand } from './backups-delete.js';
import { backupsListCommand } from './backups-list.js';
import { backupsPruneCommand } from './backups-prune.js';
import { backupsShowCommand } from './backups-show.js';
import { backupsVerifyCommand } from './backups-verify.js';
import { demoCommand } from './demo.js';
import { diffCommand } from './diff.js';
import { doctorCommand } from './doctor.js';
import { failbackCommand } from './failback.js';
import { failoverCommand } from './failover.js';
import { regionsCommand } from './regions.js';
import { restoreCommand } from './restore.js';
import { resumeCommand } from './resume.js';
import { standbyConfigCommand } from './standby-config.js';
import { standbyPrepareCommand } from './standby-prepare.js';
import { statusCommand } from './status.js';
import { syncCommand } from './sync.js';

/** Every top-level command and command group, in the order help lists them. */
export const commands: ReadonlyArray<CommandDefinition | CommandGroup> = [
  statusCommand,
  regionsCommand,
  backupCommand,
  {
    command: 'backups <command>',
    describe: 'list, show, verify, prune and delete the catalogued backups',
    subcommands: [
      backupsListCommand,
      backupsShowCommand,
      backupsVerifyCommand,
      backupsPruneCommand,
      backupsDeleteCommand,
    ],
  },
  restoreCommand,
  failoverCommand,
  failbackCommand,
  syncCommand,
  {
    command: 'standby <command>',
    describe: 'prepare the standby region: volume, stopped machine, fly.toml.backup',
    subcommands: [standbyPrepareCommand, standbyConfigCommand],
  },
  resumeCommand,
  abortCommand,
  diffCommand,
  doctorCommand,
  demoCommand,
];
