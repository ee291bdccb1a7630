import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

let root: string | undefined;

// Vitest ends its worker processes without an `exit` event, so the folders go in a hook
// of every test file that imports this module.
afterAll(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/**
 * Creates a temporary folder under one root per test file; the root is removed after the
 * file's tests, so test runs leave nothing in the system temp folder.
 */
export function testDir(prefix: string): string {
  root ??= mkdtempSync(join(tmpdir(), 'flydr-cli-test-'));
  return mkdtempSync(join(root, prefix));
}
