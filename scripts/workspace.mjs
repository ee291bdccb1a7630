// Steps shared by `npm test` and `npm run demo` on a machine that has only Node 20:
// install the pinned pnpm when it is missing, install from the frozen lockfile, build.
import { spawnSync } from 'node:child_process';

export const PNPM_VERSION = '10.34.9';

/** Runs a command with inherited output and exits this process when it fails. */
export function run(command, args, options = {}) {
  console.log(`\n> ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) {
    console.error(`${command} could not start: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`${[command, ...args].join(' ')} failed with exit code ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function installedPnpmVersion() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** Installs the pinned pnpm and the workspace dependencies, then builds every package. */
export function installAndBuild() {
  if (installedPnpmVersion() !== PNPM_VERSION) {
    run('npm', ['install', '--global', `pnpm@${PNPM_VERSION}`]);
  }
  run('pnpm', ['install', '--frozen-lockfile']);
  run('pnpm', ['run', 'build']);
}
