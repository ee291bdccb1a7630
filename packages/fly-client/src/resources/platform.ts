import type { ClientContext } from '../context.js';
import { FlyInputError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import type { MachineGuest } from '../schemas/machine.js';
import {
  placementsResponseSchema,
  type Region,
  regionsResponseSchema,
} from '../schemas/platform.js';
import { checkInteger, checkOrgSlug, checkVolumeName } from '../validate.js';

/** Input of {@link PlatformResource.placements}. */
export interface PlacementsRequest {
  orgSlug: string;
  /** Guest the machines would use. @default Fly's default, performance-1x */
  compute?: MachineGuest | undefined;
  /** Region expression, such as `nrt` or `nrt,sin`. @default Fly's default, "[local],any" */
  region?: string | undefined;
  /** Machines to place. 0 requests the organization's limit per region. */
  count?: number | undefined;
  /** Volume the machines would need, by name. */
  volumeName?: string | undefined;
  /** Size of that volume, in bytes. */
  volumeSizeBytes?: number | undefined;
}

/** Result of {@link PlatformResource.placements}: where Fly could place machines right now. */
export interface PlacementsResult {
  regions: { region: string; count: number; concurrency?: number | null | undefined }[];
}

/** Platform facts: regions, and placement simulations that show capacity. */
export class PlatformResource {
  readonly #context: ClientContext;

  /** Built by {@link createFlyClient}; not meant to be constructed directly. */
  constructor(context: ClientContext) {
    this.#context = context;
  }

  /**
   * Lists Fly regions. Sends `GET /v1/platform/regions`; accepts `regions`/`Regions` and
   * `nearest`/`Nearest`. Retried like every read.
   *
   * @throws FlyUnauthorizedError; FlyResponseError; other FlyApiError classes.
   */
  async regions(options: CallOptions = {}): Promise<{ nearest?: string; regions: Region[] }> {
    const response = await restRequest(this.#context, {
      endpoint: 'platform.regions',
      method: 'GET',
      path: '/v1/platform/regions',
      schema: regionsResponseSchema,
      idempotent: true,
      rate: { key: 'platform.regions', class: 'action' },
      signal: options.signal,
      subject: 'platform regions',
    });
    return {
      ...(response.nearest ? { nearest: response.nearest } : {}),
      regions: response.regions,
    };
  }

  /**
   * Asks Fly where machines of a given size could be placed now. Sends
   * `POST /v1/platform/placements` with `{ org_slug, compute?, region?, count?, volume_name?,
   * volume_size_bytes? }`. It only simulates, so it is retried like a read. An empty result
   * means no region has room for that configuration.
   *
   * @throws FlyInputError for bad fields (nothing sent); FlyApiError classes.
   */
  async placements(
    request: PlacementsRequest,
    options: CallOptions = {},
  ): Promise<PlacementsResult> {
    checkOrgSlug(request?.orgSlug);
    if (request.region !== undefined && !/^[a-z0-9[\],]{2,200}$/.test(request.region)) {
      throw new FlyInputError(
        'region',
        `invalid region ${JSON.stringify(request.region)}: expected region codes separated by commas`,
        'Pass a region such as "nrt" or "nrt,sin".',
      );
    }
    if (request.count !== undefined)
      checkInteger(request.count, 'count', 0, 1000, 'Pass 0 to 1000 machines.');
    if (request.volumeName !== undefined) checkVolumeName(request.volumeName, 'volumeName');
    if (request.volumeSizeBytes !== undefined) {
      checkInteger(
        request.volumeSizeBytes,
        'volumeSizeBytes',
        1,
        500 * 1024 ** 3,
        'Pass the size in bytes.',
      );
    }

    const response = await restRequest(this.#context, {
      endpoint: 'platform.placements',
      method: 'POST',
      path: '/v1/platform/placements',
      body: {
        org_slug: request.orgSlug,
        compute: request.compute,
        region: request.region,
        count: request.count,
        volume_name: request.volumeName,
        volume_size_bytes: request.volumeSizeBytes,
      },
      schema: placementsResponseSchema,
      idempotent: true,
      rate: { key: `platform.placements:${request.orgSlug}`, class: 'action' },
      signal: options.signal,
      subject: `placements for organization ${request.orgSlug}`,
    });
    return { regions: response.regions ?? [] };
  }
}
