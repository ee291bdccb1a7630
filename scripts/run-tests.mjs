#!/usr/bin/env node
// Runs the whole check on a machine that has only Node 20: installs and builds, then lints,
// type-checks the tests and runs every test. Arguments after `--` go to vitest.
import { existsSync } from 'node:fs';
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
run('pnpm', ['exec', 'vitest', 'run', ...vitestArgs]);
