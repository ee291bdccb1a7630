import { z } from 'zod';
import { durationSchema, identifierSchema, stringMapSchema, timestampSchema } from './common.js';

/** `config.guest`: CPU kind and count, memory. */
export const machineGuestSchema = z.looseObject({
  cpu_kind: z.string().nullish(),
  cpus: z.number().nullish(),
  memory_mb: z.number().nullish(),
  gpu_kind: z.string().nullish(),
  gpus: z.number().nullish(),
  host_dedication_id: z.string().nullish(),
  kernel_args: z.array(z.string()).nullish(),
});

/** `config.init`: what the machine runs instead of the image's entrypoint and command. */
export const machineInitSchema = z.looseObject({
  exec: z.array(z.string()).nullish(),
  entrypoint: z.array(z.string()).nullish(),
  cmd: z.array(z.string()).nullish(),
  tty: z.boolean().nullish(),
  swap_size_mb: z.number().nullish(),
});

/** One entry of `config.mounts`; a machine has at most one. */
export const machineMountSchema = z.looseObject({
  volume: z.string().nullish(),
  path: z.string(),
  name: z.string().nullish(),
  size_gb: z.number().nullish(),
  encrypted: z.boolean().nullish(),
  extend_threshold_percent: z.number().nullish(),
  add_size_gb: z.number().nullish(),
  size_gb_limit: z.number().nullish(),
});

/** A health check definition in `config.checks` or a service's `checks`. */
export const machineCheckSchema = z.looseObject({
  type: z.string().nullish(),
  port: z.number().nullish(),
  interval: durationSchema.nullish(),
  timeout: durationSchema.nullish(),
  grace_period: durationSchema.nullish(),
  method: z.string().nullish(),
  path: z.string().nullish(),
});

/** One entry of `config.services`. `autostop` is "off"/"stop"/"suspend", or a boolean. */
export const machineServiceSchema = z.looseObject({
  protocol: z.string().nullish(),
  internal_port: z.number().nullish(),
  ports: z
    .array(
      z.looseObject({
        port: z.number().nullish(),
        start_port: z.number().nullish(),
        end_port: z.number().nullish(),
        handlers: z.array(z.string()).nullish(),
        force_https: z.boolean().nullish(),
      }),
    )
    .nullish(),
  autostart: z.boolean().nullish(),
  autostop: z.union([z.boolean(), z.string()]).nullish(),
  min_machines_running: z.number().nullish(),
  checks: z.array(machineCheckSchema).nullish(),
});

/** `fly.MachineConfig`; only `image` is required, every other field is kept as sent. */
export const machineConfigSchema = z.looseObject({
  image: z.string(),
  env: stringMapSchema.nullish(),
  init: machineInitSchema.nullish(),
  guest: machineGuestSchema.nullish(),
  size: z.string().nullish(),
  services: z.array(machineServiceSchema).nullish(),
  checks: z.record(z.string(), machineCheckSchema).nullish(),
  mounts: z.array(machineMountSchema).nullish(),
  restart: z
    .looseObject({ policy: z.string().nullish(), max_retries: z.number().nullish() })
    .nullish(),
  auto_destroy: z.boolean().nullish(),
  schedule: z.string().nullish(),
  metadata: stringMapSchema.nullish(),
  stop_config: z
    .looseObject({ signal: z.string().nullish(), timeout: durationSchema.nullish() })
    .nullish(),
});

/** `image_ref`: the resolved image the machine runs. */
export const imageRefSchema = z.looseObject({
  registry: z.string().nullish(),
  repository: z.string().nullish(),
  tag: z.string().nullish(),
  digest: z.string().nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
});

/** Status of one health check on a running machine. */
export const checkStatusSchema = z.looseObject({
  name: z.string().nullish(),
  status: z.string().nullish(),
  output: z.string().nullish(),
  updated_at: timestampSchema.nullish(),
});

/** One machine event: start, exit, launch, update and so on. `timestamp` is Unix ms. */
export const machineEventSchema = z.looseObject({
  id: z.string().nullish(),
  type: z.string().nullish(),
  status: z.string().nullish(),
  source: z.string().nullish(),
  timestamp: timestampSchema.nullish(),
  request: z.unknown().optional(),
});

const machineFields = {
  id: identifierSchema,
  name: identifierSchema,
  // Open string: Fly adds states over time (created, started, stopped, replacing, ...).
  state: identifierSchema,
  region: identifierSchema,
  instance_id: identifierSchema.optional(),
  private_ip: identifierSchema.optional(),
  image_ref: imageRefSchema.nullish(),
  incomplete_config: z.unknown().optional(),
  events: z.array(machineEventSchema).nullish(),
  checks: z.array(checkStatusSchema).nullish(),
  nonce: z.string().optional(),
  host_status: z.string().optional(),
  cordoned: z.boolean().optional(),
  created_at: timestampSchema.optional(),
  updated_at: timestampSchema.optional(),
};

/** A machine as returned by get, create, update and list; unknown fields are kept. */
export const machineSchema = z.looseObject({ ...machineFields, config: machineConfigSchema });

/** A machine from `list` with `summary: true`, which leaves out config, checks and events. */
export const machineSummarySchema = z.looseObject({
  ...machineFields,
  config: machineConfigSchema.optional(),
});

/** Response of `GET /machines/{id}/wait`. */
export const waitResponseSchema = z.looseObject({
  ok: z.boolean().optional(),
  state: z.string().optional(),
  version: z.string().nullish(),
  event_id: z.string().nullish(),
});

/** Response of `POST /machines/{id}/start`, which differs between Fly's docs and spec. */
export const startResponseSchema = z.looseObject({
  previous_state: z.string().nullish(),
  migrated: z.boolean().nullish(),
  new_host: z.string().nullish(),
});

/**
 * Response of `POST /machines/{id}/exec`.
 *
 * NOTE: a missing `exit_code` is read as 0, assuming Fly's Go encoder leaves out zero values;
 * no Fly source states it.
 */
export const execResponseSchema = z.looseObject({
  exit_code: z.number().int().optional(),
  exit_signal: z.number().int().nullish(),
  stdout: z.string().nullish(),
  stderr: z.string().nullish(),
});

/** One entry of `GET /machines/{id}/versions`. */
export const machineVersionSchema = z.looseObject({
  version: z.string(),
  user_config: machineConfigSchema.nullish(),
});

/** One process from `GET /machines/{id}/ps`. */
export const processStatSchema = z.looseObject({
  pid: z.number().nullish(),
  command: z.string().nullish(),
  cpu: z.number().nullish(),
  rss: z.number().nullish(),
});

/** Machine config (`fly.MachineConfig`); unknown fields are kept. */
export type MachineConfig = z.infer<typeof machineConfigSchema>;
/** Guest size of a machine: CPU kind and count, memory. */
export type MachineGuest = z.infer<typeof machineGuestSchema>;
/** One volume mount of a machine. */
export type MachineMount = z.infer<typeof machineMountSchema>;
/** One service of a machine, with its ports and checks. */
export type MachineService = z.infer<typeof machineServiceSchema>;
/** One machine event, such as start or exit. */
export type MachineEvent = z.infer<typeof machineEventSchema>;
/** Machine as Fly returns it; unknown fields are kept. */
export type Machine = z.infer<typeof machineSchema>;
/** Machine from a summary list, where config may be missing. */
export type MachineSummary = z.infer<typeof machineSummarySchema>;
/** One config version of a machine. */
export type MachineVersion = z.infer<typeof machineVersionSchema>;
/** One process running on a machine. */
export type ProcessStat = z.infer<typeof processStatSchema>;
/** Response of a machine start; every field may be missing. */
export type StartResult = z.infer<typeof startResponseSchema>;
