import { UsageError } from './exit-codes.js';

/**
 * Checks an http(s) URL option.
 *
 * @throws UsageError naming the option and the value.
 */
export function checkUrl(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(String(value));
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.toString();
  } catch {}
  throw new UsageError(
    `invalid ${option} ${JSON.stringify(value)}: expected an http or https URL`,
    `for example ${option} https://live-schedule-api.fly.dev/health`,
  );
}
