import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { SshReader, SshWriter } from './wire.js';

/** SSH name of the Ed25519 public key algorithm. */
export const ED25519 = 'ssh-ed25519';

/** An Ed25519 key pair with the forms SSH needs. */
export interface Ed25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Raw 32-byte public key. */
  publicRaw: Buffer;
  /** SSH public key blob: string "ssh-ed25519", string key. */
  publicBlob: Buffer;
}

/** Generates an Ed25519 key pair. */
export function generateEd25519(): Ed25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicRaw = rawPublicKey(publicKey);
  return { privateKey, publicKey, publicRaw, publicBlob: ed25519PublicBlob(publicRaw) };
}

/** Returns the raw 32 bytes of an Ed25519 public key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

/** Builds a key object from a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

/** Encodes the SSH public key blob of a raw Ed25519 key. */
export function ed25519PublicBlob(raw: Buffer): Buffer {
  return new SshWriter().string(ED25519).string(raw).toBuffer();
}

/** Formats an authorized_keys line ("ssh-ed25519 AAAA... comment"). */
export function authorizedKeyLine(pair: Pick<Ed25519KeyPair, 'publicBlob'>, comment = ''): string {
  const line = `${ED25519} ${pair.publicBlob.toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** A public key read from an authorized_keys line. */
export interface ParsedPublicKeyLine {
  algorithm: string;
  blob: Buffer;
  comment: string;
}

/**
 * Parses an authorized_keys style line ("type base64 [comment]").
 *
 * @throws Error naming the line's problem when it is not "type base64 [comment]" or the
 *   blob's own type differs from the line's.
 */
export function parsePublicKeyLine(line: string): ParsedPublicKeyLine {
  const [algorithm, base64, ...comment] = line.trim().split(/\s+/);
  if (algorithm === undefined || base64 === undefined || !/^[A-Za-z0-9+/]+=*$/.test(base64)) {
    throw new Error('expected an authorized_keys line such as "ssh-ed25519 AAAA... comment"');
  }

  const blob = Buffer.from(base64, 'base64');
  const blobType = new SshReader(blob).text();
  if (blobType !== algorithm) {
    throw new Error(`key type "${algorithm}" does not match the key data's type "${blobType}"`);
  }
  return { algorithm, blob, comment: comment.join(' ') };
}

/** Reads the raw public key from an ssh-ed25519 public key blob. */
export function ed25519RawFromBlob(blob: Buffer): Buffer {
  const reader = new SshReader(blob);
  const type = reader.text();
  if (type !== ED25519) throw new Error(`expected an ssh-ed25519 key, got "${type}"`);
  const raw = reader.string();
  if (raw.length !== 32) throw new Error(`ssh-ed25519 key has ${raw.length} bytes, expected 32`);
  return raw;
}

/**
 * Encodes an Ed25519 private key in the unencrypted "openssh-key-v1" format that
 * `ssh -i`, ssh2 and `ssh-keygen` read.
 */
export function openSshPrivateKey(pair: Ed25519KeyPair, comment = ''): string {
  const jwk = pair.privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new Error('not an Ed25519 private key');
  const seed = Buffer.from(jwk.d, 'base64url');
  const check = randomBytes(4).readUInt32BE();

  const section = new SshWriter()
    .uint32(check)
    .uint32(check)
    .string(ED25519)
    .string(pair.publicRaw)
    .string(Buffer.concat([seed, pair.publicRaw]))
    .string(comment);

  // The private section is padded with bytes 1, 2, 3, ... to the cipher block size (8 for "none").
  const unpadded = section.toBuffer();
  const padLength = (8 - (unpadded.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));

  const body = new SshWriter()
    .raw(Buffer.from('openssh-key-v1\0', 'latin1'))
    .string('none')
    .string('none')
    .string('')
    .uint32(1)
    .string(pair.publicBlob)
    .string(Buffer.concat([unpadded, padding]))
    .toBuffer();

  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
