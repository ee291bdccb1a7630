import type { Argv } from 'yargs';
import { wholeNumberOption } from './number-option.js';

/** Options every flydr command accepts, spelled as flyctl spells them where it has them. */
export interface GlobalArgs {
  app?: string;
  config?: string;
  yes: boolean;
  json: boolean;
  verbose: boolean;
  databasePath?: string;
  stateDir?: string;
  transport: 'ssh' | 'exec';
  sshAddress?: string;
  /** Text as typed; {@link CommandContext.transportFactory} parses it. */
  sshPort: string;
  apiUrl?: string;
  graphqlUrl?: string;
}

/** Declares the global options on a yargs parser. */
export function withGlobalOptions(parser: Argv): Argv<GlobalArgs> {
  return parser
    .option('app', {
      alias: 'a',
      type: 'string',
      describe: 'Fly app name; defaults to `app` in fly.toml',
      global: true,
    })
    .option('config', {
      alias: 'c',
      type: 'string',
      describe: 'path to fly.toml (app name, primary_region, mount destination)',
      global: true,
    })
    .option('yes', {
      alias: 'y',
      type: 'boolean',
      default: false,
      describe: 'confirm destructive steps without asking; required when not on a terminal',
      global: true,
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print one JSON document on stdout instead of text',
      global: true,
    })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe: 'print debug lines (API calls, SSH steps) on stderr; tokens are never printed',
      global: true,
    })
    .option('database-path', {
      type: 'string',
      describe:
        'database file on the machine; defaults to app.db under the fly.toml mount destination',
      global: true,
    })
    .option('state-dir', {
      type: 'string',
      describe:
        'local folder for the catalog, backups and journals; defaults to ~/.local/state/flydr/<app>',
      global: true,
    })
    .option('transport', {
      type: 'string',
      choices: ['ssh', 'exec'] as const,
      default: 'ssh' as const,
      describe:
        'how files reach the machine: ssh (SFTP over 6PN) or exec (Machines API, token only)',
      global: true,
    })
    .option('ssh-address', {
      type: 'string',
      describe:
        'SSH address: a template with {machine}, {app}, {region} such as "{machine}.vm.{app}.internal", or host:port such as 127.0.0.1:10022 for a `fly proxy` tunnel; defaults to the machine private_ip',
      global: true,
    })
    .option('ssh-port', {
      ...wholeNumberOption(),
      default: '22',
      describe: 'SSH port on the machine (or on the --ssh-address host when it names no port)',
      global: true,
    })
    .option('api-url', {
      type: 'string',
      describe: 'Machines API base URL',
      defaultDescription: 'https://api.machines.dev',
      global: true,
    })
    .option('graphql-url', {
      type: 'string',
      describe: 'Fly GraphQL URL, used to issue SSH certificates',
      defaultDescription: 'https://api.fly.io/graphql',
      global: true,
    }) as unknown as Argv<GlobalArgs>;
}
