import { createHash } from 'node:crypto';
import { badRequest } from './api-error.js';
import type { JsonObject, MachineConfig, MachineMount } from './model.js';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkStringMap(value: unknown, field: string): void {
  if (value === undefined) return;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw badRequest(`invalid ${field}: expected an object of string values`);
  }
}

function checkMount(value: unknown, index: number): MachineMount {
  if (!isObject(value) || typeof value.volume !== 'string' || typeof value.path !== 'string') {
    throw badRequest(`invalid config.mounts[${index}]: expected { volume, path } strings`);
  }
  if (!value.path.startsWith('/')) {
    throw badRequest(`invalid config.mounts[${index}].path "${value.path}": must be absolute`);
  }
  return value as MachineMount;
}

/**
 * Checks a machine config from a create or update request and returns a copy with the
 * defaults Fly fills in (guest size, metadata).
 *
 * @throws SimApiError 400 naming the first invalid field.
 */
export function parseMachineConfig(value: unknown): MachineConfig {
  if (!isObject(value)) throw badRequest('invalid request: config is required');
  if (typeof value.image !== 'string' || value.image.trim() === '') {
    throw badRequest('invalid config.image: an image reference is required');
  }
  checkStringMap(value.env, 'config.env');
  checkStringMap(value.metadata, 'config.metadata');
  if (value.init !== undefined && !isObject(value.init)) {
    throw badRequest('invalid config.init: expected an object');
  }

  const mounts = value.mounts ?? [];
  if (!Array.isArray(mounts)) throw badRequest('invalid config.mounts: expected an array');
  if (mounts.length > 1) {
    throw badRequest(`invalid config.mounts: a machine can mount one volume, got ${mounts.length}`);
  }
  const parsedMounts = mounts.map(checkMount);

  const config = structuredClone(value) as MachineConfig;
  config.mounts = parsedMounts.map((mount) => ({ ...mount }));
  config.metadata = { ...(config.metadata ?? {}) };
  config.guest = isObject(config.guest)
    ? config.guest
    : { cpu_kind: 'shared', cpus: 1, memory_mb: 256 };
  return config;
}

/** Splits an image reference into the image_ref fields of a machine. */
export function parseImageRef(image: string): JsonObject {
  const [withoutDigest, digest] = image.split('@', 2);
  const name = withoutDigest ?? image;
  const slash = name.indexOf('/');
  const hasRegistry = slash > 0 && /[.:]/.test(name.slice(0, slash));
  const registry = hasRegistry ? name.slice(0, slash) : 'docker-hub-mirror.fly.io';
  const rest = hasRegistry ? name.slice(slash + 1) : name;
  const colon = rest.lastIndexOf(':');
  const repository = colon > 0 ? rest.slice(0, colon) : rest;
  const tag = colon > 0 ? rest.slice(colon + 1) : 'latest';
  return {
    registry,
    repository,
    tag,
    digest: digest ?? `sha256:${createHash('sha256').update(image).digest('hex')}`,
    labels: {},
  };
}
