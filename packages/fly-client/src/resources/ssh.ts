import { z } from 'zod';
import type { ClientContext } from '../context.js';
import { FlyInputError, FlyNotFoundError } from '../errors.js';
import { type CallOptions, graphqlRequest } from '../http.js';
import { globalRedactor } from '../redact.js';
import { checkAppName, checkInteger, checkPublicKey } from '../validate.js';

/** Input of {@link SshResource.issueCertificate}. */
export interface IssueCertificateRequest {
  app: string;
  /** Public key as one authorized_keys line, such as `ssh-ed25519 AAAA… flydr`. */
  publicKey: string;
  /** Users the certificate may log in as. @default ['root', 'fly'] */
  principals?: readonly string[] | undefined;
  /** Validity in hours, 1 to 24. @default 1 */
  validHours?: number | undefined;
}

const APP_ORG_QUERY = `query($appName: String!) {
  app(name: $appName) { organization { id } }
}`;

const ISSUE_CERTIFICATE_MUTATION = `mutation($input: IssueCertificateInput!) {
  issueCertificate(input: $input) { certificate key }
}`;

const appOrgSchema = z.looseObject({
  app: z.looseObject({ organization: z.looseObject({ id: z.string() }) }).nullable(),
});

const certificateSchema = z.looseObject({
  issueCertificate: z.looseObject({
    certificate: z.string(),
    key: z.string().nullish(),
  }),
});

/** SSH certificates for logging in to machines, through Fly's GraphQL API. */
export class SshResource {
  readonly #context: ClientContext;

  /** Built by {@link createFlyClient}; not meant to be constructed directly. */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  /**
   * Issues a short-lived SSH user certificate for the app, signed by the organization's CA.
   * Sends two GraphQL calls: `app(name) { organization { id } }`, then
   * `issueCertificate(input: { organizationId, principals, appNames: [app], publicKey,
   * validHours })`. The certificate is added to the redaction list, so it never appears in
   * errors or logs of any client in this process.
   *
   * The mutation is not retried; issuing again after a network error is safe, because each
   * certificate is independent and short-lived.
   *
   * @throws FlyInputError for a bad app name, key, principal or validity (nothing sent);
   *   FlyNotFoundError when the app does not exist; FlyUnauthorizedError; FlyApiError for other
   *   GraphQL errors (for example an organization without an SSH CA, fixed by `fly ssh issue`).
   */
  async issueCertificate(
    request: IssueCertificateRequest,
    options: CallOptions = {},
  ): Promise<{ certificate: string }> {
    const app = checkAppName(request?.app);
    const publicKey = checkPublicKey(request.publicKey);
    const principals = [...(request.principals ?? ['root', 'fly'])];
    if (
      principals.length === 0 ||
      principals.some((name) => !/^[a-z_][a-z0-9_-]{0,31}$/.test(name))
    ) {
      throw new FlyInputError(
        'principals',
        `invalid principals ${JSON.stringify(principals)}: expected Unix user names`,
        'Use ["root", "fly"], or leave principals out.',
      );
    }
    const validHours = checkInteger(
      request.validHours ?? 1,
      'validHours',
      1,
      24,
      'Use 1 hour unless a transfer needs longer.',
    );

    const org = await graphqlRequest(this.#context, {
      endpoint: 'ssh.issueCertificate app lookup',
      query: APP_ORG_QUERY,
      variables: { appName: app },
      schema: appOrgSchema,
      idempotent: true,
      signal: options.signal,
      subject: `app ${app}`,
    });
    if (!org.app) {
      throw new FlyNotFoundError(`app ${app} not found`, {
        status: 200,
        method: 'POST',
        path: new URL(this.#context.graphqlUrl).pathname,
        hint: 'Check the app name with `fly apps list`.',
      });
    }

    const issued = await graphqlRequest(this.#context, {
      endpoint: 'ssh.issueCertificate',
      query: ISSUE_CERTIFICATE_MUTATION,
      variables: {
        input: {
          organizationId: org.app.organization.id,
          principals,
          appNames: [app],
          publicKey,
          validHours,
        },
      },
      schema: certificateSchema,
      idempotent: false,
      signal: options.signal,
      subject: `SSH certificate for app ${app}`,
    });

    const certificate = issued.issueCertificate.certificate;
    // The base64 blob alone is as sensitive as the whole line, so both are redacted.
    for (const secret of [certificate, issued.issueCertificate.key ?? '']) {
      globalRedactor.add(secret);
      for (const part of secret.split(/\s+/)) if (part.length >= 32) globalRedactor.add(part);
    }
    return { certificate };
  }
}
