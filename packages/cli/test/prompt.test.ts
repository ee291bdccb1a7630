import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../src/prompt.js';

function terminal(answer: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const stderr = new PassThrough();
  let asked = '';
  stderr.on('data', (chunk: Buffer) => {
    asked += chunk.toString('utf8');
  });
  setImmediate(() => stdin.write(`${answer}\n`));
  return { streams: { stdin, stderr }, asked: () => asked };
}

describe('confirm', () => {
  it('goes on after y on a terminal', async () => {
    const { streams, asked } = terminal('y');
    await expect(confirm('delete 3 backups?', { yes: false, streams })).resolves.toBeUndefined();
    expect(asked()).toContain('delete 3 backups? [y/N]');
  });

  it('cancels with exit 3 on any other answer', async () => {
    const { streams } = terminal('no thanks');
    await expect(confirm('fail over?', { yes: false, streams })).rejects.toMatchObject({
      exitCode: 3,
      message: 'cancelled: nothing was changed',
    });
  });

  it('skips the question with --yes', async () => {
    const streams = { stdin: new PassThrough(), stderr: new PassThrough() };
    await expect(confirm('fail over?', { yes: true, streams })).resolves.toBeUndefined();
  });

  it('refuses off a terminal without --yes', async () => {
    const streams = { stdin: new PassThrough(), stderr: new PassThrough() };
    await expect(confirm('fail over?', { yes: false, streams })).rejects.toMatchObject({
      exitCode: 2,
      hint: 'this is not a terminal, so pass --yes to confirm',
    });
  });
});
