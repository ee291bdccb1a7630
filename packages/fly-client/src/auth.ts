import { FlyInputError } from './errors.js';
import { tokenParts } from './redact.js';

/** Authorization header values for the two Fly endpoints. */
export interface AuthHeaders {
  /** Value for the Machines REST API. */
  machines: string;
  /** Value for the GraphQL API. */
  graphql: string;
}

const MACAROON_PREFIXES = new Set(['fm1r', 'fm1a', 'fm2']);

/** Returns true when a token part is a macaroon (its prefix before `_` is fm1r, fm1a or fm2). */
export function isMacaroon(part: string): boolean {
  const underscore = part.indexOf('_');
  return underscore > 0 && MACAROON_PREFIXES.has(part.slice(0, underscore));
}

/**
 * Builds the Authorization header values the way Fly's own tooling does.
 *
 * A leading `Bearer ` or `FlyV1 ` is stripped and the rest split on commas. When any part is a
 * macaroon, the Machines API gets `FlyV1 <macaroons joined by ",">`, else `Bearer <token>`.
 * GraphQL gets the same scheme with macaroons and other tokens joined by ",".
 *
 * @throws FlyInputError (`FLY_INVALID_INPUT`) when the token is empty or contains whitespace or
 *   control characters inside a part. The message never contains the token.
 */
export function buildAuthHeaders(token: string): AuthHeaders {
  const parts = tokenParts(token);
  if (parts.length === 0) {
    throw new FlyInputError(
      'token',
      'Fly API token is empty',
      'Set FLY_API_TOKEN (for example from `fly tokens create deploy`) and try again.',
    );
  }
  if (parts.some((part) => /[\s\p{Cc}]/u.test(part))) {
    throw new FlyInputError(
      'token',
      'Fly API token contains whitespace or control characters inside it',
      'Copy the token again without line breaks; keep only the optional "FlyV1 " prefix.',
    );
  }

  const macaroons = parts.filter(isMacaroon);
  const others = parts.filter((part) => !isMacaroon(part));
  if (macaroons.length === 0) {
    const bearer = `Bearer ${others.join(',')}`;
    return { machines: bearer, graphql: bearer };
  }
  return {
    machines: `FlyV1 ${macaroons.join(',')}`,
    graphql: `FlyV1 ${[...macaroons, ...others].join(',')}`,
  };
}
