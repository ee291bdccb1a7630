import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../packages/cli/test/helpers/build.js';
import { backupResultShape } from '../packages/cli/test/helpers/json-shapes.js';
import { type CliRun, jsonOf, runCli } from '../packages/cli/test/helpers/run-cli.js';
import { type SimApp, startSimApp } from '../packages/cli/test/helpers/sim-app.js';
import { testDir } from '../packages/cli/test/helpers/temp-dirs.js';

// A token that is easy to find in any output; the sim accepts only this one.
const CANARY_TOKEN = 'fo1_flydrCanaryToken7f3a9c2e51d84b06';
const WRONG_TOKEN = 'fo1_flydrWrongCanary0d9e8f7a6b5c4d3';

let sim: Sim;
let target: SimApp;
/** Temporary folder of every child process, scanned for key material afterwards. */
let childTmp: string;
/** Output of every run in this file, scanned for the token at the end. */
const runs: Array<{ args: string[]; run: CliRun }> = [];

async function flydr(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const run = await runCli([...args, ...target.args], {
    cwd: target.dir,
    env: { ...target.env, TMPDIR: childTmp, ...env },
  });
  runs.push({ args, run });
  return run;
}

/** Lists every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

beforeAll(async () => {
  await buildCli();
  sim = await startSim({ writeIntervalMs: 20, token: CANARY_TOKEN });
  target = await startSimApp(sim);
  childTmp = testDir('flydr-child-tmp-');
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('token secrecy', () => {
  it('runs the command set', { timeout: 120_000 }, async () => {
    const expectations: Array<[string[], number, Record<string, string>?]> = [
      [['backup', '--verbose'], 0],
      [['backup', '--json'], 0],
      [['backups', 'list', '--verbose'], 0],
      [['backups', 'list', '--json'], 0],
      [['status', '--verbose'], 0],
      [['status', '--json'], 0],
      [['doctor', '--verbose'], 0],
      [['standby', 'prepare', '--region', 'sin', '--machine', '--verbose'], 0],
      [['failover', '--to', 'sin', '--dry-run', '--verbose'], 0],
      [['failover', '--to', 'sin', '--dry-run', '--json'], 0],
      [['failover', '--to', 'sin', '--yes', '--verbose'], 0],
      [['status', '--json', '--verbose'], 0],
      [['regions', 'nrt', '--verbose'], 2, { FLY_API_TOKEN: WRONG_TOKEN }],
      [['backup', '--verbose', '--json'], 2, { FLY_API_TOKEN: WRONG_TOKEN }],
      [['failover', '--to', 'xyz', '--yes', '--verbose'], 2],
      [['regions', 'xyz', '--json', '--verbose'], 2],
    ];
    for (const [args, code, env] of expectations) {
      const run = await flydr(args, env);
      expect(run.code, `flydr ${args.join(' ')}\n${run.stderr}`).toBe(code);
    }
  });

  it('keeps the token out of stdout', () => {
    const leaks = runs.filter(({ run }) => run.stdout.includes(CANARY_TOKEN));
    expect(leaks.map(({ args }) => args.join(' '))).toEqual([]);
  });

  it('keeps the token out of stderr', () => {
    const leaks = runs.filter(({ run }) => run.stderr.includes(CANARY_TOKEN));
    expect(leaks.map(({ args }) => args.join(' '))).toEqual([]);
  });

  it('keeps a rejected token out of the output', () => {
    const leaks = runs.filter(({ run }) => `${run.stdout}${run.stderr}`.includes(WRONG_TOKEN));
    expect(leaks.map(({ args }) => args.join(' '))).toEqual([]);
  });

  it('keeps the token out of the state dir', () => {
    const files = filesUnder(target.stateDir);
    expect(files.length).toBeGreaterThan(3);
    const leaks = files.filter((file) => readFileSync(file).includes(CANARY_TOKEN));
    expect(leaks).toEqual([]);
  });

  it('keeps the private key off disk', () => {
    const files = [...filesUnder(target.stateDir), ...filesUnder(childTmp)];
    const leaks = files.filter((file) => readFileSync(file).includes('PRIVATE KEY'));
    expect(leaks).toEqual([]);
  });
});

describe('local file modes', () => {
  it('creates the state dir 0700', () => {
    expect((statSync(target.stateDir).mode & 0o777).toString(8)).toBe('700');
  });

  it('writes backups 0600', async () => {
    const run = await flydr(['backup', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect((statSync(backup.path).mode & 0o777).toString(8)).toBe('600');
  });
});

/** Names of the files on a volume, without SQLite's -wal and -shm files. */
function volumeNames(volumeId: string): string[] {
  return readdirSync(sim.volumeDir(volumeId), { recursive: true })
    .map(String)
    .filter((name) => !/-(wal|shm|journal)$/.test(name))
    .sort();
}

/** Builds an ssh-ed25519 public key blob with random key bytes, as a changed host would send. */
function randomEd25519Blob(): string {
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256)));
  const header = (length: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(length);
    return buffer;
  };
  return Buffer.concat([header(type.length), type, header(key.length), key]).toString('base64');
}

describe('remote command quoting', () => {
  let app: SimApp;

  beforeAll(async () => {
    app = await startSimApp(sim);
  });

  // Database names that a shell would run or split when a command was built from them unquoted.
  const hostileNames = [
    '$(touch pwned).db',
    '`touch pwned`.db',
    'a;touch pwned;.db',
    'with  two spaces.db',
    'pipe|touch pwned.db',
    'redirect>pwned.db',
  ];

  for (const name of hostileNames) {
    it(`backs up ${JSON.stringify(name)} literally`, async () => {
      const volumeDir = sim.volumeDir(app.volumeId);
      copyFileSync(join(import.meta.dirname, 'fixtures', 'chinook.sqlite'), join(volumeDir, name));
      const before = volumeNames(app.volumeId);

      const run = await runCli(
        ['backup', '--database-path', `/app/data/${name}`, '--json', ...app.args],
        { cwd: app.dir, env: app.env },
      );

      expect(run.code, run.stderr).toBe(0);
      const { backup } = backupResultShape.parse(jsonOf(run));
      expect(backup.databasePath).toBe(`/app/data/${name}`);
      expect(readFileSync(backup.path).length).toBe(statSync(join(volumeDir, name)).size);
      expect(volumeNames(app.volumeId)).toEqual(before);
      expect(existsSync(join(volumeDir, 'pwned'))).toBe(false);
    });
  }

  // The sqlite3 strategy's temporary file is named from safe characters only, because
  // `.backup '…'` takes the name in single quotes.
  const quotedName = 'it\'s a "quoted" name.db';

  it('backs up a single-quoted name with sqlite3', async () => {
    copyFileSync(
      join(import.meta.dirname, 'fixtures', 'chinook.sqlite'),
      join(sim.volumeDir(app.volumeId), quotedName),
    );
    const before = volumeNames(app.volumeId);

    const run = await runCli(
      [
        'backup',
        '--strategy',
        'sqlite3-backup',
        '--database-path',
        `/app/data/${quotedName}`,
        '--json',
        ...app.args,
      ],
      { cwd: app.dir, env: app.env },
    );

    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect(backup.databasePath).toBe(`/app/data/${quotedName}`);
    expect(volumeNames(app.volumeId)).toEqual(before);
  });

  it('copies a single-quoted name with copy-validate', async () => {
    const run = await runCli(
      [
        'backup',
        '--strategy',
        'copy-validate',
        '--database-path',
        `/app/data/${quotedName}`,
        '--json',
        ...app.args,
      ],
      { cwd: app.dir, env: app.env },
    );

    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect(backup.databasePath).toBe(`/app/data/${quotedName}`);
  });

  it('rejects a newline in --database-path', async () => {
    const path = '/app/data/app.db\ntouch /app/data/pwned';
    const run = await runCli(['backup', '--database-path', path, ...app.args], {
      cwd: app.dir,
      env: app.env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(JSON.stringify(path));
    expect(existsSync(join(sim.volumeDir(app.volumeId), 'pwned'))).toBe(false);
  });
});

describe('remote path confinement', () => {
  let app: SimApp;

  beforeAll(async () => {
    app = await startSimApp(sim);
  });

  // Paths that are not absolute or climb with `..` fail the input check (exit 2).
  const invalidPaths = ['/app/data/../../etc/passwd', '/app/data/../app.db', '../app.db', 'app.db'];

  for (const path of invalidPaths) {
    it(`rejects ${JSON.stringify(path)} as input`, async () => {
      const run = await backupCounting(path);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`invalid --database-path ${JSON.stringify(path)}`);
      expect(run.certificates).toBe(0);
      expect(run.execs).toBe(0);
    });
  }

  // Absolute paths outside every mount are invalid input too (exit 2): the CLI reads the
  // machines' mounts with one API call and rejects them before any SSH login or exec.
  const outsideMountPaths = ['/etc/passwd', '/app/app.db', '/app/database/app.db', '/app/data'];

  for (const path of outsideMountPaths) {
    it(`rejects ${JSON.stringify(path)} before SSH`, async () => {
      const run = await backupCounting(path);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(
        `invalid --database-path ${JSON.stringify(path)}: it is outside every mount of the app's machines (/app/data)`,
      );
      expect(run.certificates).toBe(0);
      expect(run.execs).toBe(0);
    });
  }

  it('counts the SSH login of a valid path', async () => {
    const run = await backupCounting('/app/data/app.db');
    expect(run.code, run.stderr).toBe(0);
    expect(run.certificates).toBeGreaterThan(0);
  });

  /** Runs a backup of `path`, counting SSH certificate requests and exec calls to the sim. */
  async function backupCounting(path: string) {
    const certificates = sim.injectFault({ path: '/graphql', delayMs: 1, times: 1000 });
    const execs = sim.injectFault({ path: '*/exec', delayMs: 1, times: 1000 });
    try {
      const run = await runCli(['backup', '--database-path', path, ...app.args], {
        cwd: app.dir,
        env: app.env,
      });
      return { ...run, certificates: certificates.hits, execs: execs.hits };
    } finally {
      certificates.remove();
      execs.remove();
    }
  }
});

describe('host key pinning', () => {
  let app: SimApp;

  beforeAll(async () => {
    app = await startSimApp(sim);
  });

  it('pins the key on the first backup', async () => {
    const run = await runCli(['backup', ...app.args], { cwd: app.dir, env: app.env });
    expect(run.code, run.stderr).toBe(0);
    const pins = readFileSync(join(app.stateDir, 'known_hosts'), 'utf8');
    expect(pins).toContain(sim.machine(app.machineId).hostPublicKey.split(' ')[1]);
  });

  it('writes known_hosts 0600', () => {
    const mode = statSync(join(app.stateDir, 'known_hosts')).mode & 0o777;
    expect(mode.toString(8)).toBe('600');
  });

  it('rejects a changed host key', async () => {
    const pinsPath = join(app.stateDir, 'known_hosts');
    const real = sim.machine(app.machineId).hostPublicKey.split(' ')[1] as string;
    writeFileSync(pinsPath, readFileSync(pinsPath, 'utf8').replace(real, randomEd25519Blob()));
    const backupsBefore = readdirSync(join(app.stateDir)).length;

    const run = await runCli(['backup', ...app.args], { cwd: app.dir, env: app.env });

    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(new RegExp(`host key of machine ${app.machineId} changed`));
    expect(readdirSync(join(app.stateDir)).length).toBe(backupsBefore);
  });
});
