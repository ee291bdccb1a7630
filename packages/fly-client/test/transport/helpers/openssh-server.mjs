// A private OpenSSH sshd on 127.0.0.1 for the transport tests and the benchmarks: its own
// folder, host key, user CA (TrustedUserCAKeys), authorized key and a free port. It never
// touches the system's sshd configuration.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const START_TIMEOUT_MS = 10_000;

/** Returns a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function keygen(args) {
  const result = spawnSync('ssh-keygen', ['-q', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')} failed: ${result.stderr}`);
}

/** Creates an ed25519 key pair without passphrase at `path` and `path.pub`. */
export async function createKeyPair(path) {
  keygen(['-t', 'ed25519', '-N', '', '-C', 'flydr-test', '-f', path]);
  return {
    privateKey: await readFile(path, 'utf8'),
    publicKey: (await readFile(`${path}.pub`, 'utf8')).trim(),
  };
}

/**
 * Starts sshd. Options: `machineId` (exported to sessions as FLY_MACHINE_ID),
 * `hostKeyPath` (reuse a host key, e.g. to keep a pin across restarts), `internalSftp`
 * (serve SFTP with sshd's internal-sftp instead of the sftp-server program).
 */
export async function startOpenSshServer(options = {}) {
  if (!existsSync(SSHD)) {
    throw new Error(
      `OpenSSH sshd is missing at ${SSHD}; install it with apt-get install -y openssh-server openssh-client`,
    );
  }
  mkdirSync('/run/sshd', { recursive: true });

  const dir = await mkdtemp(join(tmpdir(), 'flydr-sshd-'));
  const hostKeyPath = options.hostKeyPath ?? join(dir, 'host_key');
  if (!options.hostKeyPath) await createKeyPair(hostKeyPath);
  const ca = await createKeyPair(join(dir, 'user_ca'));
  const otherCa = await createKeyPair(join(dir, 'other_ca'));
  const user = await createKeyPair(join(dir, 'user_key'));
  await writeFile(join(dir, 'authorized_keys'), `${user.publicKey}\n`, { mode: 0o600 });

  const machineId = options.machineId ?? 'openssh0machine';
  const username = userInfo().username;
  const port = await freePort();
  const config = [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `TrustedUserCAKeys ${join(dir, 'user_ca.pub')}`,
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'LogLevel VERBOSE',
    `SetEnv FLY_MACHINE_ID=${machineId}`,
    // internal-sftp serves SFTP inside sshd, whose own environment lacks FLY_MACHINE_ID.
    `Subsystem sftp ${options.internalSftp ? 'internal-sftp' : SFTP_SERVER}`,
  ];
  await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`);

  // sshd's own environment must not carry FLY_MACHINE_ID, so that only SetEnv sets it.
  const env = { ...process.env };
  delete env.FLY_MACHINE_ID;
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let log = '';
  child.stderr.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sshd did not start within ${START_TIMEOUT_MS} ms: ${log}`)),
      START_TIMEOUT_MS,
    );
    child.stderr.on('data', (text) => {
      log = (log + text).slice(-20_000);
      if (log.includes('Server listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with code ${code}: ${log}`));
    });
  });

  const hostPublicKey = Buffer.from(
    (await readFile(`${hostKeyPath}.pub`, 'utf8')).split(' ')[1],
    'base64',
  );

  /** Signs a public key line with the trusted CA (or the untrusted one) and returns the certificate line. */
  async function issueCertificate(
    publicKeyLine,
    { trusted = true, principals = [username], validity = '+1h' } = {},
  ) {
    const name = `cert-${Math.random().toString(36).slice(2)}`;
    const keyFile = join(dir, `${name}.pub`);
    await writeFile(keyFile, `${publicKeyLine}\n`);
    keygen([
      '-s',
      join(dir, trusted ? 'user_ca' : 'other_ca'),
      '-I',
      'flydr-test',
      '-n',
      principals.join(','),
      '-V',
      validity,
      keyFile,
    ]);
    const certificate = (await readFile(join(dir, `${name}-cert.pub`), 'utf8')).trim();
    await rm(keyFile, { force: true });
    await rm(join(dir, `${name}-cert.pub`), { force: true });
    return certificate;
  }

  async function stop() {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    if (!options.keepDir) await rm(dir, { recursive: true, force: true });
  }

  return {
    host: '127.0.0.1',
    port,
    dir,
    machineId,
    username,
    hostKeyPath,
    hostPublicKey,
    userKey: user,
    userKeyPath: join(dir, 'user_key'),
    caPublicKey: ca.publicKey,
    otherCaPublicKey: otherCa.publicKey,
    issueCertificate,
    log: () => log,
    stop,
  };
}
