import { execFileSync } from 'node:child_process';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Programs the transports run on a machine, and the shell they need. */
const TOOLS = [
  'sh',
  'printenv',
  'sha256sum',
  'stat',
  'test',
  'mkdir',
  'mv',
  'rm',
  'sync',
  'df',
  'head',
  'dd',
  'base64',
  'printf',
  'cat',
];

/**
 * Creates a PATH folder for a test machine: symlinks to the real programs except `missing`,
 * plus `scripts` (name -> shell script body) that replace a program.
 */
export async function createMachineBin(
  options: { missing?: string[]; scripts?: Record<string, string> } = {},
): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'flydr-machine-bin-'));
  for (const tool of TOOLS) {
    if (options.missing?.includes(tool) || options.scripts?.[tool]) continue;
    const real = execFileSync('sh', ['-c', `command -v ${tool}`], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
    }).trim();
    if (real.startsWith('/')) await symlink(real, join(folder, tool));
  }
  for (const [name, body] of Object.entries(options.scripts ?? {})) {
    await writeFile(join(folder, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return folder;
}
