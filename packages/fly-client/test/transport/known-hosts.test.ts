import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileHostKeyStore, hostKeyFingerprint } from '../../src/transport/index.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-known-hosts-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('FileHostKeyStore', () => {
  it('keeps pins of several machines', async () => {
    const store = new FileHostKeyStore(join(work, 'a', 'known_hosts'));
    await Promise.all([
      store.set('machine1', { keyType: 'ssh-ed25519', key: Buffer.from('one') }),
      store.set('machine2', { keyType: 'ssh-ed25519', key: Buffer.from('two') }),
    ]);

    expect((await store.get('machine1'))?.key.toString()).toBe('one');
    expect((await store.get('machine2'))?.key.toString()).toBe('two');
    expect(
      (await readFile(join(work, 'a', 'known_hosts'), 'utf8')).trim().split('\n'),
    ).toHaveLength(2);
  });

  it('skips comment lines', async () => {
    const path = join(work, 'commented');
    await writeFile(
      path,
      `# pinned by flydr\nmachine3 ssh-ed25519 ${Buffer.from('three').toString('base64')}\n`,
    );

    expect((await new FileHostKeyStore(path).get('machine3'))?.key.toString()).toBe('three');
    expect(await new FileHostKeyStore(path).get('#')).toBeUndefined();
  });

  it('returns nothing for a missing file', async () => {
    expect(await new FileHostKeyStore(join(work, 'none')).get('machine1')).toBeUndefined();
  });
});

describe('hostKeyFingerprint', () => {
  it('matches the OpenSSH form', () => {
    expect(hostKeyFingerprint(Buffer.from('abc'))).toBe(
      'SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0',
    );
  });
});
