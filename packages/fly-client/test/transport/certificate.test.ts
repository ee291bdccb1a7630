import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  isTransportError,
  parseCertificate,
  SshCertificateCache,
} from '../../src/transport/index.js';
import { createKeyPair } from './helpers/openssh-server.mjs';

let work: string;
let caPath: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-cert-'));
  caPath = join(work, 'ca');
  await createKeyPair(caPath);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Signs `publicKey` with the test CA through ssh-keygen and returns the certificate line. */
async function sign(publicKey: string, validity = '+1h', principals = 'root,fly'): Promise<string> {
  const name = `key-${Math.random().toString(36).slice(2)}`;
  await writeFile(join(work, `${name}.pub`), `${publicKey}\n`);
  execFileSync('ssh-keygen', [
    '-q',
    '-s',
    caPath,
    '-I',
    'test',
    '-n',
    principals,
    '-V',
    validity,
    join(work, `${name}.pub`),
  ]);
  return (await readFile(join(work, `${name}-cert.pub`), 'utf8')).trim();
}

describe('parseCertificate', () => {
  it('reads principals and validity', async () => {
    const user = await createKeyPair(join(work, 'user'));
    const parsed = parseCertificate(await sign(user.publicKey, '20300101:20300102'));

    expect(parsed.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(parsed.principals).toEqual(['root', 'fly']);
    expect(new Date(parsed.validBeforeMs).getUTCFullYear()).toBe(2030);
    expect(parsed.validBeforeMs - parsed.validAfterMs).toBe(86_400_000);
  });

  it('rejects a plain public key', async () => {
    const user = await createKeyPair(join(work, 'plain'));
    let caught: unknown;
    try {
      parseCertificate(user.publicKey);
    } catch (error) {
      caught = error;
    }

    expect(isTransportError(caught, 'TRANSPORT_INVALID_INPUT')).toBe(true);
    expect(String(caught)).not.toContain(user.publicKey.split(' ')[1]);
  });
});

describe('SshCertificateCache', () => {
  it('renews a certificate near expiry', async () => {
    let issued = 0;
    const cache = new SshCertificateCache(
      {
        issue: async (publicKey) => {
          issued += 1;
          return { certificate: await sign(publicKey, '-1m:+2m') };
        },
      },
      { renewBeforeMs: 5 * 60_000 },
    );
    await cache.key();
    await cache.key();

    expect(issued).toBe(2);
  });

  it('keeps a fresh certificate', async () => {
    let issued = 0;
    const cache = new SshCertificateCache({
      issue: async (publicKey) => {
        issued += 1;
        return { certificate: await sign(publicKey) };
      },
    });
    await cache.key();
    await cache.key();

    expect(issued).toBe(1);
  });

  it('sends a new key each time it issues', async () => {
    const keys: string[] = [];
    const cache = new SshCertificateCache({
      issue: async (publicKey) => {
        keys.push(publicKey);
        return { certificate: await sign(publicKey, '-1m:+1m') };
      },
    });
    await cache.key();
    await cache.key();

    expect(keys[0]).not.toBe(keys[1]);
  });
});
