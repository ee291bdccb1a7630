import { DrError, validateRegions } from '@flydr/dr-core';
import { type FlyClient, isFlyError } from '@flydr/fly-client';
import { UsageError } from './exit-codes.js';

/**
 * Checks the form of a Fly region code before anything is sent: three letters, such as
 * `nrt` or `sin`. Upper case is accepted and lowered, so `SIN` is `sin`. Whether the region exists is checked by {@link requireKnownRegions}.
 *
 * @returns the code in lower case.
 * @throws UsageError naming the value and the option it came from.
 */
export function checkRegionCode(value: unknown, option: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{3}$/.test(value)) {
    throw new UsageError(
      `invalid region ${JSON.stringify(value)} for ${option}: a region code is three letters, such as nrt or sin`,
      'run `flydr regions` to list the region codes',
    );
  }
  return value.toLowerCase();
}

/**
 * Region codes Fly has listed for its public regions, used only when the platform's own
 * list cannot be read. Retired regions stay in it, so an app still running there is not
 * rejected here. NOTE: the list is written by hand, so a region Fly adds later is missing
 * from it until flydr adds it too.
 */
export const FALLBACK_REGION_CODES: readonly string[] = [
  'ams',
  'arn',
  'atl',
  'bog',
  'bom',
  'bos',
  'cdg',
  'den',
  'dfw',
  'ewr',
  'eze',
  'fra',
  'gdl',
  'gig',
  'gru',
  'hkg',
  'iad',
  'jnb',
  'lax',
  'lhr',
  'mad',
  'mia',
  'nrt',
  'ord',
  'otp',
  'phx',
  'qro',
  'scl',
  'sea',
  'sin',
  'sjc',
  'syd',
  'waw',
  'yul',
  'yyz',
];

// Errors after which the platform's region list counts as unreachable, so the built-in
// list decides. A rejected token is not one of them: the command would fail on it anyway.
const unreachableCodes = new Set([
  'FLY_NETWORK',
  'FLY_TIMEOUT',
  'FLY_API_ERROR',
  'FLY_RATE_LIMITED',
]);

/**
 * Checks region codes (already lowered by {@link checkRegionCode}) against the platform's
 * region list (`GET /v1/platform/regions`), or against {@link FALLBACK_REGION_CODES} when
 * that list cannot be read. Commands that journal an operation call it first, so a typo
 * never leaves a failed operation behind.
 *
 * @throws DrError `DR_UNKNOWN_REGION` (exit 2) naming the unknown codes and the valid ones;
 *   the client's errors when the token is rejected.
 */
export async function requireKnownRegions(
  client: FlyClient,
  codes: readonly string[],
): Promise<void> {
  if (codes.length === 0) return;
  try {
    await validateRegions(client, codes);
  } catch (error) {
    if (!isFlyError(error) || !unreachableCodes.has(error.code)) throw error;
    const unknown = codes.filter((code) => !FALLBACK_REGION_CODES.includes(code));
    if (unknown.length === 0) return;
    throw new DrError(
      'DR_UNKNOWN_REGION',
      `unknown region code ${unknown.map((code) => JSON.stringify(code)).join(', ')}; the platform region list could not be read (${error.code}), and flydr knows: ${FALLBACK_REGION_CODES.join(', ')}`,
      'Check the code with `flydr regions` once the API answers, or pass one of the codes above.',
      { regions: unknown, validRegions: [...FALLBACK_REGION_CODES] },
    );
  }
}
