import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../packages/cli/test/helpers/build.js';
import { backupResultShape, backupsListShape } from '../packages/cli/test/helpers/json-shapes.js';
import { type CliRun, jsonOf, runCli } from '../packages/cli/test/helpers/run-cli.js';
import { flyTomlFor, type SimApp, startSimApp } from '../packages/cli/test/helpers/sim-app.js';
import { testDir } from '../packages/cli/test/helpers/temp-dirs.js';
import { badDatabases, chinookPath, writeBadDatabases } from './fixtures/bad-inputs/databases.js';
import {
  hostileValues,
  malformedFlyConfigs,
  malformedFlyTomls,
} from './fixtures/bad-inputs/text-inputs.js';

// Seed of the random bytes in the corpus; set FLYDR_CORPUS_SEED to replay a failure.
const seed = Number(process.env.FLYDR_CORPUS_SEED ?? Date.now() % 2 ** 31);
console.log(`bad-input corpus seed ${seed} (replay with FLYDR_CORPUS_SEED=${seed})`);

let sim: Sim;
let target: SimApp;
let corpusDir: string;
let corpus: Map<string, string>;

function flydr(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli([...args, ...target.args], { cwd: target.dir, env: { ...target.env, ...env } });
}

/** sha256 of every file under `dir`, by path, to show that a run changed nothing. */
function treeDigest(dir: string): Record<string, string> {
  const digest: Record<string, string> = {};
  if (!existsSync(dir)) return digest;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    digest[path] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return digest;
}

/** Returns the `flydr: ` error lines of a run's stderr, without its step and hint lines. */
function errorLines(run: CliRun): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('flydr: '));
}

/** SQLite's result code for opening each bad database. */
function sqliteCode(name: string): string {
  return name === 'not-sqlite.db' || name === 'encrypted-looking.db'
    ? 'SQLITE_NOTADB'
    : 'SQLITE_CORRUPT';
}

beforeAll(async () => {
  await buildCli();
  sim = await startSim({ writeIntervalMs: 20 });
  target = await startSimApp(sim);
  corpusDir = testDir('flydr-corpus-');
  corpus = writeBadDatabases(corpusDir, seed);

  const first = await flydr(['backup', '--json']);
  if (first.code !== 0) throw new Error(`the first backup failed:\n${first.stderr}`);
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('bad databases', () => {
  for (const { name, defect } of badDatabases(0)) {
    it(`diff names ${name} (${defect})`, async () => {
      const bad = corpus.get(name) as string;
      const good = join(corpusDir, `good-for-${name}`);
      copyFileSync(chinookPath, good);
      const before = treeDigest(corpusDir);

      const run = await flydr(['diff', bad, good]);

      // Both files are the user's input, so each bad one is invalid input (exit 2). SQLite
      // would open a zero-byte file as an empty database, so flydr names it as empty instead.
      expect(run.code, run.stderr).toBe(2);
      expect(errorLines(run)).toEqual([
        name === 'zero-byte.db'
          ? `flydr: ${bad} is empty (0 bytes), not a SQLite database`
          : `flydr: ${bad} is not a readable SQLite database (${sqliteCode(name)})`,
      ]);
      expect(run.stderr).toMatch(/next: /);
      expect(run.stdout).toBe('');
      expect(treeDigest(corpusDir)).toEqual(before);
    });

    it(`backup rejects ${name} on the volume`, async () => {
      const volumeDir = sim.volumeDir(target.volumeId);
      writeFileSync(join(volumeDir, name), readFileSync(corpus.get(name) as string));
      const listBefore = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));

      const run = await flydr(['backup', '--database-path', `/app/data/${name}`]);

      expect(run.code, run.stderr).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain(`/app/data/${name}`);
      expect(run.stderr).toMatch(/next: /);
      const listAfter = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
      expect(listAfter.backups.map((backup) => backup.id)).toEqual(
        listBefore.backups.map((backup) => backup.id),
      );
    });

    it(`restore --to-file rejects a backup replaced by ${name}`, async () => {
      const taken = backupResultShape.parse(jsonOf(await flydr(['backup', '--json'])));
      copyFileSync(corpus.get(name) as string, taken.backup.path);
      const out = join(testDir('flydr-restore-'), 'restored.db');

      const run = await flydr(['restore', String(taken.backup.id), '--to-file', out]);

      expect(run.code, run.stderr).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain(taken.backup.path);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(join(out, '..'))).toEqual([]);
    });
  }
});

describe('malformed config files', () => {
  for (const { name, text, message } of malformedFlyTomls) {
    it(`names fly.toml with ${name}`, async () => {
      const dir = testDir('flydr-toml-');
      writeFileSync(join(dir, 'fly.toml'), text);
      const before = treeDigest(dir);

      const run = await runCli(['backups', 'list'], { cwd: dir, env: target.env });

      expect(run.code, run.stderr).toBe(2);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/next: /);
      expect(treeDigest(dir)).toEqual(before);
    });
  }

  for (const { name, text, message } of malformedFlyConfigs) {
    it(`names config.yml with ${name}`, async () => {
      const home = testDir('flydr-home-');
      mkdirSync(join(home, '.fly'));
      writeFileSync(join(home, '.fly', 'config.yml'), text);
      const dir = testDir('flydr-app-');
      writeFileSync(join(dir, 'fly.toml'), flyTomlFor('corpus-app'));

      const run = await runCli(['backup', ...target.args], {
        cwd: dir,
        env: { HOME: home },
      });

      expect(run.code, run.stderr).toBe(2);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/next: /);
      expect(run.stderr).not.toContain('fo1_unterminatedCanary');
    });
  }
});

describe('hostile names', () => {
  for (const { option, value, args, message, code = 2 } of hostileValues) {
    it(`rejects ${option} ${JSON.stringify(value).slice(0, 40)}`, async () => {
      const before = treeDigest(target.stateDir);

      const run = await flydr(args);

      expect(run.code, run.stderr).toBe(code);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain(message);
      expect(run.stderr).toMatch(/next: /);
      expect(treeDigest(target.stateDir)).toEqual(before);
    });
  }
});

/** A machine list body that the sim sends in place of the real one. */
interface BodyCase {
  name: string;
  /** Builds the body from the app's one real machine. */
  body: (machine: Record<string, unknown>) => unknown;
  /** Error line after `flydr: machines.list: unexpected response from GET ...: `. */
  message: string;
}

const mebibyte = 'x'.repeat(1024 * 1024);

/** Machine list bodies with missing fields, wrong types and huge strings. */
const badMachineBodies: BodyCase[] = [
  {
    name: 'a missing id',
    body: ({ id: _id, ...rest }) => [rest],
    message: 'at $[0].id expected string',
  },
  {
    name: 'a missing config image',
    body: (machine) => [
      {
        ...machine,
        config: { ...(machine.config as object), image: undefined },
      },
    ],
    message: 'at $[0].config.image expected string',
  },
  {
    name: 'a numeric state',
    body: (machine) => [{ ...machine, state: 42 }],
    message: 'at $[0].state expected string',
  },
  {
    name: 'mounts as a string',
    body: (machine) => [
      {
        ...machine,
        config: { ...(machine.config as object), mounts: 'data' },
      },
    ],
    message: 'at $[0].config.mounts expected array',
  },
  {
    name: 'an object for the list',
    body: (machine) => ({ machines: [machine] }),
    message: 'at $ expected array',
  },
  {
    name: 'a 1 MiB id',
    body: (machine) => [{ ...machine, id: mebibyte }],
    message: 'at $[0].id expected a string of at most 256 characters',
  },
  {
    name: 'a 1 MiB name',
    body: (machine) => [{ ...machine, name: mebibyte }],
    message: 'at $[0].name expected a string of at most 256 characters',
  },
  {
    name: 'a 1 MiB region',
    body: (machine) => [{ ...machine, region: mebibyte }],
    message: 'at $[0].region expected a string of at most 256 characters',
  },
];

describe('bad API bodies', () => {
  /** Fetches the machine list as the sim sends it, to change one field at a time. */
  async function realMachines(): Promise<Record<string, unknown>[]> {
    const response = await fetch(`${sim.apiUrl}/v1/apps/${target.app}/machines`, {
      headers: { authorization: `Bearer ${sim.token}` },
    });
    return (await response.json()) as Record<string, unknown>[];
  }

  /** Names of the files in the state folder, without the catalog's own files. */
  function stateFiles(): string[] {
    return readdirSync(target.stateDir)
      .filter((name) => !name.startsWith('catalog.sqlite'))
      .sort();
  }

  /** Runs `args` while the sim sends `body` for every machine list. */
  async function withMachineList(body: unknown, args: string[]): Promise<CliRun> {
    const fault = sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines',
      status: 200,
      body,
      times: 1000,
    });
    try {
      return await flydr(args);
    } finally {
      fault.remove();
    }
  }

  for (const { name, body, message } of badMachineBodies) {
    for (const command of [['backup'], ['status']]) {
      it(`${command.join(' ')} names ${name}`, async () => {
        const [first, ...rest] = await realMachines();
        const before = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
        const files = stateFiles();

        const run = await withMachineList(body(first as Record<string, unknown>), command);

        expect(rest).toEqual([]);
        expect(run.code, run.stderr.slice(0, 2000)).toBe(1);
        expect(errorLines(run)).toEqual([
          `flydr: machines.list: unexpected response from GET /v1/apps/${target.app}/machines: ${message}`,
        ]);
        expect(run.stderr).toMatch(/^ {2}next: .*report it/m);
        expect(run.stderr.length).toBeLessThan(2000);
        expect(run.stdout).toBe('');
        expect(run.stderr).not.toMatch(/^\s+at /m);
        const after = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
        expect(after.backups.map((backup) => backup.id)).toEqual(
          before.backups.map((backup) => backup.id),
        );
        expect(stateFiles()).toEqual(files);
      });
    }
  }

  it('backup accepts extra fields', async () => {
    const machines = await realMachines();
    const body = machines.map((machine) => ({
      ...machine,
      future_field: { nested: [1, 2, 3] },
      config: { ...(machine.config as object), future_setting: true },
    }));
    const before = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));

    const run = await withMachineList(body, ['backup', '--json']);

    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect(backup.machineId).toBe(target.machineId);
    expect(before.backups.map((b) => b.id)).not.toContain(backup.id);
  });
});
