import ssh2 from 'ssh2';
import { TransportError } from './errors.js';

/** An ed25519 key pair in OpenSSH text form, as ssh2 writes it. */
export interface Ed25519KeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` text. */
  private: string;
  /** `ssh-ed25519 AAAA…` authorized_keys line. */
  public: string;
}

// ssh2 1.17.0 writes a private key it cannot read back about once in 200 calls
// ("Malformed OpenSSH private key"; 14 of 3,000 measured here), so a key is only used after
// it parsed, and a new one is drawn otherwise.
const MAX_ATTEMPTS = 8;

/**
 * Generates an ed25519 key pair with ssh2 and returns it only once ssh2 can parse its
 * private key.
 *
 * @throws TransportError `TRANSPORT_INVALID_INPUT` when every attempt gave an unreadable key.
 */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error)) return { private: pair.private, public: pair.public };
  }
  throw new TransportError(
    'TRANSPORT_INVALID_INPUT',
    `ssh2 generated ${MAX_ATTEMPTS} ed25519 keys in a row that it could not parse`,
    { hint: 'check the installed ssh2 version (1.17.0 with the project patch is expected)' },
  );
}
