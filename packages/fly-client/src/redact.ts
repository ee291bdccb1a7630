/** Placeholder that replaces a secret in any text the client produces. */
export const REDACTED = '[REDACTED]';

/**
 * Patterns for secrets whose exact value the client may not know: macaroon and OAuth tokens,
 * authorization header values, PEM blocks (private keys, certificates) and OpenSSH certificates.
 */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g, `${REDACTED} PEM block`],
  [/\b[a-z0-9-]+-cert-v01@openssh\.com\s+[A-Za-z0-9+/=]+/g, `${REDACTED} SSH certificate`],
  [/\b(FlyV1|Bearer)\s+[^\s"',;]+(?:,[^\s"',;]+)*/gi, `$1 ${REDACTED}`],
  [/\b(?:fm1r|fm1a|fm2|fo1)_[A-Za-z0-9_+/=-]+/g, REDACTED],
];

/** Removes secrets that match the generic token, key and certificate patterns. */
export function redactPatterns(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) {
    result = result.replace(pattern, replacement);
  }
  return result;
}

/**
 * Removes exact secret values, then the generic patterns, from text.
 *
 * A client creates one redactor with its token (each comma-separated part as well as the
 * whole value) and adds certificates it issues later.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: readonly string[] = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Adds a secret value; values shorter than 4 characters are ignored to keep text readable. */
  add(secret: string): void {
    const trimmed = secret.trim();
    if (trimmed.length >= 4) this.#secrets.add(trimmed);
  }

  /** Returns text with every known secret and every secret-like pattern replaced. */
  redact(text: string): string {
    let result = text;
    // Longest first, so a whole token is replaced before one of its parts.
    const secrets = [...this.#secrets].sort((a, b) => b.length - a.length);
    for (const secret of secrets) result = result.split(secret).join(REDACTED);
    return redactPatterns(result);
  }

  /** Deep-copies a value with every string redacted; errors become `{ name, message }`. */
  redactValue(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) return { name: value.name, message: this.redact(value.message) };
    if (Array.isArray(value)) return value.map((item) => this.redactValue(item, depth + 1));
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = this.redactValue(item, depth + 1);
    return copy;
  }
}

/**
 * Process-wide redactor that every {@link FlyError} and every client logger applies.
 *
 * Each client adds its token here when it is created, so an error raised anywhere in this
 * package (input checks included) cannot carry the token of any client in the process.
 */
export const globalRedactor = new Redactor();

/** Splits a token as Fly tooling does: optional scheme prefix, then comma-separated parts. */
export function tokenParts(token: string): string[] {
  const bare = token.trim().replace(/^(bearer|flyv1)\s+/i, '');
  return bare
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}
