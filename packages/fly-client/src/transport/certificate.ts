import type { ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';

import { TransportError } from './errors.js';
import { generateEd25519KeyPair } from './key-pair.js';

const { utils } = ssh2;

const ED25519_CERT_TYPE = 'ssh-ed25519-cert-v01@openssh.com';

/** Fields of an OpenSSH user certificate that the transport reads. */
export interface ParsedCertificate {
  /** Certificate algorithm, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The whole certificate blob, offered to the server as the public key. */
  blob: Buffer;
  /** Raw ed25519 public key the certificate was issued for. */
  publicKey: Buffer;
  principals: string[];
  validAfterMs: number;
  /** End of validity; `Infinity` for a certificate that never expires. */
  validBeforeMs: number;
}

/**
 * Issues an OpenSSH user certificate for a public key given as an authorized_keys line.
 * `client.ssh.issueCertificate` fits this with `app` bound, see {@link flyCertificateIssuer}.
 */
export interface CertificateIssuer {
  issue(publicKey: string): Promise<{ certificate: string }>;
}

/** The part of a Fly client that issues SSH certificates (structural, to keep this subpath small). */
export interface SshCertificateClient {
  ssh: {
    issueCertificate(input: {
      app: string;
      publicKey: string;
      principals?: string[];
      validHours?: number;
    }): Promise<{ certificate: string }>;
  };
}

/**
 * Returns a {@link CertificateIssuer} that requests, through Fly's GraphQL mutation `issueCertificate`, a
 * certificate valid for `app`.
 */
export function flyCertificateIssuer(
  client: SshCertificateClient,
  app: string,
  options: { principals?: string[]; validHours?: number } = {},
): CertificateIssuer {
  return {
    issue: (publicKey) =>
      client.ssh.issueCertificate({
        app,
        publicKey,
        principals: options.principals ?? ['root', 'fly'],
        validHours: options.validHours ?? 1,
      }),
  };
}

/** Reads one length-prefixed field of an SSH wire-format blob. */
class BlobReader {
  #offset = 0;

  constructor(readonly blob: Buffer) {}

  get done(): boolean {
    return this.#offset >= this.blob.length;
  }

  string(): Buffer {
    const length = this.uint32();
    const value = this.blob.subarray(this.#offset, this.#offset + length);
    if (value.length !== length) throw new RangeError('certificate blob ends early');
    this.#offset += length;
    return value;
  }

  uint32(): number {
    const value = this.blob.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  uint64(): bigint {
    const value = this.blob.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }
}

function invalidCertificate(reason: string): TransportError {
  return new TransportError('TRANSPORT_INVALID_INPUT', `invalid SSH certificate: ${reason}`, {
    hint: 'pass the `certificate` string returned by issueCertificate, or an ssh-ed25519-cert-v01@openssh.com line from ssh-keygen -s',
  });
}

/**
 * Parses an OpenSSH ed25519 user certificate in authorized_keys form
 * (`ssh-ed25519-cert-v01@openssh.com AAAA... [comment]`), following OpenSSH's PROTOCOL.certkeys.
 * @throws TransportError TRANSPORT_INVALID_INPUT for any other form; the message never
 * contains the certificate.
 */
export function parseCertificate(text: string): ParsedCertificate {
  const [type, base64] = text.trim().split(/\s+/);
  if (type !== ED25519_CERT_TYPE || !base64) {
    throw invalidCertificate(`expected type ${ED25519_CERT_TYPE}, got ${type ?? 'nothing'}`);
  }

  const blob = Buffer.from(base64, 'base64');
  try {
    const reader = new BlobReader(blob);
    const innerType = reader.string().toString('latin1');
    if (innerType !== type) throw invalidCertificate(`blob type ${innerType} differs from ${type}`);
    reader.string(); // nonce
    const publicKey = reader.string();
    reader.uint64(); // serial
    const certType = reader.uint32();
    if (certType !== 1)
      throw invalidCertificate('it is a host certificate, not a user certificate');
    reader.string(); // key id

    const principals: string[] = [];
    const principalReader = new BlobReader(reader.string());
    while (!principalReader.done) {
      principals.push(principalReader.string().toString('utf8'));
    }

    const validAfter = reader.uint64();
    const validBefore = reader.uint64();
    return {
      type,
      blob,
      publicKey,
      principals,
      validAfterMs: Number(validAfter) * 1000,
      validBeforeMs: validBefore === 0xffffffffffffffffn ? Infinity : Number(validBefore) * 1000,
    };
  } catch (error) {
    if (error instanceof TransportError) throw error;
    throw invalidCertificate('the blob is truncated or malformed');
  }
}

/** Parses a private key given as text or bytes into ssh2's key object. */
export function parsePrivateKey(key: string | Buffer, passphrase?: string): ParsedKey {
  const parsed = utils.parseKey(key, passphrase);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error || !first || !first.isPrivateKey()) {
    throw new TransportError('TRANSPORT_INVALID_INPUT', 'invalid SSH private key', {
      hint: 'pass an unencrypted OpenSSH or PEM private key, or its passphrase',
      cause: first instanceof Error ? new Error(first.message) : undefined,
    });
  }
  return first;
}

/**
 * Returns an ssh2 key object that offers `certificate` and signs with `privateKey`.
 *
 * ssh2 1.17.0 has no option for certificates: the object takes the certificate's algorithm
 * name and blob, and the project's patch of ssh2 names the signature with the base algorithm,
 * as OpenSSH requires.
 * @throws TransportError TRANSPORT_INVALID_INPUT when the certificate is for another key.
 */
export function certificateKey(privateKey: ParsedKey, certificate: ParsedCertificate): ParsedKey {
  const ownPublic = new BlobReader(privateKey.getPublicSSH());
  ownPublic.string();
  if (!ownPublic.string().equals(certificate.publicKey)) {
    throw invalidCertificate('it was issued for a different public key than the private key given');
  }

  return Object.create(privateKey, {
    type: { value: certificate.type },
    getPublicSSH: { value: () => certificate.blob },
  }) as ParsedKey;
}

/** An ed25519 key pair that exists only in memory, with its certificate. */
interface CachedCertificate {
  key: ParsedKey;
  validBeforeMs: number;
}

/**
 * Keeps an in-memory ed25519 key and a certificate issued for it, and issues a new pair when
 * the certificate is within `renewBeforeMs` of expiring. Share one cache between the
 * transports of an app so each connection does not issue its own certificate.
 * The private key is never written to disk.
 */
export class SshCertificateCache {
  readonly #issuer: CertificateIssuer;
  readonly #renewBeforeMs: number;
  #current: Promise<CachedCertificate> | undefined;

  /** @param options.renewBeforeMs @default 300000 (5 minutes) */
  constructor(issuer: CertificateIssuer, options: { renewBeforeMs?: number } = {}) {
    this.#issuer = issuer;
    this.#renewBeforeMs = options.renewBeforeMs ?? 5 * 60_000;
  }

  /**
   * Returns a key object for ssh2 that presents a valid certificate.
   * @throws whatever the issuer throws, and TransportError TRANSPORT_INVALID_INPUT when the
   * issuer returns something that is not an ed25519 user certificate for the key sent.
   */
  async key(): Promise<ParsedKey> {
    const current = await this.#current?.catch(() => undefined);
    if (current && current.validBeforeMs - this.#renewBeforeMs > Date.now()) return current.key;

    this.#current = this.#issue();
    return (await this.#current).key;
  }

  async #issue(): Promise<CachedCertificate> {
    const pair = generateEd25519KeyPair();
    const privateKey = parsePrivateKey(pair.private);
    const publicKeyLine = pair.public.trim().split(/\s+/).slice(0, 2).join(' ');
    const { certificate } = await this.#issuer.issue(publicKeyLine);
    const parsed = parseCertificate(certificate);
    return { key: certificateKey(privateKey, parsed), validBeforeMs: parsed.validBeforeMs };
  }
}
