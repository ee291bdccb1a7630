import { describe, expect, it } from 'vitest';
import {
  leaseResponseSchema,
  machineSchema,
  regionsResponseSchema,
  startResponseSchema,
  volumeSchema,
} from '../src/index.js';
import { machineBody, volumeBody } from './helpers/fixtures.js';

describe('machineSchema', () => {
  it('keeps unknown fields at every level', () => {
    const machine = machineSchema.parse(
      machineBody({
        future_field: { nested: 1 },
        config: { ...(machineBody().config as object), containers: [{ name: 'app' }] },
      }),
    );
    expect(machine.future_field).toEqual({ nested: 1 });
    expect(machine.config.containers).toEqual([{ name: 'app' }]);
    expect(machine.config.dns).toEqual({ skip_registration: false });
    expect(machine.config.services?.[0]?.force_instance_key).toBeNull();
  });

  it('accepts autostop as boolean or string', () => {
    for (const autostop of [true, false, 'off', 'stop', 'suspend']) {
      const body = machineBody();
      const config = body.config as { services: Record<string, unknown>[] };
      config.services[0]!.autostop = autostop;
      expect(machineSchema.parse(body).config.services?.[0]?.autostop).toBe(autostop);
    }
  });

  it('accepts durations as strings or nanoseconds', () => {
    const body = machineBody();
    const config = body.config as {
      checks: { health: Record<string, unknown> };
      stop_config: Record<string, unknown>;
    };
    config.checks.health.interval = 15_000_000_000;
    config.stop_config.timeout = '5s';
    const machine = machineSchema.parse(body);
    expect(machine.config.checks?.health?.interval).toBe(15_000_000_000);
    expect(machine.config.stop_config?.timeout).toBe('5s');
  });

  it('accepts Go nulls for lists and maps', () => {
    const body = machineBody({ events: null, checks: null });
    Object.assign(body.config as object, {
      env: null,
      mounts: null,
      services: null,
      metadata: null,
    });
    expect(() => machineSchema.parse(body)).not.toThrow();
  });

  it('keeps an unknown state', () => {
    expect(machineSchema.parse(machineBody({ state: 'migrating' })).state).toBe('migrating');
  });
});

describe('other response schemas', () => {
  it('keeps unknown volume fields', () => {
    expect(volumeSchema.parse(volumeBody({ host_features: ['nvme'] })).host_features).toEqual([
      'nvme',
    ]);
  });

  it('accepts wrapped and flat leases', () => {
    const data = {
      nonce: 'n1',
      expires_at: 1_893_456_000,
      owner: 'a@b.c',
      description: 'd',
      version: 'v',
    };
    expect(leaseResponseSchema.safeParse({ status: 'success', data, code: '' }).success).toBe(true);
    expect(leaseResponseSchema.safeParse(data).success).toBe(true);
    expect(leaseResponseSchema.safeParse({ status: 'success' }).success).toBe(false);
  });

  it('accepts each start response shape', () => {
    expect(
      startResponseSchema.parse({ previous_state: 'stopped', migrated: false, new_host: '' })
        .previous_state,
    ).toBe('stopped');
    expect(startResponseSchema.parse({ ok: true }).ok).toBe(true);
    expect(startResponseSchema.parse({})).toEqual({});
  });

  it('accepts both region key casings', () => {
    const lower = regionsResponseSchema.parse({
      nearest: 'nrt',
      regions: [{ code: 'nrt', name: 'Tokyo' }],
    });
    const upper = regionsResponseSchema.parse({
      Nearest: 'nrt',
      Regions: [{ Code: 'nrt', Name: 'Tokyo', RequiresPaidPlan: false }],
    });
    expect(upper.regions[0]).toMatchObject({
      code: 'nrt',
      name: 'Tokyo',
      requires_paid_plan: false,
    });
    expect(upper.nearest).toBe(lower.nearest);
  });
});
