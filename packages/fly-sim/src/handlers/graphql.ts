import { jsonResponse, type RouteSpec } from '../routes.js';
import { certificateLine, issueUserCertificate } from '../ssh/certificate.js';
import {
  ED25519,
  ed25519RawFromBlob,
  generateEd25519,
  openSshPrivateKey,
  parsePublicKeyLine,
} from '../ssh/ed25519-keys.js';
import type { SimWorld } from '../world.js';

/** Builds a GraphQL error response: HTTP 200 with `errors`, as Fly's GraphQL API sends them. */
function graphqlError(message: string, code = 'BAD_REQUEST'): Response {
  return jsonResponse({ data: null, errors: [{ message, extensions: { code } }] });
}

/** Reads an argument that is either a `$variable` or a "string literal" in the query text. */
function argument(
  query: string,
  field: string,
  arg: string,
  variables: Record<string, unknown>,
): unknown {
  const pattern = new RegExp(`${field}\\s*\\(\\s*${arg}\\s*:\\s*(?:\\$(\\w+)|"([^"]*)")`);
  const match = pattern.exec(query);
  if (match === null) return undefined;
  return match[1] !== undefined ? variables[match[1]] : match[2];
}

function appQuery(world: SimWorld, name: unknown): Response {
  if (typeof name !== 'string') return graphqlError('app(name:) needs a name');
  const app = world.apps.get(name);
  if (app === undefined) return graphqlError(`Could not find App "${name}"`, 'NOT_FOUND');
  const org = world.org(app.orgSlug);
  return jsonResponse({
    data: {
      app: {
        id: app.id,
        name: app.name,
        organization: { id: org.id, slug: org.slug, name: org.name },
      },
    },
  });
}

function issueCertificate(world: SimWorld, input: unknown): Response {
  if (typeof input !== 'object' || input === null) {
    return graphqlError('issueCertificate needs its input as a $input variable');
  }
  const fields = input as Record<string, unknown>;
  const org = [...world.orgs.values()].find((o) => o.id === fields.organizationId);
  if (org === undefined) {
    return graphqlError(
      `Could not find Organization "${String(fields.organizationId)}"`,
      'NOT_FOUND',
    );
  }
  const appNames = Array.isArray(fields.appNames) ? fields.appNames : [];
  for (const name of appNames) {
    if (world.apps.get(String(name))?.orgSlug !== org.slug) {
      return graphqlError(`app "${String(name)}" is not in organization ${org.slug}`, 'NOT_FOUND');
    }
  }
  const principals = Array.isArray(fields.principals)
    ? fields.principals.map(String)
    : ['root', 'fly'];
  const validHours = typeof fields.validHours === 'number' ? fields.validHours : 1;
  if (!(validHours > 0 && validHours <= 24 * 365)) {
    return graphqlError(`validHours ${validHours} is out of range: use 1 to 8760`);
  }

  // Without publicKey, Fly makes the key pair and returns its private key in `key`.
  let publicKeyRaw: Buffer;
  let key: string | null = null;
  if (typeof fields.publicKey === 'string' && fields.publicKey !== '') {
    let parsed: ReturnType<typeof parsePublicKeyLine>;
    try {
      parsed = parsePublicKeyLine(fields.publicKey);
    } catch (error) {
      return graphqlError(`invalid publicKey: ${(error as Error).message}`);
    }
    if (parsed.algorithm !== ED25519) {
      return graphqlError(
        `invalid publicKey: only ssh-ed25519 keys are supported, got ${parsed.algorithm}`,
      );
    }
    publicKeyRaw = ed25519RawFromBlob(parsed.blob);
  } else {
    const pair = generateEd25519();
    publicKeyRaw = pair.publicRaw;
    key = openSshPrivateKey(pair);
  }

  const now = Date.now();
  const blob = issueUserCertificate(org.sshCa, {
    publicKeyRaw,
    keyId: `flydr-sim:${org.slug}:${appNames.join(',')}`,
    principals,
    validAfter: new Date(now - 5 * 60_000),
    validBefore: new Date(now + validHours * 3_600_000),
  });
  return jsonResponse({
    data: { issueCertificate: { certificate: `${certificateLine(blob)}\n`, key } },
  });
}

/**
 * Returns the GraphQL route, for the two operations flydr sends: `app(name:)` with its
 * organization, and the `issueCertificate` mutation.
 */
export function graphqlRoutes(world: SimWorld): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/graphql',
      action: 'graphql',
      handle: async ({ body }) => {
        const request = await body();
        const query = typeof request.query === 'string' ? request.query : '';
        const variables = (request.variables ?? {}) as Record<string, unknown>;

        if (/\bissueCertificate\b/.test(query)) {
          return issueCertificate(world, argument(query, 'issueCertificate', 'input', variables));
        }
        if (/\bapp\s*\(/.test(query)) {
          return appQuery(world, argument(query, 'app', 'name', variables));
        }
        return graphqlError(
          'unsupported operation: the simulator serves only app(name:) and issueCertificate',
        );
      },
    },
  ];
}
