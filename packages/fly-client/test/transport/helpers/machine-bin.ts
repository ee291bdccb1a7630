import { existsSync } from 'node:fs';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
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
  'sleep',
];

/**
 * Creates a PATH folder for a test machine inside `parent`: symlinks to the real programs
 * except `missing`, plus `scripts` (name -> shell script body) that replace a program.
 */
export async function createMachineBin(
  parent: string,
  options: { missing?: string[]; scripts?: Record<string, string> } = {},
): Promise<string> {
  const folder = await mkdtemp(join(parent, 'machine-bin-'));
  for (const tool of TOOLS) {
    if (options.missing?.includes(tool) || options.scripts?.[tool]) continue;
    // Look in the folders directly: `command -v` names shell builtins such as `test` without a path.
    const real = ['/usr/bin', '/bin']
      .map((dir) => join(dir, tool))
      .find((path) => existsSync(path));
    if (!real) throw new Error(`${tool} is missing on this host; install coreutils`);
    await symlink(real, join(folder, tool));
  }
  for (const [name, body] of Object.entries(options.scripts ?? {})) {
    await writeFile(join(folder, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return folder;
}
