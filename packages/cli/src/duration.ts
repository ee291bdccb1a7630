import { UsageError } from './exit-codes.js';

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `90s`, `30m`, `1h` or `1h30m` into milliseconds.
 *
 * @throws UsageError naming the option and the value.
 */
export function parseDuration(value: unknown, option: string): number {
  const text = String(value).trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const joined = parts.map((part) => part[0]).join('');
  if (parts.length === 0 || joined !== text) {
    throw new UsageError(
      `invalid ${option} ${JSON.stringify(text)}: expected a duration such as 90s, 30m or 1h30m`,
      `for example ${option} 30m`,
    );
  }
  return Math.round(
    parts.reduce(
      (total, part) => total + Number(part[1]) * (unitMs[part[2] as string] as number),
      0,
    ),
  );
}
