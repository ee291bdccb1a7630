/**
 * Machine file transports: SSH/SFTP over ssh2 and the Machines API exec call.
 * Kept on its own subpath so REST-only users never load ssh2.
 */
export {
  type CertificateIssuer,
  flyCertificateIssuer,
  type ParsedCertificate,
  parseCertificate,
  SshCertificateCache,
  type SshCertificateClient,
} from './certificate.js';
export {
  isTransportError,
  TransportError,
  type TransportErrorCode,
  type TransportErrorDetails,
} from './errors.js';
export {
  ExecTransport,
  type ExecTransportOptions,
  type MachineExecApi,
  type MachineExecRequest,
  type MachineExecResult,
} from './exec-transport.js';
export { createExecTransportFactory, createSshTransportFactory } from './factories.js';
export { type Ed25519KeyPair, generateEd25519KeyPair } from './key-pair.js';
export {
  FileHostKeyStore,
  type HostKeyStore,
  hostKeyFingerprint,
  type PinnedHostKey,
} from './known-hosts.js';
export { PARTIAL_SUFFIX } from './local-files.js';
export type {
  ExecOptions,
  ExecOutput,
  MachineTransport,
  MachineTransportFactory,
  OperationOptions,
  RemoteFileStat,
  TransferOptions,
  TransferProgress,
  TransferResult,
  TransportLogger,
  TransportMachine,
} from './machine-transport.js';
export { joinShellCommand, quoteShellArg } from './shell-quote.js';
export { type SshAuth, SshTransport, type SshTransportOptions } from './ssh-transport.js';
/** Kind of a machine transport. */
export type TransportKind = 'ssh' | 'exec';
