#!/usr/bin/env node
// Runs the whole check on a machine that has only Node 20: installs and builds, then lints,
// type-checks the tests and runs every test. Arguments after `--` go to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAndBuild, run } from './workspace.mjs';

// The OpenSSH server is the peer that certificate login and the transfer tests are
// checked against. It comes from Debian's packages, so it can only be installed as root.
function ensureOpenSshServer() {
  if (existsSync('/usr/sbin/sshd')) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.error(
      'OpenSSH sshd is missing at /usr/sbin/sshd and this user cannot install it; ' +
        'run `apt-get install -y openssh-server openssh-client` as root, then npm test again.',
    );
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', 'openssh-server', 'openssh-client'], { env });
}

const vitestArgs = process.argv.slice(2).filter((arg) => arg !== '--');

ensureOpenSshServer();
installAndBuild();
run('pnpm', ['run', 'lint']);
run('pnpm', ['run', 'typecheck']);

// vitest also writes a JSON report, so the run ends with one plain "N passed, N failed" line
// that any CI can read.
const reportDir = mkdtempSync(join(tmpdir(), 'flydr-vitest-'));
const reportPath = join(reportDir, 'report.json');
console.log('\n> pnpm exec vitest run');
const tests = spawnSync(
  'pnpm',
  [
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportPath}`,
    ...vitestArgs,
  ],
  { stdio: 'inherit' },
);
if (existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  const skipped = report.numPendingTests + report.numTodoTests;
  console.log(
    `\ntests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`,
  );
}
rmSync(reportDir, { recursive: true, force: true });
process.exit(tests.status ?? 1);
