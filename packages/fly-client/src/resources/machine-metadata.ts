import { z } from 'zod';
import type { ClientContext } from '../context.js';
import { FlyInputError } from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import { checkMetadataKey } from '../validate.js';
import { machinePath } from './paths.js';

const metadataSchema = z.record(z.string(), z.string()).nullable();

function checkValue(value: unknown): string {
  if (typeof value !== 'string' || value.length > 4096) {
    throw new FlyInputError(
      'value',
      'invalid metadata value: expected a string of at most 4096 characters',
      'Store short strings such as "primary"; keep bulk data elsewhere.',
    );
  }
  return value;
}

/**
 * Reads all metadata of a machine. Sends `GET .../metadata`; retried like every read.
 *
 * @throws FlyNotFoundError and other FlyApiError classes from the response.
 */
export async function getMetadata(
  context: ClientContext,
  app: string,
  machineId: string,
  options: CallOptions,
): Promise<Record<string, string>> {
  const metadata = await restRequest(context, {
    endpoint: 'machines.getMetadata',
    method: 'GET',
    path: `${machinePath(app, machineId)}/metadata`,
    schema: metadataSchema,
    emptyAs: null,
    idempotent: true,
    app,
    machineId,
    rate: { key: `metadata.get:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    subject: `metadata of machine ${machineId} of app ${app}`,
  });
  return metadata ?? {};
}

/**
 * Sets one metadata key. Sends `POST .../metadata/{key}` with `{ value }` (and the lease nonce
 * when the machine is leased); retried, as setting the same value twice is harmless.
 *
 * @throws FlyInputError for a bad key or value (nothing sent); FlyLeaseConflictError and other
 *   FlyApiError classes from the response.
 */
export async function setMetadata(
  context: ClientContext,
  app: string,
  machineId: string,
  key: string,
  value: string,
  options: CallOptions,
): Promise<void> {
  checkMetadataKey(key);
  checkValue(value);
  await restRequest(context, {
    endpoint: 'machines.setMetadata',
    method: 'POST',
    path: `${machinePath(app, machineId)}/metadata/${encodeURIComponent(key)}`,
    body: { value },
    idempotent: true,
    app,
    machineId,
    nonce: options.nonce,
    rate: { key: `metadata.set:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    subject: `metadata ${key} of machine ${machineId} of app ${app}`,
  });
}

/**
 * Deletes one metadata key. Sends `DELETE .../metadata/{key}`; retried like a read.
 *
 * @throws FlyInputError for a bad key (nothing sent); FlyApiError classes from the response.
 */
export async function deleteMetadata(
  context: ClientContext,
  app: string,
  machineId: string,
  key: string,
  options: CallOptions,
): Promise<void> {
  checkMetadataKey(key);
  await restRequest(context, {
    endpoint: 'machines.deleteMetadata',
    method: 'DELETE',
    path: `${machinePath(app, machineId)}/metadata/${encodeURIComponent(key)}`,
    idempotent: true,
    app,
    machineId,
    nonce: options.nonce,
    rate: { key: `metadata.delete:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    subject: `metadata ${key} of machine ${machineId} of app ${app}`,
  });
}

/**
 * Replaces (`PUT`) or merges (`PATCH`) the whole metadata map. Sends
 * `{ metadata, machine_version? }`; with machineVersion Fly responds 412 when the machine moved
 * on. Retried, because the same map twice has the same effect.
 *
 * @throws FlyInputError for a bad key or value (nothing sent); FlyApiError (412) on a version
 *   mismatch; other FlyApiError classes from the response.
 */
export async function writeMetadata(
  context: ClientContext,
  app: string,
  machineId: string,
  mode: 'replace' | 'merge',
  metadata: Record<string, string>,
  machineVersion: string | undefined,
  options: CallOptions,
): Promise<void> {
  if (typeof metadata !== 'object' || metadata === null) {
    throw new FlyInputError(
      'metadata',
      'invalid metadata: expected an object of strings',
      'Pass { key: "value" }.',
    );
  }
  for (const [key, value] of Object.entries(metadata)) {
    checkMetadataKey(key);
    checkValue(value);
  }
  await restRequest(context, {
    endpoint: mode === 'replace' ? 'machines.replaceMetadata' : 'machines.mergeMetadata',
    method: mode === 'replace' ? 'PUT' : 'PATCH',
    path: `${machinePath(app, machineId)}/metadata`,
    body: { metadata, machine_version: machineVersion },
    idempotent: true,
    app,
    machineId,
    nonce: options.nonce,
    rate: { key: `metadata.write:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    subject: `metadata of machine ${machineId} of app ${app}`,
  });
}
