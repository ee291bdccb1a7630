#!/usr/bin/env node
// The `flydr` command. It lives outside dist/ so that the bin link exists from the first
// install, before the TypeScript build has written dist/bin.js, and then loads that build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(`flydr: the CLI is not built: ${fileURLToPath(entry)} is missing`);
  console.error('  next: run `pnpm run build` in the flydr repository, then run the command again');
  process.exitCode = 1;
} else {
  await import(entry.href);
}
