// Response bodies shaped like Fly's own, from the field lists in Fly's Machines API docs and
// OpenAPI spec. They carry Go-style nulls, durations as strings and nanosecond numbers, and
// booleans for autostop. They also carry fields this client does not model, which must survive
// parsing.

/** Builds a started machine with one volume, services, checks and events. */
export function machineBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '148ed193b95089',
    name: 'live-schedule-api-nrt-1',
    state: 'started',
    region: 'nrt',
    instance_id: '01JBX6Q2T3SAWC7N5RW4E1K9ZD',
    version: '01JBX6Q2T3SAWC7N5RW4E1K9ZD',
    private_ip: 'fdaa:2:45b:a7b:19c:bbd4:95bb:2',
    config: {
      init: {},
      image: 'registry.fly.io/live-schedule-api:deployment-01JBX6NQ8C',
      env: { PRIMARY_REGION: 'nrt', DATABASE_PATH: '/app/data/app.db' },
      guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
      mounts: [
        {
          volume: 'vol_8l524yj0ko347zmp',
          path: '/app/data',
          name: 'data',
          size_gb: 1,
          encrypted: true,
        },
      ],
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          autostop: true,
          autostart: true,
          min_machines_running: 0,
          ports: [
            { port: 80, handlers: ['http'], force_https: true },
            { port: 443, handlers: ['tls', 'http'] },
          ],
          force_instance_key: null,
        },
      ],
      checks: {
        health: {
          type: 'http',
          port: 8080,
          interval: '15s',
          timeout: '2s',
          grace_period: '5s',
          method: 'GET',
          path: '/health',
        },
      },
      restart: { policy: 'on-failure', max_retries: 10 },
      metadata: {
        fly_platform_version: 'v2',
        fly_process_group: 'app',
        fly_release_id: 'wQ3vYbz1K8pn2hXqO5MGl7D',
        fly_release_version: '12',
      },
      stop_config: { signal: 'SIGINT', timeout: 5_000_000_000 },
      dns: { skip_registration: false },
    },
    incomplete_config: null,
    image_ref: {
      registry: 'registry.fly.io',
      repository: 'live-schedule-api',
      tag: 'deployment-01JBX6NQ8C',
      digest: 'sha256:9f2c7f3e3f1b2b2ad6f6d3c6a1d1f0f1c4b3f5e7a9d8c6b4a2e0f1d3c5b7a9e1',
      labels: {},
    },
    created_at: '2026-11-02T04:12:55Z',
    updated_at: '2026-11-02T04:13:02Z',
    events: [
      {
        id: '01JBX6QB9E0Q4Z6F8M2V1T3K5N',
        type: 'start',
        status: 'started',
        source: 'flyd',
        timestamp: 1_730_520_782_000,
      },
    ],
    checks: [
      {
        name: 'health',
        status: 'passing',
        output: 'HTTP GET http://172.19.2.58:8080/health: 200 OK Output: "ok"',
        updated_at: '2026-11-02T04:13:20.123Z',
      },
    ],
    host_status: 'ok',
    ...overrides,
  };
}

/** Builds a 1 GB volume attached to the machine above. */
export function volumeBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'vol_8l524yj0ko347zmp',
    name: 'data',
    state: 'created',
    size_gb: 1,
    region: 'nrt',
    zone: 'b3c9',
    encrypted: true,
    attached_machine_id: '148ed193b95089',
    attached_alloc_id: null,
    created_at: '2026-10-30T01:02:03.000Z',
    blocks: 253_570,
    block_size: 4096,
    blocks_free: 250_001,
    blocks_avail: 236_870,
    bytes_used: 14_618_624,
    bytes_total: 1_038_622_720,
    fstype: 'ext4',
    snapshot_retention: 5,
    auto_backup_enabled: true,
    host_dedication_key: '',
    host_status: 'ok',
    ...overrides,
  };
}

/** Builds an app as `GET /v1/apps/{app}` returns it. */
export function appBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'zxv9w8y7u6t5',
    name: 'live-schedule-api',
    status: 'deployed',
    network: 'default',
    internal_numeric_id: 1_234_567,
    machine_count: 1,
    volume_count: 1,
    organization: { name: 'Personal', slug: 'personal', internal_numeric_id: 98_765 },
    ...overrides,
  };
}

/** Builds regions as `GET /v1/platform/regions` returns them. */
export function regionsBody(): Record<string, unknown> {
  return {
    nearest: 'nrt',
    regions: [
      {
        code: 'nrt',
        name: 'Tokyo, Japan',
        latitude: 35.6762,
        longitude: 139.6503,
        gateway_available: true,
        requires_paid_plan: false,
        deprecated: false,
        geo_region: 'apac',
        mpg_available: true,
      },
      {
        code: 'sin',
        name: 'Singapore, Singapore',
        latitude: 1.3521,
        longitude: 103.8198,
        gateway_available: true,
        requires_paid_plan: false,
        deprecated: false,
        geo_region: 'apac',
        mpg_available: false,
      },
    ],
  };
}
