import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  certificateLine,
  checkUserCertificate,
  issueUserCertificate,
  parseEd25519Certificate,
} from '../src/ssh/certificate.js';
import { authorizedKeyLine, generateEd25519, openSshPrivateKey } from '../src/ssh/ed25519-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'flydr-sim-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issueUserCertificate', () => {
  const ca = generateEd25519();
  const user = generateEd25519();
  const now = new Date();
  const blob = issueUserCertificate(ca, {
    publicKeyRaw: user.publicRaw,
    keyId: 'test-key',
    principals: ['root', 'fly'],
    validAfter: new Date(now.getTime() - 60_000),
    validBefore: new Date(now.getTime() + 3_600_000),
  });

  it('is read by ssh-keygen -L', () => {
    const path = join(dir, 'key-cert.pub');
    writeFileSync(path, `${certificateLine(blob)}\n`);
    const listing = execFileSync('ssh-keygen', ['-L', '-f', path], { encoding: 'utf8' });
    expect(listing).toContain('ssh-ed25519-cert-v01@openssh.com user certificate');
    expect(listing).toContain('Key ID: "test-key"');
  });

  it('passes the check for root with its CA', () => {
    const cert = parseEd25519Certificate(blob);
    expect(checkUserCertificate(cert, ca.publicBlob, 'root', now)).toBeUndefined();
  });

  it('fails the check with another CA', () => {
    const cert = parseEd25519Certificate(blob);
    const other = generateEd25519();
    expect(checkUserCertificate(cert, other.publicBlob, 'root', now)).toMatch(/unknown CA/);
  });

  it('fails the check after it expires', () => {
    const cert = parseEd25519Certificate(blob);
    const later = new Date(now.getTime() + 2 * 3_600_000);
    expect(checkUserCertificate(cert, ca.publicBlob, 'root', later)).toMatch(/expired/);
  });

  it('fails the check for a user not among principals', () => {
    const cert = parseEd25519Certificate(blob);
    expect(checkUserCertificate(cert, ca.publicBlob, 'admin', now)).toMatch(/principal "admin"/);
  });

  it('fails the check when the signature is tampered', () => {
    const tampered = Buffer.from(blob);
    tampered[60] = (tampered[60] ?? 0) ^ 0xff;
    const cert = parseEd25519Certificate(tampered);
    expect(checkUserCertificate(cert, ca.publicBlob, 'root', now)).toMatch(/does not verify/);
  });
});

describe('openSshPrivateKey', () => {
  it('is read by ssh-keygen -y', () => {
    const pair = generateEd25519();
    const path = join(dir, 'id_ed25519');
    writeFileSync(path, openSshPrivateKey(pair, 'c'), { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' });
    expect(derived.trim().split(' ').slice(0, 2).join(' ')).toBe(authorizedKeyLine(pair));
  });
});
