import { describe, expect, it } from 'vitest';

import {
  parseDiskFreeOutput,
  parseSha256Output,
  parseStatOutput,
} from '../../src/transport/remote-commands.js';
import { joinShellCommand, quoteShellArg } from '../../src/transport/shell-quote.js';

describe('quoteShellArg', () => {
  it('wraps plain text', () => {
    expect(quoteShellArg('/app/data/app.db')).toBe("'/app/data/app.db'");
  });

  it('escapes single quotes', () => {
    expect(quoteShellArg("a'b")).toBe(`'a'\\''b'`);
  });

  it('keeps dollar signs literal', () => {
    expect(joinShellCommand(['echo', '$HOME', '`id`'])).toBe("'echo' '$HOME' '`id`'");
  });
});

describe('remote command parsers', () => {
  it('parses stat output', () => {
    expect(parseStatOutput('4096 1764806400 644\n')).toEqual({
      size: 4096,
      mtimeMs: 1764806400000,
      mode: 0o644,
    });
  });

  it('rejects other stat output', () => {
    expect(parseStatOutput('stat: cannot stat')).toBeUndefined();
  });

  it('parses sha256sum output', () => {
    const digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(parseSha256Output(`${digest}  /app/data/app.db\n`)).toBe(digest);
  });

  it('parses df output', () => {
    const output =
      'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vdb 1015808 2048 946176 1% /app/data\n';
    expect(parseDiskFreeOutput(output)).toBe(946176 * 1024);
  });

  it('rejects df output without a data line', () => {
    expect(
      parseDiskFreeOutput('Filesystem 1024-blocks Used Available Capacity Mounted on\n'),
    ).toBeUndefined();
  });
});
