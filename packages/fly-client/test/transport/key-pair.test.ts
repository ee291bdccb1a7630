import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/transport/key-pair.js';

describe('generateEd25519KeyPair', () => {
  it('returns keys that ssh2 parses', () => {
    // ssh2 writes an unreadable key about once in 200 calls, so 600 draws would almost
    // surely hit one if the generator passed them through.
    for (let index = 0; index < 600; index++) {
      const pair = generateEd25519KeyPair();
      const parsed = ssh2.utils.parseKey(pair.private);
      expect(parsed).not.toBeInstanceOf(Error);
      expect(pair.public).toMatch(/^ssh-ed25519 AAAA/);
    }
  });
});
