import { join } from 'node:path';
import type { FlyClient } from '@flydr/fly-client';
import {
  createExecTransportFactory,
  createSshTransportFactory,
  flyCertificateIssuer,
  type MachineTransportFactory,
} from '@flydr/fly-client/transport';
import { UsageError } from './exit-codes.js';

/** Settings for reaching files on a machine, from the global options. */
export interface MachineAccessOptions {
  app: string;
  transport: 'ssh' | 'exec';
  /** `--ssh-address`: a template with `{machine}`, `{app}`, `{region}`, or `host:port`. */
  sshAddress: string | undefined;
  /** `--ssh-port`, used when the address names no port. */
  sshPort: number;
  /** Folder of the pinned host keys file `known_hosts`. */
  stateDir: string;
}

/** Name of the file in the state directory that pins each machine's SSH host key. */
export const KNOWN_HOSTS_FILE = 'known_hosts';

/**
 * Builds the machine transport factory: SSH with a short-lived certificate from Fly's
 * GraphQL API and host keys pinned in the state directory, or the Machines API exec call.
 *
 * @throws UsageError for an invalid `--ssh-port` or `--ssh-address`.
 */
export function createMachineAccess(
  client: FlyClient,
  options: MachineAccessOptions,
): MachineTransportFactory {
  if (options.transport === 'exec') {
    return createExecTransportFactory({ app: options.app, machines: client.machines });
  }

  const port = checkPort(options.sshPort);
  const address = parseSshAddress(options.sshAddress, port);
  return createSshTransportFactory({
    app: options.app,
    auth: { certificate: flyCertificateIssuer(client, options.app) },
    hostKeys: join(options.stateDir, KNOWN_HOSTS_FILE),
    port,
    connectTimeoutMs: 15_000,
    ...address,
  });
}

function checkPort(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new UsageError(
      `invalid --ssh-port ${JSON.stringify(value)}: expected a port from 1 to 65535`,
      'leave it out for port 22, or pass the port your tunnel listens on',
    );
  }
  return value;
}

/** Splits `--ssh-address` into a template (per machine) or one fixed address. */
function parseSshAddress(
  value: string | undefined,
  port: number,
): { addressTemplate?: string; address?: { host: string; port: number } } {
  if (value === undefined) return {};

  const match = /^(\[[^\]]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `invalid --ssh-address ${JSON.stringify(value)}: expected host, host:port or a template such as {machine}.vm.{app}.internal`,
      'for a `fly proxy 10022:22` tunnel pass --ssh-address 127.0.0.1:10022',
    );
  }

  const host = (match[1] as string).replace(/^\[(.*)\]$/, '$1');
  const hostPort = match[2] === undefined ? port : checkPort(Number(match[2]));
  if (host.includes('{')) {
    const unknown = host.match(/\{[^}]*\}/g)?.find((part) => !knownPlaceholders.has(part));
    if (unknown !== undefined) {
      throw new UsageError(
        `invalid --ssh-address ${JSON.stringify(value)}: unknown placeholder ${unknown}`,
        'use {machine}, {app} and {region}',
      );
    }
    if (match[2] !== undefined) {
      throw new UsageError(
        `invalid --ssh-address ${JSON.stringify(value)}: a template takes its port from --ssh-port`,
        `pass --ssh-address ${host} --ssh-port ${match[2]}`,
      );
    }
    return { addressTemplate: host };
  }
  return { address: { host, port: hostPort } };
}

const knownPlaceholders = new Set(['{machine}', '{app}', '{region}']);

/**
 * Rejects a fixed `--ssh-address` (a `fly proxy` tunnel) for a command that reaches two
 * machines over SSH. Such a tunnel reaches one machine, so the command would fail at the
 * second one, after a failover had already fenced the source. A template such as
 * `{machine}.vm.{app}.internal` and `--transport exec` reach every machine.
 *
 * @throws UsageError naming the address and the command.
 */
export function requireAddressPerMachine(
  args: { transport: string; sshAddress?: string | undefined },
  command: string,
): void {
  const address = args.sshAddress;
  if (args.transport !== 'ssh' || address === undefined || address.includes('{')) return;
  throw new UsageError(
    `invalid --ssh-address ${JSON.stringify(address)} for \`flydr ${command}\`: a fixed address (a \`fly proxy\` tunnel) reaches one machine, and ${command} works on the source and the target`,
    'use --transport exec, or WireGuard without --ssh-address (or a template such as {machine}.vm.{app}.internal)',
  );
}
