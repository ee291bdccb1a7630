import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The built `flydr` entry point that the tests run as a child process. */
export const binPath = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

let built: Promise<void> | undefined;

/**
 * Builds packages/cli and what it references with `tsc -b`, once per test process. A lock
 * file keeps test files that run in parallel from building at the same time.
 */
export function buildCli(): Promise<void> {
  built ??= (async () => {
    await promisify(execFile)(
      'flock',
      ['/tmp/flydr-cli-build.lock', 'pnpm', 'exec', 'tsc', '-b', 'packages/cli'],
      { cwd: repoRoot, timeout: 240_000 },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `building the CLI failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`,
      );
    });
    if (!existsSync(binPath)) throw new Error(`the build left no ${binPath}`);
  })();
  return built;
}
