import { randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueUserCertificate } from '../src/ssh/certificate.js';
import { authorizedKeyLine, generateEd25519 } from '../src/ssh/ed25519-keys.js';
import { checkPublicKeyLogin, parseAuthorizedKeys } from '../src/ssh/ssh-auth.js';
import { SshWriter } from '../src/ssh/wire.js';

const ca = generateEd25519();
const user = generateEd25519();
const now = new Date();
const certificate = issueUserCertificate(ca, {
  publicKeyRaw: user.publicRaw,
  keyId: 'auth-test',
  principals: ['root'],
  validAfter: new Date(now.getTime() - 60_000),
  validBefore: new Date(now.getTime() + 3_600_000),
});
const policy = { caBlob: ca.publicBlob, authorizedKeys: [] };
const signedData = randomBytes(64);

/** Signs the test data and encodes it as OpenSSH sends it: string "ssh-ed25519", string signature. */
function signatureField(privateKey: Parameters<typeof sign>[2]): Buffer {
  return new SshWriter()
    .string('ssh-ed25519')
    .string(sign(null, signedData, privateKey))
    .toBuffer();
}

function certificateAttempt(signature?: Buffer) {
  return {
    username: 'root',
    key: { algo: 'ssh-ed25519-cert-v01@openssh.com', data: certificate },
    signature,
    blob: signature === undefined ? undefined : signedData,
  };
}

describe('checkPublicKeyLogin', () => {
  it('accepts a certificate query without signature', () => {
    expect(checkPublicKeyLogin(certificateAttempt(), policy, now)).toBeUndefined();
  });

  it('accepts a certificate signed by the certified key', () => {
    expect(
      checkPublicKeyLogin(certificateAttempt(signatureField(user.privateKey)), policy, now),
    ).toBeUndefined();
  });

  it('rejects a signature by another key', () => {
    const other = generateEd25519();
    const reason = checkPublicKeyLogin(
      certificateAttempt(signatureField(other.privateKey)),
      policy,
      now,
    );
    expect(reason).toBe('signature does not verify');
  });

  it('rejects a certificate for user admin', () => {
    const reason = checkPublicKeyLogin({ ...certificateAttempt(), username: 'admin' }, policy, now);
    expect(reason).toMatch(/log in as root/);
  });

  it('rejects a certificate of another CA', () => {
    const reason = checkPublicKeyLogin(
      certificateAttempt(),
      { ...policy, caBlob: generateEd25519().publicBlob },
      now,
    );
    expect(reason).toMatch(/unknown CA/);
  });

  it('accepts an authorized plain key', () => {
    const keys = parseAuthorizedKeys([authorizedKeyLine(user, 'plain')]);
    const attempt = { username: 'root', key: { algo: 'ssh-ed25519', data: user.publicBlob } };
    expect(checkPublicKeyLogin(attempt, { ...policy, authorizedKeys: keys }, now)).toBeUndefined();
  });

  it('rejects a plain key that is not listed', () => {
    const attempt = { username: 'root', key: { algo: 'ssh-ed25519', data: user.publicBlob } };
    expect(checkPublicKeyLogin(attempt, policy, now)).toBe('key is not authorized');
  });

  it('names a bad authorized key line', () => {
    expect(() => parseAuthorizedKeys(['ssh-ed25519 not-base64!'])).toThrow(/authorizedKeys\[0\]/);
  });
});
