/** A token of a shell command line: a word, or an operator that was not quoted. */
export type ShellToken =
  | { kind: 'word'; value: string }
  | { kind: 'operator'; value: '|' | '>' | '>>' };

/**
 * Splits a POSIX shell command line into tokens: single quotes, double quotes (with `\` before
 * `"`, `\`, `$` and backquote), backslash escapes, and the operators `|`, `>` and `>>`.
 * `expand` replaces `$N` and `${N}` outside single quotes; without it `$` stays literal.
 *
 * @throws Error for an unterminated quote or a character this subset does not run
 *   (`;`, `&`, `<`, backquote, `$(`).
 */
export function tokenizeShell(line: string, expand?: (name: string) => string): ShellToken[] {
  const tokens: ShellToken[] = [];
  let word = '';
  let inWord = false;
  let i = 0;

  const finishWord = (): void => {
    if (inWord) tokens.push({ kind: 'word', value: word });
    word = '';
    inWord = false;
  };

  const readVariable = (): boolean => {
    if (expand === undefined) return false;
    const match = /^\$(?:\{(\w+)\}|(\d+|[A-Za-z_]\w*))/.exec(line.slice(i));
    if (match === null) return false;
    word += expand(match[1] ?? match[2] ?? '');
    inWord = true;
    i += match[0].length;
    return true;
  };

  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      inWord = true;
      i += 1;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === '$' && readVariable()) {
          // readVariable appended the value and advanced.
        } else if (line[i] === '`' || line.startsWith('$(', i)) {
          throw new Error('command substitution is not supported');
        } else {
          word += line[i];
          i += 1;
        }
      }
      if (i >= line.length) throw new Error('unterminated double quote');
      i += 1;
    } else if (ch === '\\') {
      word += line[i + 1] ?? '';
      inWord = true;
      i += 2;
    } else if (ch === ' ' || ch === '\t' || ch === '\n') {
      finishWord();
      i += 1;
    } else if (ch === '|') {
      finishWord();
      tokens.push({ kind: 'operator', value: '|' });
      i += 1;
    } else if (ch === '>') {
      finishWord();
      const append = line[i + 1] === '>';
      tokens.push({ kind: 'operator', value: append ? '>>' : '>' });
      i += append ? 2 : 1;
    } else if (ch === '$' && readVariable()) {
      // readVariable appended the value and advanced.
    } else if (/[;&<`]/.test(ch) || line.startsWith('$(', i)) {
      throw new Error(`"${ch}" is not supported by the simulated shell`);
    } else {
      word += ch;
      inWord = true;
      i += 1;
    }
  }
  finishWord();
  return tokens;
}

/**
 * Splits a command line into argv the way a POSIX shell does for a simple command with
 * quoting only, e.g. the SSH exec request `'sha256sum' '--' '/app/data/app.db'`.
 *
 * @throws Error when the line has an operator or unsupported syntax.
 */
export function tokenizeShellWords(line: string): string[] {
  return tokenizeShell(line).map((token) => {
    if (token.kind !== 'word') throw new Error(`"${token.value}" needs a shell: use sh -c`);
    return token.value;
  });
}
