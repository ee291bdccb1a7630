import { verify } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';
import {
  checkUserCertificate,
  isEd25519CertificateBlob,
  parseEd25519Certificate,
  userauthSignatureBytes,
} from './certificate.js';
import { ed25519PublicKeyObject } from './ed25519-keys.js';

/** The user every simulated machine accepts, as on Fly. */
export const SSH_USER = 'root';

/** A public key login attempt, as ssh2's server reports it. */
export interface PublicKeyAttempt {
  username: string;
  key: { algo: string; data: Buffer };
  /** Absent when the client only asks whether the key would be accepted. */
  signature?: Buffer;
  /** The signed data: session id and the userauth request. */
  blob?: Buffer;
  hashAlgo?: string;
}

/** Login policy: a CA (for OpenSSH certificates) and plain authorized keys. */
export interface SshAuthPolicy {
  /** Public key blob of the organization's SSH CA. */
  caBlob: Buffer;
  /** Parsed authorized keys. */
  authorizedKeys: ParsedKey[];
}

/**
 * Parses authorized_keys lines for {@link SshAuthPolicy}.
 *
 * @throws Error naming the line that ssh2 cannot parse.
 */
export function parseAuthorizedKeys(lines: string[]): ParsedKey[] {
  return lines.map((line, index) => {
    const parsed = ssh2.utils.parseKey(line);
    if (parsed instanceof Error) {
      throw new Error(`authorizedKeys[${index}] is not a public key line: ${parsed.message}`);
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key === undefined) throw new Error(`authorizedKeys[${index}] contains no key`);
    return key;
  });
}

/**
 * Decides a public key login. The key must be an OpenSSH user certificate signed by the CA
 * and valid now for root, or an authorized key. A signature must verify against that key.
 *
 * @returns undefined to accept, else the reason for rejecting.
 */
export function checkPublicKeyLogin(
  attempt: PublicKeyAttempt,
  policy: SshAuthPolicy,
  now = new Date(),
): string | undefined {
  if (attempt.username !== SSH_USER)
    return `user "${attempt.username}" does not exist; log in as root`;

  if (isEd25519CertificateBlob(attempt.key.data)) {
    let reason: string | undefined;
    let cert: ReturnType<typeof parseEd25519Certificate>;
    try {
      cert = parseEd25519Certificate(attempt.key.data);
      reason = checkUserCertificate(cert, policy.caBlob, attempt.username, now);
    } catch (error) {
      return `malformed certificate: ${(error as Error).message}`;
    }
    if (reason !== undefined) return reason;
    if (attempt.signature === undefined || attempt.blob === undefined) return undefined;

    const signature = userauthSignatureBytes(attempt.signature);
    if (signature === undefined) return 'signature is not an ssh-ed25519 signature';
    const key = ed25519PublicKeyObject(cert.publicKey);
    return verify(null, attempt.blob, key, signature) ? undefined : 'signature does not verify';
  }

  const allowed = policy.authorizedKeys.find(
    (key) => key.type === attempt.key.algo && key.getPublicSSH().equals(attempt.key.data),
  );
  if (allowed === undefined) return 'key is not authorized';
  if (attempt.signature === undefined || attempt.blob === undefined) return undefined;
  const ok = allowed.verify(attempt.blob, attempt.signature, attempt.hashAlgo);
  return ok === true ? undefined : 'signature does not verify';
}
