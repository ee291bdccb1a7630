import { describe, expect, it } from 'vitest';
import { tokenizeShell, tokenizeShellWords } from '../src/commands/shell-words.js';

describe('tokenizeShellWords', () => {
  it('joins POSIX single-quote escapes', () => {
    expect(tokenizeShellWords(`'mv' '-f' '--' 'it'\\''s' 'b c'`)).toEqual([
      'mv',
      '-f',
      '--',
      "it's",
      'b c',
    ]);
  });

  it('keeps operators inside quotes', () => {
    expect(tokenizeShellWords(`'sh' '-c' 'a | b > "$1"' 'flydr'`)).toEqual([
      'sh',
      '-c',
      'a | b > "$1"',
      'flydr',
    ]);
  });

  it('keeps $ literal without expansion', () => {
    expect(tokenizeShellWords('printenv "$HOME"')).toEqual(['printenv', '$HOME']);
  });

  it('rejects an unquoted pipe', () => {
    expect(() => tokenizeShellWords('a | b')).toThrow(/needs a shell/);
  });

  it('rejects an unterminated quote', () => {
    expect(() => tokenizeShellWords("'abc")).toThrow(/unterminated single quote/);
  });

  it('rejects a command separator', () => {
    expect(() => tokenizeShellWords('sync; rm x')).toThrow(/not supported/);
  });
});

describe('tokenizeShell', () => {
  it('expands positional parameters', () => {
    const tokens = tokenizeShell('base64 -d >> "$1"', (name) =>
      name === '1' ? '/app/data/a b' : '',
    );
    expect(tokens).toEqual([
      { kind: 'word', value: 'base64' },
      { kind: 'word', value: '-d' },
      { kind: 'operator', value: '>>' },
      { kind: 'word', value: '/app/data/a b' },
    ]);
  });
});
