import { randomBytes, randomInt } from 'node:crypto';

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Returns a new machine id in Fly's form: 14 lowercase hex digits. */
export function newMachineId(): string {
  return randomBytes(7).toString('hex');
}

/** Returns a new volume id in Fly's form: "vol_" and 16 lowercase letters or digits. */
export function newVolumeId(): string {
  return `vol_${randomString(LOWER_ALNUM, 16)}`;
}

/** Returns a new volume snapshot id in Fly's form: "vs_" and 16 letters or digits. */
export function newSnapshotId(): string {
  return `vs_${randomString(ALNUM, 16)}`;
}

/** Returns a new machine instance id (its version), shaped like the ULIDs Fly returns. */
export function newInstanceId(): string {
  return `01${randomString(CROCKFORD, 24)}`;
}

/** Returns a new opaque id for apps and organizations. */
export function newOpaqueId(): string {
  return randomString(LOWER_ALNUM, 16);
}

/** Returns a new lease nonce. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** Returns a new request id for the fly-request-id response header. */
export function newRequestId(): string {
  return `${randomString(CROCKFORD, 26)}-sim`;
}

const ADJECTIVES = ['quiet', 'brave', 'misty', 'young', 'polished', 'dry', 'frosty', 'sparkling'];
const NOUNS = ['river', 'sun', 'leaf', 'shape', 'bird', 'flower', 'glade', 'resonance'];

/** Returns a new machine name in the style of Fly's generated names ("quiet-river-1234"). */
export function newMachineName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000, 9999)}`;
}
