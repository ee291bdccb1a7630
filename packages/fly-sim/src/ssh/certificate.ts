import { randomBytes, sign, verify } from 'node:crypto';
import {
  ED25519,
  type Ed25519KeyPair,
  ed25519PublicKeyObject,
  ed25519RawFromBlob,
} from './ed25519-keys.js';
import { SshReader, SshWriter } from './wire.js';

/** SSH name of an Ed25519 OpenSSH certificate (PROTOCOL.certkeys in OpenSSH). */
export const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';

/** Certificate type value of a user certificate. */
export const USER_CERT = 1;

/** The fields of an OpenSSH Ed25519 certificate. */
export interface SshCertificate {
  nonce: Buffer;
  /** Raw 32-byte Ed25519 key that the certificate certifies. */
  publicKey: Buffer;
  serial: bigint;
  type: number;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  /** Seconds since the epoch. */
  validBefore: bigint;
  criticalOptions: Map<string, Buffer>;
  extensions: Map<string, Buffer>;
  /** Public key blob of the certificate authority that signed it. */
  signatureKey: Buffer;
  /** The signed bytes: everything before the signature field. */
  signedData: Buffer;
  /** SSH signature blob: string algorithm, string signature. */
  signature: Buffer;
}

/** Request for a certificate: the key, its id, principals and validity window. */
export interface CertificateRequest {
  publicKeyRaw: Buffer;
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  serial?: bigint;
}

/** Extensions that `ssh-keygen -s` grants by default. */
const DEFAULT_EXTENSIONS = [
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
];

/**
 * Issues an OpenSSH user certificate for an Ed25519 key, signed by `ca`.
 *
 * @returns The certificate blob.
 */
export function issueUserCertificate(ca: Ed25519KeyPair, request: CertificateRequest): Buffer {
  const principals = new SshWriter();
  for (const principal of request.principals) principals.string(principal);

  // Extensions are sorted by name and each has an empty string as its data.
  const extensions = new SshWriter();
  for (const name of [...DEFAULT_EXTENSIONS].sort()) extensions.string(name).string('');

  const body = new SshWriter()
    .string(ED25519_CERT)
    .string(randomBytes(32))
    .string(request.publicKeyRaw)
    .uint64(request.serial ?? BigInt(Date.now()))
    .uint32(USER_CERT)
    .string(request.keyId)
    .string(principals.toBuffer())
    .uint64(BigInt(Math.floor(request.validAfter.getTime() / 1000)))
    .uint64(BigInt(Math.floor(request.validBefore.getTime() / 1000)))
    .string('')
    .string(extensions.toBuffer())
    .string('')
    .string(ca.publicBlob)
    .toBuffer();

  const signature = sign(null, body, ca.privateKey);
  const signatureBlob = new SshWriter().string(ED25519).string(signature).toBuffer();
  return Buffer.concat([body, new SshWriter().string(signatureBlob).toBuffer()]);
}

/** Formats a certificate blob as a line for a `*-cert.pub` file. */
export function certificateLine(blob: Buffer, comment = ''): string {
  const line = `${ED25519_CERT} ${blob.toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** Checks whether a public key blob is an Ed25519 certificate (by the blob's own type name). */
export function isEd25519CertificateBlob(blob: Buffer): boolean {
  try {
    return new SshReader(blob).text() === ED25519_CERT;
  } catch {
    return false;
  }
}

function readNameMap(data: Buffer): Map<string, Buffer> {
  const reader = new SshReader(data);
  const map = new Map<string, Buffer>();
  while (reader.remaining > 0) map.set(reader.text(), reader.string());
  return map;
}

/**
 * Parses an Ed25519 OpenSSH certificate blob.
 *
 * @throws Error when the blob is truncated or not an ssh-ed25519 certificate.
 */
export function parseEd25519Certificate(blob: Buffer): SshCertificate {
  const reader = new SshReader(blob);
  const type = reader.text();
  if (type !== ED25519_CERT) throw new Error(`expected ${ED25519_CERT}, got "${type}"`);

  const nonce = reader.string();
  const publicKey = reader.string();
  const serial = reader.uint64();
  const certType = reader.uint32();
  const keyId = reader.text();

  const principalReader = new SshReader(reader.string());
  const principals: string[] = [];
  while (principalReader.remaining > 0) principals.push(principalReader.text());

  const validAfter = reader.uint64();
  const validBefore = reader.uint64();
  const criticalOptions = readNameMap(reader.string());
  const extensions = readNameMap(reader.string());
  reader.string(); // reserved
  const signatureKey = reader.string();
  const signedData = blob.subarray(0, reader.position);
  const signature = reader.string();

  return {
    nonce,
    publicKey,
    serial,
    type: certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    signedData,
    signature,
  };
}

/**
 * Checks a user certificate for a login as `user`: signed by `caBlob` with a valid
 * signature, a user certificate, inside its validity window, `user` among its principals,
 * and no critical option this server does not enforce.
 *
 * @returns undefined when the certificate is acceptable, else the reason for rejecting it.
 */
export function checkUserCertificate(
  cert: SshCertificate,
  caBlob: Buffer,
  user: string,
  now: Date,
): string | undefined {
  if (!cert.signatureKey.equals(caBlob)) return 'certificate is signed by an unknown CA';
  if (cert.type !== USER_CERT) return `certificate type ${cert.type} is not a user certificate`;

  const signature = new SshReader(cert.signature);
  if (signature.text() !== ED25519) return 'certificate signature is not ssh-ed25519';
  const caKey = ed25519PublicKeyObject(ed25519RawFromBlob(caBlob));
  if (!verify(null, cert.signedData, caKey, signature.string())) {
    return 'certificate signature does not verify against the CA key';
  }

  const seconds = BigInt(Math.floor(now.getTime() / 1000));
  if (seconds < cert.validAfter) return 'certificate is not yet valid';
  if (seconds >= cert.validBefore) return 'certificate has expired';
  if (!cert.principals.includes(user)) return `certificate has no principal "${user}"`;
  if (cert.criticalOptions.size > 0) {
    return `certificate has critical options this server does not enforce: ${[...cert.criticalOptions.keys()].join(', ')}`;
  }
  return undefined;
}

/**
 * Reads the raw Ed25519 signature from a userauth signature field. ssh2 1.17 strips the
 * "string algorithm" prefix only when it equals the request's key algorithm, so a
 * certificate login arrives with the prefix and a plain key login without it.
 */
export function userauthSignatureBytes(signature: Buffer): Buffer | undefined {
  if (signature.length === 64) return signature;
  try {
    const reader = new SshReader(signature);
    if (reader.text() !== ED25519) return undefined;
    const bytes = reader.string();
    return bytes.length === 64 ? bytes : undefined;
  } catch {
    return undefined;
  }
}
