import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  FlyTomlError,
  parseFlyToml,
  readFlyToml,
  rewriteFlyTomlForStandby,
} from '../src/fly-toml.js';

// The runbook app's fly.toml, with the comments a real one carries.
const runbookToml = `# Fly.io config
app = "live-schedule-api"
primary_region = "nrt"  # Tokyo

[build]
  dockerfile = "Dockerfile"

[env]
  PORT = "3000"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = false
  auto_start_machines = true
  min_machines_running = 1
  processes = ["app"]

[[vm]]
  cpu_kind = "shared"
  cpus = 1
  memory_mb = 256

[mounts]
  source = "data"
  destination = "/app/data"
`;

describe('parseFlyToml', () => {
  it('reads app, region and mount', () => {
    const summary = parseFlyToml(runbookToml);
    expect(summary.app).toBe('live-schedule-api');
    expect(summary.primaryRegion).toBe('nrt');
    expect(summary.mounts).toEqual([{ source: 'data', destination: '/app/data' }]);
  });

  it('reads an array of mounts', () => {
    const text = 'app = "a"\n[[mounts]]\nsource = "one"\ndestination = "/one"\n';
    expect(parseFlyToml(text).mounts).toEqual([{ source: 'one', destination: '/one' }]);
  });

  it('rejects invalid TOML with its line', () => {
    expect(() => parseFlyToml('app = "a"\nprimary_region = \n', 'fly.toml')).toThrow(
      /fly\.toml is not valid TOML at line 2/,
    );
  });

  it('rejects a missing app name', () => {
    expect(() => parseFlyToml('primary_region = "nrt"\n')).toThrow(FlyTomlError);
  });

  it('rejects a mount without destination', () => {
    expect(() => parseFlyToml('app = "a"\n[mounts]\nsource = "data"\n')).toThrow(
      /`mounts` entry 1 needs string `source` and `destination`/,
    );
  });

  it.each([
    ['app = 42', 'integer'],
    ['app = 4.2', 'float'],
    ['app = true', 'boolean'],
    ['app = ["a"]', 'array'],
    ['app = 1979-05-27T07:32:00Z', 'date-time'],
    ['[app]\nname = "a"', 'table'],
  ])('names the type of %s', (line, type) => {
    expect(() => parseFlyToml(`${line}\n`, 'fly.toml')).toThrow(
      `fly.toml: \`app\` must be a string, got ${type}`,
    );
  });

  it('names an empty app as missing', () => {
    expect(() => parseFlyToml('app = ""\n', 'fly.toml')).toThrow('fly.toml has no `app` name');
  });

  it('names the type of primary_region', () => {
    expect(() => parseFlyToml('app = "a"\nprimary_region = 7\n', 'fly.toml')).toThrow(
      'fly.toml: `primary_region` must be a string, got integer',
    );
  });

  it('names mounts that are not a table', () => {
    expect(() => parseFlyToml('app = "a"\nmounts = "data"\n', 'fly.toml')).toThrow(
      'fly.toml: `mounts` entry 1 must be a table, got string',
    );
  });
});

describe('readFlyToml', () => {
  it('names the missing path', async () => {
    const missing = join(tmpdir(), 'flydr-no-such-dir', 'fly.toml');
    await expect(readFlyToml(missing)).rejects.toMatchObject({
      code: 'DR_FLY_TOML_INVALID',
      path: missing,
    });
  });

  it('reads a file from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flydr-toml-'));
    const path = join(dir, 'fly.toml');
    await writeFile(path, runbookToml);
    const summary = await readFlyToml(path);
    expect(summary.app).toBe('live-schedule-api');
    expect(summary.text).toBe(runbookToml);
  });
});

describe('rewriteFlyTomlForStandby', () => {
  it('changes region and mount source only', () => {
    const rewritten = rewriteFlyTomlForStandby(runbookToml, {
      primaryRegion: 'sin',
      mountSource: 'data_backup',
    });
    const before = runbookToml.split('\n');
    const after = rewritten.split('\n');
    const changed = after.filter((line, index) => line !== before[index]);
    expect(changed).toEqual(['primary_region = "sin"  # Tokyo', '  source = "data_backup"']);
    expect(after).toHaveLength(before.length);

    const document = parse(rewritten) as { mounts: { source: string }; primary_region: string };
    expect(document.primary_region).toBe('sin');
    expect(document.mounts.source).toBe('data_backup');
  });

  it('inserts a missing primary_region after app', () => {
    const rewritten = rewriteFlyTomlForStandby('app = "a"\n\n[env]\n  X = "1"\n', {
      primaryRegion: 'sin',
    });
    expect(rewritten).toBe('app = "a"\nprimary_region = "sin"\n\n[env]\n  X = "1"\n');
  });

  it('leaves a primary_region inside another table alone', () => {
    const text = 'app = "a"\nprimary_region = "nrt"\n[env]\nprimary_region = "keep"\n';
    const rewritten = rewriteFlyTomlForStandby(text, { primaryRegion: 'sin' });
    expect(parse(rewritten)).toEqual({
      app: 'a',
      primary_region: 'sin',
      env: { primary_region: 'keep' },
    });
  });

  it('rejects several mounts when renaming the source', () => {
    const text =
      'app = "a"\n[[mounts]]\nsource = "x"\ndestination = "/x"\n[[mounts]]\nsource = "y"\ndestination = "/y"\n';
    expect(() =>
      rewriteFlyTomlForStandby(text, { primaryRegion: 'sin', mountSource: 'z' }),
    ).toThrow(/has 2 mounts/);
  });

  it('rejects a source written inline', () => {
    const text = 'app = "a"\nmounts = { source = "x", destination = "/x" }\n';
    expect(() =>
      rewriteFlyTomlForStandby(text, { primaryRegion: 'sin', mountSource: 'z' }),
    ).toThrow(/not written as `source = "..."`/);
  });
});
