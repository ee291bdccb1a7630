import { UsageError } from './exit-codes.js';

/**
 * Checks the form of a Fly region code (three lowercase letters, such as `nrt` or `sin`)
 * before anything is sent. Whether the region exists is checked against the platform's
 * region list by the commands that reach the API.
 *
 * @throws UsageError naming the value and the option it came from.
 */
export function checkRegionCode(value: unknown, option: string): string {
  if (typeof value !== 'string' || !/^[a-z]{3}$/.test(value)) {
    throw new UsageError(
      `invalid region ${JSON.stringify(value)} for ${option}: a region code is three lowercase letters, such as nrt or sin`,
      'run `flydr regions` to list the region codes',
    );
  }
  return value;
}
