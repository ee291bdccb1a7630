import { FlyInputError } from './errors.js';

// Input checks run before any request, so a bad value never reaches Fly. Each check throws
// FlyInputError naming the field and the value, and says what a valid value looks like.

function show(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return String(value);
}

function fail(field: string, value: unknown, expected: string, hint: string): never {
  throw new FlyInputError(field, `invalid ${field} ${show(value)}: expected ${expected}`, hint);
}

/** Fly app names: lowercase letters, digits and dashes, 1 to 63 characters, no edge dashes. */
export function checkAppName(value: unknown, field = 'app'): string {
  if (typeof value !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) {
    fail(
      field,
      value,
      'an app name of lowercase letters, digits and dashes (1-63 characters)',
      'Pass the name shown by `fly apps list`, such as "live-schedule-api".',
    );
  }
  return value;
}

/** Organization slugs, such as `personal` or `acme-inc`. */
export function checkOrgSlug(value: unknown, field = 'orgSlug'): string {
  if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(value)) {
    fail(
      field,
      value,
      'an organization slug of lowercase letters, digits and dashes',
      'Pass the slug shown by `fly orgs list`, such as "personal".',
    );
  }
  return value;
}

/** Machine ids: lowercase letters and digits, such as `148ed193b95089`. */
export function checkMachineId(value: unknown, field = 'machineId'): string {
  if (typeof value !== 'string' || !/^[0-9a-z]{1,64}$/.test(value)) {
    fail(
      field,
      value,
      'a machine id of lowercase letters and digits, such as "148ed193b95089"',
      'Pass the id shown by `fly machines list`.',
    );
  }
  return value;
}

/** Volume ids: `vol_` followed by lowercase letters and digits. */
export function checkVolumeId(value: unknown, field = 'volumeId'): string {
  if (typeof value !== 'string' || !/^vol_[0-9a-z]{1,64}$/.test(value)) {
    fail(
      field,
      value,
      'a volume id such as "vol_8l524yj0ko347zmp"',
      'Pass the id shown by `fly volumes list`.',
    );
  }
  return value;
}

/** Volume snapshot ids, such as `vs_MgLAggLZkYx89fLy`. */
export function checkSnapshotId(value: unknown, field = 'snapshotId'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(value)) {
    fail(
      field,
      value,
      'a snapshot id of letters, digits, "_" and "-"',
      'Pass the id shown by `fly volumes snapshots list VOLUME_ID`.',
    );
  }
  return value;
}

/** Volume names: lowercase letters, digits and underscores, at most 30 characters. */
export function checkVolumeName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !/^[a-z0-9_]{1,30}$/.test(value)) {
    fail(
      field,
      value,
      'a volume name of lowercase letters, digits and underscores (1-30 characters)',
      'Use a name such as "data" or "data_backup".',
    );
  }
  return value;
}

/** Machine names: letters, digits, "_" and "-", 1 to 63 characters. */
export function checkMachineName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})$/.test(value)) {
    fail(
      field,
      value,
      'a machine name of letters, digits, "_" and "-" (1-63 characters)',
      'Use a name such as "standby-sin-1", or omit it and let Fly pick one.',
    );
  }
  return value;
}

/** Checks a concrete region code: three lowercase letters, such as `nrt`. */
export function checkRegionCode(value: unknown, field = 'region'): string {
  if (typeof value !== 'string' || !/^[a-z]{3}$/.test(value)) {
    fail(
      field,
      value,
      'a three-letter region code such as "nrt" or "sin"',
      'Run `flydr regions` to list region codes.',
    );
  }
  return value;
}

/**
 * Checks a machine placement region: one code or a comma-separated priority list of codes and
 * aliases (`us`, `eu`, `na`, `sa`, `apac`, `any`), as the machine create call accepts.
 */
export function checkRegionExpression(value: unknown, field = 'region'): string[] {
  const parts = typeof value === 'string' ? value.split(',').map((part) => part.trim()) : [];
  if (parts.length === 0 || parts.some((part) => !/^[a-z]{2,4}$/.test(part))) {
    fail(
      field,
      value,
      'a region code such as "nrt", or a comma-separated list such as "nrt,sin"',
      'Run `flydr regions` to list region codes.',
    );
  }
  return parts;
}

/** Checks that a value is an integer within [min, max]. */
export function checkInteger(
  value: unknown,
  field: string,
  min: number,
  max: number,
  hint: string,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, value, `an integer from ${min} to ${max}`, hint);
  }
  return value;
}

/**
 * Checks a volume size in GB: a whole number from 1 to 500.
 *
 * NOTE: 500 GB is an unconfirmed per-volume maximum; a larger limit on Fly would be rejected here.
 */
export function checkVolumeSizeGb(value: unknown, field = 'sizeGb'): number {
  return checkInteger(value, field, 1, 500, 'Pass whole gigabytes from 1 to 500.');
}

/**
 * Mount paths: absolute, not `/`, no `.` or `..` segments, no empty segments, no spaces or
 * control characters.
 */
export function checkMountPath(value: unknown, field = 'mounts[].path'): string {
  const valid =
    typeof value === 'string' &&
    value.startsWith('/') &&
    value !== '/' &&
    value.length <= 255 &&
    !/[\s\p{Cc}]/u.test(value) &&
    value
      .slice(1)
      .replace(/\/$/, '')
      .split('/')
      .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  if (!valid) {
    fail(
      field,
      value,
      'an absolute path below "/" without "." or ".." segments, such as "/app/data"',
      'Use the mount destination from fly.toml [mounts], such as "/app/data".',
    );
  }
  return value as string;
}

/** Metadata keys: letters, digits, "_", "-" and ".", at most 64 characters. */
export function checkMetadataKey(value: unknown, field = 'key'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    fail(
      field,
      value,
      'a metadata key of letters, digits, "_", "-" and "." (1-64 characters)',
      'Use a key such as "flydr_role".',
    );
  }
  return value;
}

/** Lease nonces: printable characters without spaces, as Fly returns them. */
export function checkNonce(value: unknown, field = 'nonce'): string {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new FlyInputError(
      field,
      `invalid ${field}: expected the nonce returned by acquireLease`,
      'Pass lease.nonce from acquireLease or withLease.',
    );
  }
  return value;
}

/** Signals the stop call accepts. */
export const STOP_SIGNALS = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTERM',
] as const;

/** A signal name the Machines API accepts. */
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Signal names for stop, restart and signal calls. */
export function checkSignal(value: unknown, field = 'signal'): StopSignal {
  if (!STOP_SIGNALS.includes(value as StopSignal)) {
    fail(
      field,
      value,
      `one of ${STOP_SIGNALS.join(', ')}`,
      'Use SIGTERM or SIGINT for a clean stop.',
    );
  }
  return value as StopSignal;
}

/** Go duration strings such as `30s`, `1m30s` or `500ms`. */
export function checkDuration(value: unknown, field = 'timeout'): string {
  if (typeof value !== 'string' || !/^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(value)) {
    fail(
      field,
      value,
      'a duration such as "30s", "1m30s" or "500ms"',
      'Write the unit after the number.',
    );
  }
  return value;
}

/** Checks a time budget in milliseconds: a finite number above zero. */
export function checkTimeoutMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(field, value, 'a number of milliseconds above 0', 'Pass a budget such as 60000.');
  }
  return value;
}

/** Checks an SSH public key in authorized_keys form: `type base64 [comment]`. */
export function checkPublicKey(value: unknown, field = 'publicKey'): string {
  const valid =
    typeof value === 'string' &&
    /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}(?: [^\n\r]*)?$/.test(
      value.trim(),
    );
  if (!valid) {
    throw new FlyInputError(
      field,
      `invalid ${field}: expected one authorized_keys line such as "ssh-ed25519 AAAA… comment"`,
      'Pass the public key (the .pub file), never the private key.',
    );
  }
  return (value as string).trim();
}
