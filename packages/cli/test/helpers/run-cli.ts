import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { binPath } from './build.js';
import { testDir } from './temp-dirs.js';

/** Exit code and output of one `flydr` run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Variables on top of PATH and a fresh HOME; no FLY_* variable leaks in from the test run. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kills the process after this long. @default 60000 */
  timeoutMs?: number;
}

/** Creates an empty home folder, so no real ~/.fly/config.yml is ever read. */
export function freshHome(): string {
  return testDir('flydr-cli-home-');
}

/**
 * Runs the built `flydr` binary as a child process with stdin not a terminal. Asynchronous,
 * so a simulator in this process keeps answering while the command runs.
 */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  return startCli(args, options).done;
}

/** A `flydr` process still running, for tests that interrupt it. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the process exits. */
  done: Promise<CliRun>;
  /** Resolves once stderr matches `pattern`; rejects when the process exits first. */
  waitForStderr(pattern: RegExp): Promise<void>;
}

/** Starts the built `flydr` binary as a child process with stdin not a terminal. */
export function startCli(args: string[], options: RunCliOptions = {}): RunningCli {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: freshHome(),
    NO_COLOR: '1',
    ...options.env,
  };
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const watcher of [...watchers]) watcher();
  });
  const done = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  const waitForStderr = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(stderr)) return;
        watchers.splice(watchers.indexOf(check), 1);
        resolve();
      };
      watchers.push(check);
      check();
      void done.then(() =>
        reject(new Error(`flydr exited before stderr matched ${pattern}:\n${stderr}`)),
      );
    });
  return { child, done, waitForStderr };
}

/** Parses the one JSON document a `--json` run prints on stdout. */
export function jsonOf(run: CliRun): unknown {
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
