#!/usr/bin/env node
// Installs and builds the workspace, then runs `flydr demo` with any extra arguments.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { installAndBuild, run } from './workspace.mjs';

installAndBuild();

const cliEntry = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
if (!existsSync(cliEntry)) {
  console.error(`The flydr CLI was not built at ${cliEntry}; the demo cannot run yet.`);
  process.exit(1);
}
run(process.execPath, [cliEntry, 'demo', ...process.argv.slice(2)]);
