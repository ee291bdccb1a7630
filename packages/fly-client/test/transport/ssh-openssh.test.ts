import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  FileHostKeyStore,
  hostKeyFingerprint,
  isTransportError,
  SshCertificateCache,
  SshTransport,
  type SshTransportOptions,
  type TransferProgress,
} from '../../src/transport/index.js';
import { freePort, type OpenSshServer, startOpenSshServer } from './helpers/openssh-server.mjs';

let server: OpenSshServer;
let work: string;

beforeAll(async () => {
  server = await startOpenSshServer({ machineId: 'e784079b449483' });
  work = await mkdtemp(join(tmpdir(), 'flydr-openssh-files-'));
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function options(overrides: Partial<SshTransportOptions> = {}): SshTransportOptions {
  return {
    app: 'live-schedule-api',
    machine: { id: server.machineId, state: 'started', private_ip: 'fdaa:0:1::2' },
    address: { host: server.host, port: server.port },
    username: server.username,
    auth: { privateKey: server.userKey.privateKey },
    hostKeys: join(work, `known_hosts-${randomBytes(4).toString('hex')}`),
    ...overrides,
  };
}

function certificateIssuer(trusted = true) {
  const issued: string[] = [];
  return {
    issued,
    issuer: {
      issue: async (publicKey: string) => {
        issued.push(publicKey);
        return { certificate: await server.issueCertificate(publicKey, { trusted }) };
      },
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('SshTransport against OpenSSH sshd', () => {
  it('logs in with an issued certificate', async () => {
    const { issuer, issued } = certificateIssuer();
    const transport = await SshTransport.connect(options({ auth: { certificate: issuer } }));
    const output = await transport.exec(['printenv', 'FLY_MACHINE_ID']);
    await transport.close();

    expect(output.stdout.toString().trim()).toBe(server.machineId);
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatch(/^ssh-ed25519 AAAA\S+$/);
    expect(server.log()).toContain('Accepted certificate ID "flydr-test"');
  });

  it('reuses a cached certificate', async () => {
    const { issuer, issued } = certificateIssuer();
    const cache = new SshCertificateCache(issuer);
    const first = await SshTransport.connect(options({ auth: { certificate: cache } }));
    const second = await SshTransport.connect(options({ auth: { certificate: cache } }));
    await first.close();
    await second.close();

    expect(issued).toHaveLength(1);
  });

  it('rejects a certificate from another CA', async () => {
    const certificates: string[] = [];
    const { issuer } = certificateIssuer(false);
    const recording = {
      issue: async (publicKey: string) => {
        const issued = await issuer.issue(publicKey);
        certificates.push(issued.certificate);
        return issued;
      },
    };
    const error = await rejection(
      SshTransport.connect(options({ auth: { certificate: recording } })),
    );
    const certificateBlob = certificates[0]?.split(' ')[1] ?? 'missing';

    expect(isTransportError(error, 'TRANSPORT_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toContain('did not accept the certificate');
    expect((error as Error).message).toContain('SSH CA');
    expect(String(error)).not.toContain(certificateBlob);
    expect(JSON.stringify(error)).not.toContain(certificateBlob);
    expect((error as Error).stack).not.toContain(certificateBlob);
  });

  it('logs in with a private key and its certificate', async () => {
    const certificate = await server.issueCertificate(
      (await readFile(`${server.dir}/other_ca.pub`, 'utf8')).trim(),
    );
    const transport = await SshTransport.connect(
      options({
        auth: { privateKey: await readFile(`${server.dir}/other_ca`, 'utf8'), certificate },
      }),
    );
    const output = await transport.exec(['printenv', 'FLY_MACHINE_ID']);
    await transport.close();

    expect(output.exitCode).toBe(0);
  });

  it('rejects a certificate for another key', async () => {
    const certificate = await server.issueCertificate(server.caPublicKey);
    const error = await rejection(
      SshTransport.connect(
        options({ auth: { privateKey: server.userKey.privateKey, certificate } }),
      ),
    );

    expect(isTransportError(error, 'TRANSPORT_INVALID_INPUT')).toBe(true);
    expect((error as Error).message).toContain('different public key');
  });

  // A generous timeout: fsync on a disk shared with other busy jobs has taken over 20 s here.
  it('round-trips a file with progress', { timeout: 120_000 }, async () => {
    const source = join(work, 'source.db');
    const content = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(source, content);
    const progress: TransferProgress[] = [];
    const transport = await SshTransport.connect(options());

    const down = await transport.download(source, join(work, 'copy.db'), {
      onProgress: (p) => progress.push(p),
    });
    const up = await transport.upload(join(work, 'copy.db'), join(work, 'uploaded.db'));
    await transport.close();

    const digest = createHash('sha256').update(content).digest('hex');
    expect(down.sha256).toBe(digest);
    expect(up.sha256).toBe(digest);
    expect(await readFile(join(work, 'uploaded.db'))).toEqual(content);
    expect(progress.at(-1)).toMatchObject({ bytes: content.length, total: content.length });
    expect(await stat(join(work, 'copy.db.flydr-partial')).catch(() => undefined)).toBeUndefined();
    expect(
      await stat(join(work, 'uploaded.db.flydr-partial')).catch(() => undefined),
    ).toBeUndefined();
  });

  it('transfers an empty file', async () => {
    await writeFile(join(work, 'empty.db'), '');
    const transport = await SshTransport.connect(options());
    const result = await transport.download(join(work, 'empty.db'), join(work, 'empty-copy.db'));
    await transport.close();

    expect(result.bytes).toBe(0);
    expect(await readFile(join(work, 'empty-copy.db'))).toHaveLength(0);
  });

  it('pins the host key on first use', async () => {
    const hostKeys = join(work, 'pinned_hosts');
    const transport = await SshTransport.connect(options({ hostKeys }));
    await transport.close();

    const pin = await new FileHostKeyStore(hostKeys).get(server.machineId);
    expect(pin?.key.equals(server.hostPublicKey)).toBe(true);
    expect((await stat(hostKeys)).mode & 0o777).toBe(0o600);
  });

  it('fails when the host key changed', async () => {
    const hostKeys = join(work, 'changed_hosts');
    const oldKey = Buffer.from(server.caPublicKey.split(' ')[1]!, 'base64');
    await new FileHostKeyStore(hostKeys).set(server.machineId, {
      keyType: 'ssh-ed25519',
      key: oldKey,
    });
    const error = await rejection(SshTransport.connect(options({ hostKeys })));

    expect(isTransportError(error, 'TRANSPORT_HOST_KEY_CHANGED')).toBe(true);
    expect((error as Error).message).toContain(server.machineId);
    expect((error as Error).message).toContain(hostKeyFingerprint(oldKey));
    expect((error as Error).message).toContain(hostKeyFingerprint(server.hostPublicKey));
    expect((await new FileHostKeyStore(hostKeys).get(server.machineId))?.key.equals(oldKey)).toBe(
      true,
    );
  });

  it('accepts a changed host key when told to', async () => {
    const hostKeys = join(work, 'accepted_hosts');
    const oldKey = Buffer.from(server.caPublicKey.split(' ')[1]!, 'base64');
    await new FileHostKeyStore(hostKeys).set(server.machineId, {
      keyType: 'ssh-ed25519',
      key: oldKey,
    });
    const transport = await SshTransport.connect(options({ hostKeys, acceptNewHostKey: true }));
    await transport.close();

    expect(
      (await new FileHostKeyStore(hostKeys).get(server.machineId))?.key.equals(
        server.hostPublicKey,
      ),
    ).toBe(true);
  });

  it('detects the wrong machine', async () => {
    const hostKeys = join(work, 'wrong_hosts');
    const error = await rejection(
      SshTransport.connect(
        options({ hostKeys, machine: { id: '3d8d9d1b2e1f89', state: 'started' } }),
      ),
    );

    expect(isTransportError(error, 'TRANSPORT_WRONG_MACHINE')).toBe(true);
    expect((error as Error).message).toContain(
      `reached machine ${server.machineId}, not machine 3d8d9d1b2e1f89`,
    );
    expect(await new FileHostKeyStore(hostKeys).get('3d8d9d1b2e1f89')).toBeUndefined();
  });

  it('refuses a stopped machine', async () => {
    const error = await rejection(
      SshTransport.connect(options({ machine: { id: server.machineId, state: 'stopped' } })),
    );

    expect(isTransportError(error, 'TRANSPORT_NOT_STARTED')).toBe(true);
    expect((error as Error).message).toContain(
      `fly machine start ${server.machineId} -a live-schedule-api`,
    );
  });

  it('explains how to reach 6PN', async () => {
    const port = await freePort();
    const error = await rejection(SshTransport.connect(options({ address: `127.0.0.1:${port}` })));

    expect(isTransportError(error, 'TRANSPORT_CONNECT_FAILED')).toBe(true);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).toContain('fly wireguard');
    expect((error as Error).message).toContain('--ssh-address');
  });

  it('reports a missing remote file', async () => {
    const transport = await SshTransport.connect(options());
    const error = await rejection(
      transport.download(join(work, 'nothing.db'), join(work, 'nothing-copy.db')),
    );
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_REMOTE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain('nothing.db');
  });

  it('reports a missing local folder', async () => {
    await writeFile(join(work, 'present.db'), 'x');
    const transport = await SshTransport.connect(options());
    const error = await rejection(
      transport.download(join(work, 'present.db'), join(work, 'no-such-dir', 'copy.db')),
    );
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_LOCAL_DIR_MISSING')).toBe(true);
    expect((error as Error).message).toContain('no-such-dir');
  });

  it('reports a missing remote folder', async () => {
    await writeFile(join(work, 'local.db'), 'x');
    const transport = await SshTransport.connect(options());
    const error = await rejection(
      transport.upload(join(work, 'local.db'), join(work, 'no-such-dir', 'x.db')),
    );
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_REMOTE_NOT_FOUND')).toBe(true);
  });

  it('stats, reads, renames and removes', async () => {
    await writeFile(join(work, 'header.db'), Buffer.from('SQLite format 3\u0000rest-of-file'));
    const transport = await SshTransport.connect(options());

    const info = await transport.stat(join(work, 'header.db'));
    const header = await transport.readRange(join(work, 'header.db'), 0, 16);
    await transport.rename(join(work, 'header.db'), join(work, 'renamed.db'));
    const missing = await transport.stat(join(work, 'header.db'));
    await transport.remove(join(work, 'renamed.db'));
    await transport.remove(join(work, 'renamed.db'));
    const removed = await transport.stat(join(work, 'renamed.db'));
    await transport.close();

    expect(info?.size).toBe(28);
    expect(header.toString('latin1')).toBe('SQLite format 3\u0000');
    expect(missing).toBeUndefined();
    expect(removed).toBeUndefined();
  });

  it('quotes exec arguments', async () => {
    const transport = await SshTransport.connect(options());
    const output = await transport.exec(['printf', '%s|', "it's", 'a b', '$HOME']);
    await transport.close();

    expect(output.stdout.toString()).toBe("it's|a b|$HOME|");
  });

  it('reports a missing program', async () => {
    const transport = await SshTransport.connect(options());
    const error = await rejection(transport.exec(['flydr-no-such-program']));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_TOOL_MISSING')).toBe(true);
  });
});
