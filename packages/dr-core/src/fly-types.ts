/**
 * Names under which dr-core uses the fly-client and transport types. Type-only imports,
 * so loading dr-core does not load ssh2.
 */
export type {
  FlyClient,
  Lease,
  Machine,
  MachineConfig,
  MachineMount,
} from '@flydr/fly-client';
export type {
  MachineTransport,
  MachineTransportFactory,
  TransferProgress,
} from '@flydr/fly-client/transport';
