import { z } from 'zod';

/** The lease itself; `expires_at` is Unix seconds, or a timestamp string. */
export const leaseDataSchema = z.looseObject({
  nonce: z.string(),
  expires_at: z.union([z.number(), z.string()]),
  owner: z.string().nullish(),
  description: z.string().nullish(),
  version: z.string().nullish(),
});

/**
 * Lease response in either shape Fly uses: wrapped `{ status, data: {...}, message?, code? }`
 * as in Fly's docs and fly-go, or the flat object as in the OpenAPI spec. A wrapped
 * `data: null` means no lease.
 */
export const leaseResponseSchema = z.union([
  z.looseObject({
    status: z.string().nullish(),
    data: leaseDataSchema.nullable(),
    message: z.string().nullish(),
    code: z.string().nullish(),
  }),
  leaseDataSchema,
]);

/** Lease object inside a lease response, in Fly's field names. */
export type LeaseData = z.infer<typeof leaseDataSchema>;
