import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, repoRoot } from './helpers/build.js';
import { errorShape, standbyConfigShape } from './helpers/json-shapes.js';
import { jsonOf, runCli, startCli } from './helpers/run-cli.js';
import { flyTomlFor } from './helpers/sim-app.js';
import { testDir } from './helpers/temp-dirs.js';

// Every command line `flydr --help` lists, with the words its help must show.
const commandLines = [
  ['status'],
  ['regions'],
  ['backup'],
  ['backups', 'list'],
  ['backups', 'show'],
  ['backups', 'verify'],
  ['backups', 'prune'],
  ['backups', 'delete'],
  ['restore'],
  ['failover'],
  ['failback'],
  ['sync'],
  ['standby', 'prepare'],
  ['standby', 'config'],
  ['resume'],
  ['abort'],
  ['diff'],
  ['doctor'],
  ['demo'],
];

function appDir(toml = flyTomlFor('live-schedule-api')): string {
  const dir = testDir('flydr-usage-');
  writeFileSync(join(dir, 'fly.toml'), toml);
  return dir;
}

beforeAll(() => buildCli(), 240_000);

describe('flydr help', () => {
  it('lists every command', async () => {
    const run = await runCli(['--help']);
    expect(run.code, run.stderr).toBe(0);
    for (const line of commandLines) expect(run.stdout).toContain(line[0]);
    expect(run.stdout).toContain('Examples:');
  });

  it('asks for a command with exit 2', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing command/);
  });

  it.each(
    commandLines.map((line) => line.join(' ')),
  )('shows help and examples: %s', async (name) => {
    const words = name.split(' ');
    const run = await runCli([...words, '--help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Examples:');
    expect(run.stdout).toContain(`flydr ${words.join(' ')}`);
  });

  it('rejects an unknown command with exit 2', async () => {
    const run = await runCli(['failovr']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/failovr/);
  });

  it('rejects an unknown option with exit 2', async () => {
    const run = await runCli(['backups', 'list', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/colour/);
  });

  it('links a bin that exists before the build', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'packages/cli/package.json'), 'utf8'));
    const bin = join(repoRoot, 'packages/cli', manifest.bin.flydr);
    expect(bin).not.toContain(`${sep}dist${sep}`);
    expect(manifest.files).toContain(relative(join(repoRoot, 'packages/cli'), bin).split(sep)[0]);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
  });

  it('runs the build through the bin', async () => {
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(repoRoot, 'packages/cli/bin/flydr.js'), '--version'],
        { timeout: 30_000 },
        (error, stdout) => {
          if (error && typeof error.code !== 'number') reject(error);
          else resolve({ code: error ? (error.code as number) : 0, stdout });
        },
      );
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('prints the package version', async () => {
    const run = await runCli(['--version']);
    const { version } = JSON.parse(
      readFileSync(join(repoRoot, 'packages/cli/package.json'), 'utf8'),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

/** Returns the `flydr: ` error lines of a run's stderr. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('flydr: '));
}

// What yargs would print on its own, which no flydr error may show.
const yargsWording =
  /Not enough|Missing required|Unknown argument|Invalid values|Did you mean|non-option/;

describe('flydr usage errors', () => {
  it.each([
    [
      ['backups'],
      'missing subcommand: `flydr backups` needs one of list, show, verify, prune, delete',
    ],
    [['standby'], 'missing subcommand: `flydr standby` needs one of prepare, config'],
    [
      ['backups', '--state-dir', '/tmp/flydr-state'],
      'missing subcommand: `flydr backups` needs one of list, show, verify, prune, delete',
    ],
    [
      ['standby', '--region', 'sin'],
      'missing subcommand: `flydr standby` needs one of prepare, config',
    ],
    [
      ['backups', 'bogus'],
      'unknown subcommand "bogus": `flydr backups` needs one of list, show, verify, prune, delete',
    ],
    [
      ['standby', 'bogus'],
      'unknown subcommand "bogus": `flydr standby` needs one of prepare, config',
    ],
    [['restore'], 'missing argument: the usage is `flydr restore <id>`'],
    [['diff', 'a.db'], 'missing argument: the usage is `flydr diff <first> <second>`'],
    [['backups', 'show'], 'missing argument: the usage is `flydr backups show <id>`'],
    [['failover'], 'missing --to for `flydr failover`'],
    [['sync', '--from', 'nrt'], 'missing --to for `flydr sync`'],
    [['standby', 'prepare'], 'missing --region for `flydr standby prepare`'],
    [['diff', 'a', 'b', 'c'], 'unexpected argument "c" for `flydr diff`'],
    [['status', '--transport', 'ftp'], 'invalid --transport "ftp": choose ssh or exec'],
    [['backups', 'prune', '--keep-days'], 'missing value after --keep-days'],
    [['bogus'], 'unknown command "bogus"'],
    [['--', 'bogus'], 'missing command: the words after -- ("bogus") are not read as a command'],
  ])('names %j in one line', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([`flydr: ${message}`]);
    expect(run.stderr).toMatch(/^ {2}next: .*--help/m);
    expect(run.stderr).not.toMatch(yargsWording);
  });

  it('names the typed word of a subcommand typo', async () => {
    const run = await runCli(['standby', 'prep']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([
      'flydr: unknown command "prep". Did you mean prepare?',
    ]);
  });

  it.each([
    [['backups', 'prune', '--keep-days', 'abc'], '--keep-days "abc"'],
    [['backups', 'prune', '--keep-last', '-2'], '--keep-last "-2"'],
    [['diff', 'a.db', 'b.db', '--sample', 'lots'], '--sample "lots"'],
    [['diff', 'a.db', 'b.db', '--sample', '1001'], '--sample "1001"'],
    [['standby', 'prepare', '--region', 'sin', '--size', 'big'], '--size "big"'],
    [['standby', 'prepare', '--region', 'sin', '--size', '0'], '--size "0"'],
    [['backup', '--ssh-port', 'ssh'], '--ssh-port "ssh"'],
    [
      ['failover', '--to', 'sin', '--ssh-address', '127.0.0.1:10022'],
      '--ssh-address "127.0.0.1:10022"',
    ],
    [['failback', '--ssh-address', '127.0.0.1:10022'], '--ssh-address "127.0.0.1:10022"'],
    [
      ['sync', '--from', 'nrt', '--to', 'sin', '--ssh-address', 'localhost'],
      '--ssh-address "localhost"',
    ],
    [['backup', '--ssh-port', '70000'], '--ssh-port "70000"'],
    [['failback', '--wait-for-capacity', '30'], '--wait-for-capacity "30"'],
    [['failover', '--to', 'sin', '--allow-stale-backup', 'abc'], '--allow-stale-backup "abc"'],
  ])('rejects %j naming the value', async (args, named) => {
    const run = await runCli(args, { cwd: appDir(), env: { FLY_API_TOKEN: 'unused' } });
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(`flydr: invalid ${named}`);
    expect(run.stderr).not.toContain('null');
    expect(run.stderr).not.toContain('NaN');
  });
});

describe('flydr output', () => {
  it('ignores a reader that closes early', async () => {
    const dir = appDir();
    const running = startCli(['backups', 'list', '--state-dir', join(dir, 'state')], { cwd: dir });
    // The reader is gone before flydr writes, as with `flydr backups list | head -0`.
    running.child.stdout.destroy();
    const run = await running.done;

    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/EPIPE/);
  });
});

describe('flydr input checks', () => {
  it('names a missing token and how to log in', async () => {
    const run = await runCli(['backup'], { cwd: appDir() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing Fly API token/);
    expect(run.stderr).toMatch(/fly auth login/);
  });

  it('names a missing fly.toml given with -c', async () => {
    const dir = appDir();
    const run = await runCli(['backups', 'list', '-c', 'nowhere/fly.toml'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'nowhere/fly.toml'));
  });

  it('names a malformed fly.toml and the line', async () => {
    const dir = appDir('app = "broken\nprimary_region = nrt\n');
    const run = await runCli(['backups', 'list'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/fly\.toml is not valid TOML at line 1/);
  });

  it('asks for an app when there is no fly.toml', async () => {
    const run = await runCli(['backups', 'list'], { cwd: testDir('flydr-') });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing app name/);
    expect(run.stderr).toMatch(/-a <app>/);
  });

  it('rejects a malformed region code before any request', async () => {
    const run = await runCli(['standby', 'config', '--region', 'Tokyo'], { cwd: appDir() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid region "Tokyo" for --region/);
  });

  it('rejects conflicting restore targets', async () => {
    const run = await runCli(['restore', '3', '--region', 'nrt', '--to-file', 'x.db'], {
      cwd: appDir(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/to-file/);
    expect(run.stderr).toMatch(/region/);
  });

  it('rejects a non-numeric backup id', async () => {
    const run = await runCli(['backups', 'show', 'abc'], { cwd: appDir() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid backup id "abc"/);
  });

  it('prints a JSON error document with --json', async () => {
    const run = await runCli(['backups', 'show', 'abc', '--json'], { cwd: appDir() });
    expect(run.code).toBe(2);
    const document = errorShape.parse(jsonOf(run));
    expect(document.error.exitCode).toBe(2);
  });
});

describe('flydr standby config', () => {
  it('writes fly.toml.backup for the standby region', async () => {
    const dir = appDir();
    const run = await runCli(
      ['standby', 'config', '--region', 'sin', '--volume', 'data_backup', '--json'],
      {
        cwd: dir,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const document = standbyConfigShape.parse(jsonOf(run));
    expect(document.path).toBe(join(dir, 'fly.toml.backup'));
    const written = readFileSync(join(dir, 'fly.toml.backup'), 'utf8');
    expect(written).toContain('primary_region = "sin"');
    expect(written).toContain('source = "data_backup"');
  });

  it('refuses to overwrite without --yes off a terminal', async () => {
    const dir = appDir();
    writeFileSync(join(dir, 'fly.toml.backup'), 'keep me\n');
    const run = await runCli(['standby', 'config', '--region', 'sin'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    expect(readFileSync(join(dir, 'fly.toml.backup'), 'utf8')).toBe('keep me\n');
    expect(readdirSync(dir).sort()).toEqual(['fly.toml', 'fly.toml.backup']);
  });

  it('overwrites with --yes', async () => {
    const dir = appDir();
    writeFileSync(join(dir, 'fly.toml.backup'), 'old\n');
    const run = await runCli(['standby', 'config', '--region', 'sin', '--yes'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, 'fly.toml.backup'), 'utf8')).toContain('primary_region = "sin"');
    expect(existsSync(join(dir, 'fly.toml.backup'))).toBe(true);
  });
});
