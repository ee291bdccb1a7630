import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';
import { connect, execOver, openSftp, readHostKey, shellJoin, testKey } from './helpers/ssh.js';

const run = promisify(execFile);
const key = testKey();
const dir = mkdtempSync(join(tmpdir(), 'flydr-sim-ssh-'));
let sim: Sim;
let machineId: string;
let volumeId: string;
let privateIp: string;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [key.publicLine] });
  sim.createApp('ssh-app', { primaryRegion: 'nrt' });
  ({ machineId, volumeId, privateIp } = await sim.seedMachine('ssh-app'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs OpenSSH's client against a machine; returns its exit code (255 for a failed login). */
async function opensshLogin(identity: string, certificate: string, host: string): Promise<number> {
  try {
    await run(
      'ssh',
      [
        '-i',
        identity,
        '-o',
        `CertificateFile=${certificate}`,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=5',
        '-o',
        'LogLevel=ERROR',
        '-p',
        String(sim.sshPort),
        `root@${host}`,
        'printenv FLY_MACHINE_ID',
      ],
      { timeout: 15_000 },
    );
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

async function sshKeygen(args: string[]): Promise<void> {
  await run('ssh-keygen', args, { timeout: 15_000 });
}

describe('machine SSH server', () => {
  it('listens on the machine private_ip', () => {
    expect(privateIp).toMatch(/^127\.0\.\d+\.\d+$/);
  });

  it('runs printenv over exec with an authorized key', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const result = await execOver(client, shellJoin(['printenv', 'FLY_MACHINE_ID']));
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe(`${machineId}\n`);
    } finally {
      client.end();
    }
  });

  it('rejects a key that is not authorized', async () => {
    await expect(connect(privateIp, sim.sshPort, testKey().privateKey)).rejects.toThrow(
      /authentication methods failed/,
    );
  });

  it('serves SFTP inside the volume', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const sftp = await openSftp(client);
      const local = join(dir, 'upload.bin');
      writeFileSync(local, Buffer.alloc(100_000, 7));
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(local, '/app/data/upload.tmp', (e) => (e ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        sftp.rename('/app/data/upload.tmp', '/app/data/upload.bin', (e) =>
          e ? reject(e) : resolve(),
        ),
      );
      const stats = await new Promise<{ size: number }>((resolve, reject) =>
        sftp.stat('/app/data/upload.bin', (e, s) => (e ? reject(e) : resolve(s))),
      );
      expect(stats.size).toBe(100_000);
      const volumeDir = sim.machine(machineId).volumeDir ?? '';
      expect(readFileSync(join(volumeDir, 'upload.bin')).equals(Buffer.alloc(100_000, 7))).toBe(
        true,
      );
    } finally {
      client.end();
    }
  });

  it('fails an SFTP write on a full volume', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    sim.fillVolume(volumeId, 1024 ** 3);
    try {
      const sftp = await openSftp(client);
      const error = await new Promise<Error | undefined>((resolve) =>
        sftp.writeFile('/app/data/full.bin', Buffer.alloc(10_000), (e) => resolve(e ?? undefined)),
      );
      expect(error?.message).toMatch(/No space left on device/);
    } finally {
      sim.fillVolume(volumeId, -(1024 ** 3));
      client.end();
    }
  });

  it('refuses SFTP paths outside the volume', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const sftp = await openSftp(client);
      const error = await new Promise<Error | undefined>((resolve) =>
        sftp.stat('/etc/passwd', (e) => resolve(e ?? undefined)),
      );
      expect(error?.message).toMatch(/No such file/);
    } finally {
      client.end();
    }
  });

  it('accepts an OpenSSH certificate from issueCertificate', async () => {
    const identity = await issueCertificateFor('cert_ok', ['root', 'fly']);
    expect(await opensshLogin(identity, `${identity}-cert.pub`, privateIp)).toBe(0);
  });

  it('rejects a certificate of the org CA without principal root', async () => {
    const identity = await issueCertificateFor('cert_fly_only', ['fly']);
    expect(await opensshLogin(identity, `${identity}-cert.pub`, privateIp)).toBe(255);
  });

  it('rejects a certificate signed by another CA', async () => {
    const identity = join(dir, 'cert_wrong_ca');
    const otherCa = join(dir, 'other_ca');
    await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-f', identity]);
    await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-f', otherCa]);
    await sshKeygen([
      '-q',
      '-s',
      otherCa,
      '-I',
      'wrong',
      '-n',
      'root',
      '-V',
      '-5m:+1h',
      `${identity}.pub`,
    ]);
    expect(await opensshLogin(identity, `${identity}-cert.pub`, privateIp)).toBe(255);
  });
});

/** Makes a key pair and has the sim's GraphQL issue a certificate for it; returns the key path. */
async function issueCertificateFor(name: string, principals: string[]): Promise<string> {
  const identity = join(dir, name);
  await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-f', identity]);
  const org = await graphql('query($name: String!) { app(name: $name) { organization { id } } }', {
    name: 'ssh-app',
  });
  const organizationId = (org.data as { app: { organization: { id: string } } }).app.organization
    .id;
  const issued = await graphql(
    'mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) { certificate key } }',
    {
      input: {
        organizationId,
        principals,
        appNames: ['ssh-app'],
        publicKey: readFileSync(`${identity}.pub`, 'utf8').trim(),
        validHours: 1,
      },
    },
  );
  const { certificate } = (issued.data as { issueCertificate: { certificate: string } })
    .issueCertificate;
  writeFileSync(`${identity}-cert.pub`, certificate);
  return identity;
}

async function graphql(
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data: unknown }> {
  const response = await fetch(sim.graphqlUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: unknown };
}

describe('machine SSH exec and host key', () => {
  it('appends stdin through the base64 template', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const command = shellJoin(['sh', '-c', 'base64 -d >> "$1"', 'flydr', '/app/data/stdin.bin']);
      const result = await execOver(
        client,
        command,
        Buffer.from(Buffer.from('chunk').toString('base64')),
      );
      expect(result.code).toBe(0);
    } finally {
      client.end();
    }
    const volumeDir = sim.machine(machineId).volumeDir ?? '';
    expect(readFileSync(join(volumeDir, 'stdin.bin'), 'utf8')).toBe('chunk');
  });

  it('reports exit 127 for an unknown command', async () => {
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      expect((await execOver(client, 'ls /')).code).toBe(127);
    } finally {
      client.end();
    }
  });

  it('keeps the host key across a restart', async () => {
    const expected = sim.machine(machineId).hostPublicKey.split(' ')[1];
    const before = await readHostKey(privateIp, sim.sshPort, key.privateKey);
    expect(before.toString('base64')).toBe(expected);

    expect((await api(sim, 'POST', `/v1/apps/ssh-app/machines/${machineId}/restart`)).status).toBe(
      200,
    );
    const waited = await api(
      sim,
      'GET',
      `/v1/apps/ssh-app/machines/${machineId}/wait?state=started&timeout=5`,
    );
    expect(waited.status).toBe(200);
    const after = await readHostKey(privateIp, sim.sshPort, key.privateKey);
    expect(after.toString('base64')).toBe(expected);
  });
});

describe('machine SSH after stop', () => {
  it('refuses connections once stopped', async () => {
    const stopped = await api(sim, 'POST', `/v1/apps/ssh-app/machines/${machineId}/stop`, {
      body: {},
    });
    expect(stopped.status).toBe(200);
    const waited = await api(
      sim,
      'GET',
      `/v1/apps/ssh-app/machines/${machineId}/wait?state=stopped&timeout=5`,
    );
    expect(waited.status).toBe(200);
    await expect(connect(privateIp, sim.sshPort, key.privateKey)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
