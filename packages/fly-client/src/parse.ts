import type { z } from 'zod';
import { FlyResponseError } from './errors.js';

/** Origin of a response (endpoint, method, path), for the error message of a mismatch. */
export interface ResponseOrigin {
  endpoint: string;
  method: string;
  path: string;
  status?: number | undefined;
  requestId?: string | undefined;
}

/** Formats a zod issue path as a JSON path, such as `$.config.mounts[0].path`. */
export function toJsonPath(path: readonly PropertyKey[]): string {
  let result = '$';
  for (const key of path) {
    result += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return result;
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return issue.expected;
  if (issue.code === 'invalid_union') return 'one of the documented shapes';
  if (issue.code === 'invalid_value') return `one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'too_big' && issue.origin === 'string') {
    return `a string of at most ${issue.maximum} characters`;
  }
  return issue.message;
}

/**
 * Parses a decoded JSON body with `schema`.
 *
 * @throws FlyResponseError (`FLY_BAD_RESPONSE`) naming the endpoint, the JSON path of the first
 *   mismatch and what was expected there; the body itself is never copied into the error.
 */
export function parseResponse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  origin: ResponseOrigin,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;

  const issue = result.error.issues[0];
  throw new FlyResponseError({
    endpoint: origin.endpoint,
    method: origin.method,
    path: origin.path,
    status: origin.status,
    requestId: origin.requestId,
    jsonPath: issue ? toJsonPath(issue.path) : '$',
    expected: issue ? describeExpected(issue) : 'a valid body',
  });
}

/**
 * Decodes a JSON body; an empty body decodes to `emptyAs`.
 *
 * @throws FlyResponseError (`FLY_BAD_RESPONSE`) at path `$` when the text is not JSON.
 */
export function decodeJson(text: string, origin: ResponseOrigin, emptyAs: unknown): unknown {
  if (text.trim() === '') return emptyAs;
  try {
    return JSON.parse(text);
  } catch {
    throw new FlyResponseError({ ...origin, jsonPath: '$', expected: 'a JSON document' });
  }
}
