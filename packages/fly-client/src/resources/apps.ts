import type { ClientContext } from '../context.js';
import { FlyInputError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import {
  type App,
  appSchema,
  createAppResponseSchema,
  listAppsResponseSchema,
} from '../schemas/app.js';
import { checkAppName, checkOrgSlug } from '../validate.js';
import { appPath } from './paths.js';

/** Input of {@link AppsResource.create}. */
export interface CreateAppRequest {
  /** App name, unique across all of Fly. */
  name: string;
  /** Organization slug, such as `personal`. */
  orgSlug: string;
  /** Custom private network name; omit for the organization's default network. */
  network?: string | undefined;
}

/** Result of {@link AppsResource.create}: Fly returns the new app's id. */
export interface CreatedApp {
  name: string;
  id: string | undefined;
}

/** Apps: list, get, create and delete. */
export class AppsResource {
  readonly #context: ClientContext;

  /** Built by {@link createFlyClient}; not meant to be constructed directly. */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  /**
   * Lists the apps of an organization. Sends `GET /v1/apps?org_slug=<orgSlug>`; retried on
   * network errors, 429 and 502-504.
   *
   * @throws FlyInputError for an invalid slug (nothing sent); FlyUnauthorizedError,
   *   FlyNotFoundError, FlyResponseError and the other FlyApiError classes from the response.
   */
  async list(orgSlug: string, options: CallOptions = {}): Promise<App[]> {
    checkOrgSlug(orgSlug);
    const response = await restRequest(this.#context, {
      endpoint: 'apps.list',
      method: 'GET',
      path: '/v1/apps',
      query: { org_slug: orgSlug },
      schema: listAppsResponseSchema,
      idempotent: true,
      rate: { key: `apps.list:${orgSlug}`, class: 'action' },
      signal: options.signal,
      subject: `apps of organization ${orgSlug}`,
    });
    return response.apps ?? [];
  }

  /**
   * Gets one app. Sends `GET /v1/apps/{app}`; retried like every read. A 403 means the name
   * belongs to another organization.
   *
   * @throws FlyInputError for an invalid name (nothing sent); FlyNotFoundError when the app does
   *   not exist; FlyUnauthorizedError (403) when another organization owns it.
   */
  async get(app: string, options: CallOptions = {}): Promise<App> {
    checkAppName(app);
    return restRequest(this.#context, {
      endpoint: 'apps.get',
      method: 'GET',
      path: appPath(app),
      schema: appSchema,
      idempotent: true,
      rate: { key: `apps.get:${app}`, class: 'action' },
      signal: options.signal,
      subject: `app ${app}`,
    });
  }

  /**
   * Creates an app. Sends `POST /v1/apps` with `{ name, org_slug, network? }`.
   *
   * Never retried: after a network error or timeout the app may exist. Reconcile with
   * {@link AppsResource.get} on the same name: found means the create went through, 404 means
   * it did not and the create can be sent again.
   *
   * @throws FlyInputError for an invalid name or slug (nothing sent); FlyApiError with
   *   `flyStatus: 'name_taken'` (422) when the name is used anywhere on Fly.
   */
  async create(request: CreateAppRequest, options: CallOptions = {}): Promise<CreatedApp> {
    checkAppName(request?.name, 'name');
    checkOrgSlug(request.orgSlug);
    if (request.network !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(request.network)) {
      throw new FlyInputError(
        'network',
        `invalid network ${JSON.stringify(request.network)}: expected lowercase letters, digits and dashes`,
        'Omit network to use the organization default.',
      );
    }

    const response = await restRequest(this.#context, {
      endpoint: 'apps.create',
      method: 'POST',
      path: '/v1/apps',
      body: { name: request.name, org_slug: request.orgSlug, network: request.network },
      schema: createAppResponseSchema,
      emptyAs: {},
      idempotent: false,
      rate: { key: `apps.create:${request.orgSlug}`, class: 'action' },
      signal: options.signal,
      subject: `app ${request.name}`,
    });
    return { name: request.name, id: response.id };
  }

  /**
   * Deletes an app and everything in it. Sends `DELETE /v1/apps/{app}`, with `?force=true` when
   * `force` is set so Fly stops running machines first. Not retried; after a network error,
   * {@link AppsResource.get} returning 404 confirms the delete.
   *
   * @throws FlyInputError for an invalid name (nothing sent); FlyNotFoundError when the app does
   *   not exist; the other FlyApiError classes from the response.
   */
  async delete(
    app: string,
    deleteOptions: { force?: boolean } = {},
    options: CallOptions = {},
  ): Promise<void> {
    checkAppName(app);
    await restRequest(this.#context, {
      endpoint: 'apps.delete',
      method: 'DELETE',
      path: appPath(app),
      query: { force: deleteOptions.force ? true : undefined },
      idempotent: false,
      rate: { key: `apps.delete:${app}`, class: 'action' },
      signal: options.signal,
      subject: `app ${app}`,
    });
  }
}
