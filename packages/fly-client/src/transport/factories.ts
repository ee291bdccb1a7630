import { SshCertificateCache } from './certificate.js';
import { ExecTransport, type ExecTransportOptions } from './exec-transport.js';
import type { MachineTransportFactory } from './machine-transport.js';
import { SshTransport, type SshTransportOptions } from './ssh-transport.js';

/**
 * Returns a factory that opens an {@link SshTransport} per machine with shared settings.
 * A certificate issuer is wrapped in one {@link SshCertificateCache}, so all machines of the
 * app share one in-memory key and certificate until it nears expiry.
 */
export function createSshTransportFactory(
  options: Omit<SshTransportOptions, 'machine'>,
): MachineTransportFactory {
  const auth =
    'certificate' in options.auth &&
    typeof options.auth.certificate === 'object' &&
    !(options.auth.certificate instanceof SshCertificateCache)
      ? { certificate: new SshCertificateCache(options.auth.certificate) }
      : options.auth;
  return (machine) => SshTransport.connect({ ...options, auth, machine });
}

/** Returns a factory that opens an {@link ExecTransport} per machine with shared settings. */
export function createExecTransportFactory(
  options: Omit<ExecTransportOptions, 'machine'>,
): MachineTransportFactory {
  return (machine) => ExecTransport.connect({ ...options, machine });
}
