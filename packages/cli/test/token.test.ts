import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveToken } from '../src/token.js';
import { testDir } from './helpers/temp-dirs.js';

async function homeWithConfig(text?: string): Promise<string> {
  const home = testDir('flydr-home-');
  if (text !== undefined) {
    await mkdir(join(home, '.fly'));
    await writeFile(join(home, '.fly', 'config.yml'), text);
  }
  return home;
}

describe('resolveToken', () => {
  it('prefers FLY_API_TOKEN', async () => {
    const home = await homeWithConfig('access_token: from-config\n');
    const found = await resolveToken({ FLY_API_TOKEN: 'api', FLY_ACCESS_TOKEN: 'access' }, home);
    expect(found).toEqual({ token: 'api', source: 'FLY_API_TOKEN' });
  });

  it('falls back to FLY_ACCESS_TOKEN', async () => {
    const home = await homeWithConfig();
    const found = await resolveToken({ FLY_API_TOKEN: '  ', FLY_ACCESS_TOKEN: 'access' }, home);
    expect(found).toEqual({ token: 'access', source: 'FLY_ACCESS_TOKEN' });
  });

  it('reads access_token from config.yml', async () => {
    const home = await homeWithConfig('trace: false\naccess_token: "fm2_abc,fm2_def"\n');
    const found = await resolveToken({}, home);
    expect(found).toEqual({ token: 'fm2_abc,fm2_def', source: '~/.fly/config.yml' });
  });

  it('reads an unquoted config token', async () => {
    const home = await homeWithConfig('access_token: plain-token\r\n');
    expect((await resolveToken({}, home)).token).toBe('plain-token');
  });

  it('rejects a malformed config token without echoing it', async () => {
    const home = await homeWithConfig('access_token: "unterminated-secret\n');
    const error = (await resolveToken({}, home).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/access_token is not a plain or quoted string/);
    expect(error.message).not.toContain('unterminated-secret');
  });

  it('explains how to log in when no token exists', async () => {
    const home = await homeWithConfig('access_token: ""\n');
    await expect(resolveToken({}, home)).rejects.toMatchObject({
      exitCode: 2,
      hint: expect.stringContaining('fly auth login'),
    });
  });
});
