import type { Options } from 'yargs';
import { UsageError } from './exit-codes.js';

/** Range and wording of a whole-number option. */
export interface WholeNumberSpec {
  /** Smallest accepted value. @default 0 */
  min?: number;
  /** Largest accepted value. @default Number.MAX_SAFE_INTEGER */
  max?: number;
  /** Unit of the number for the message, such as "days" or "gigabytes". */
  unit?: string;
  /** A valid value for the example in the hint. */
  example: number;
}

/**
 * Parses the text of a whole-number option, such as `--keep-days 30`. yargs turns text
 * that is not a number into NaN, which prints as `null`, so such options are declared as
 * strings and parsed here, where the message can show what was typed.
 *
 * @throws UsageError naming the option, the value as typed and the accepted range.
 */
export function parseWholeNumber(value: unknown, option: string, spec: WholeNumberSpec): number {
  const min = spec.min ?? 0;
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  const text = typeof value === 'number' ? String(value) : value;
  const parsed = typeof text === 'string' && /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(parsed) && parsed >= min && parsed <= max) return parsed;

  const typed = Array.isArray(value)
    ? `given ${value.length} times`
    : JSON.stringify(typeof value === 'string' ? value : String(value));
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
  const unit = spec.unit === undefined ? '' : ` of ${spec.unit}`;
  throw new UsageError(
    `invalid ${option} ${typed}: expected a whole number${unit}, ${range}`,
    `for example ${option} ${spec.example}`,
  );
}

/**
 * Returns the yargs settings of a whole-number option: read as text, so the command can
 * pass the value as typed to {@link parseWholeNumber}. A `coerce` function would not do,
 * because yargs replaces an error thrown there with its own and drops the hint.
 */
export function wholeNumberOption(): Options {
  return { type: 'string', requiresArg: true };
}
