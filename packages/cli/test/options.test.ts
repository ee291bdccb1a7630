import { createFlyClient } from '@flydr/fly-client';
import { describe, expect, it } from 'vitest';
import { commands } from '../src/commands/index.js';
import { parseDuration } from '../src/duration.js';
import { reportError } from '../src/error-exit.js';
import { createMachineAccess } from '../src/machine-access.js';
import { parseWholeNumber } from '../src/number-option.js';
import { checkRegionCode, FALLBACK_REGION_CODES, requireKnownRegions } from '../src/region-code.js';
import { usageErrorFor } from '../src/usage-message.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text, '--wait-for-capacity')).toBe(ms);
  });

  it.each(['', '30', 'soon', '30 m', '-5m', '1d'])('rejects %j', (text) => {
    expect(() => parseDuration(text, '--wait-for-capacity')).toThrow(
      `invalid --wait-for-capacity ${JSON.stringify(text)}`,
    );
  });
});

describe('checkRegionCode', () => {
  it('accepts three lowercase letters', () => {
    expect(checkRegionCode('sin', '--to')).toBe('sin');
  });

  it.each(['SIN', 'Sin'])('lowers %s', (code) => {
    expect(checkRegionCode(code, '--to')).toBe('sin');
  });

  it.each(['tokyo', 'n1t', '', 's n', 'sın'])('rejects %j', (code) => {
    expect(() => checkRegionCode(code, '--to')).toThrow(
      `invalid region ${JSON.stringify(code)} for --to`,
    );
  });
});

describe('createMachineAccess', () => {
  const client = createFlyClient({ token: 'unused', baseUrl: 'http://127.0.0.1:1' });
  const base = { app: 'a', transport: 'ssh' as const, sshPort: 22, stateDir: '/tmp/flydr-state' };

  it.each([
    '127.0.0.1:10022',
    '{machine}.vm.{app}.internal',
    '[fdaa::3]:22',
    'host',
  ])('accepts --ssh-address %s', (address) => {
    expect(typeof createMachineAccess(client, { ...base, sshAddress: address })).toBe('function');
  });

  it('rejects an unknown placeholder', () => {
    expect(() => createMachineAccess(client, { ...base, sshAddress: '{host}.internal' })).toThrow(
      'unknown placeholder {host}',
    );
  });

  it('rejects a port on a template', () => {
    expect(() =>
      createMachineAccess(client, { ...base, sshAddress: '{machine}.vm.{app}.internal:2222' }),
    ).toThrow('a template takes its port from --ssh-port');
  });

  it.each([0, 70_000, 1.5])('rejects --ssh-port %s', (port) => {
    expect(() =>
      createMachineAccess(client, { ...base, sshAddress: undefined, sshPort: port }),
    ).toThrow(`invalid --ssh-port ${port}`);
  });
});

describe('reportError', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code, hint: 'do this' });

  it.each([
    ['DR_NO_CAPACITY', 3],
    ['DR_DIVERGED', 3],
    ['DR_SPLIT_BRAIN', 3],
    ['FLY_LEASE_CONFLICT', 3],
    ['DR_UNKNOWN_REGION', 2],
    ['DR_BACKUP_NOT_FOUND', 2],
    ['FLY_UNAUTHORIZED', 2],
    ['DR_INTERRUPTED', 4],
    ['DR_TRANSFER_FAILED', 1],
  ])('maps %s to exit %i', (code, exitCode) => {
    expect(reportError(coded(code)).exitCode).toBe(exitCode);
  });

  it('cuts a repeated hint from the message', () => {
    const error = Object.assign(new Error('app not found: live-schedule-ap. Check the app name'), {
      code: 'FLY_NOT_FOUND',
      hint: 'check the app name',
    });
    const report = reportError(error);
    expect(report.message).toBe('app not found: live-schedule-ap');
    expect(report.hint).toBe('check the app name');
  });

  it('keeps a message that only mentions the hint', () => {
    const error = Object.assign(new Error('do this first, then retry'), {
      code: 'X',
      hint: 'do this',
    });
    expect(reportError(error).message).toBe('do this first, then retry');
  });

  it('keeps the operation id of a journaled failure', () => {
    const error = Object.assign(new Error('failed'), {
      code: 'DR_OPERATION_FAILED',
      details: { operationId: 'failover-20261204T203302Z-5f2a9c' },
    });
    expect(reportError(error).operationId).toBe('failover-20261204T203302Z-5f2a9c');
  });
});

describe('parseWholeNumber', () => {
  const spec = { unit: 'days', example: 30 };

  it.each([
    ['0', 0],
    ['30', 30],
    [' 7 ', 7],
    [30, 30],
  ])('parses %j', (value, expected) => {
    expect(parseWholeNumber(value, '--keep-days', spec)).toBe(expected);
  });

  it.each([
    ['abc', '"abc"'],
    ['1.5', '"1.5"'],
    ['-1', '"-1"'],
    ['1e3', '"1e3"'],
    ['0x10', '"0x10"'],
    ['', '""'],
    ['99999999999999999999', '"99999999999999999999"'],
  ])('rejects %j naming it', (value, shown) => {
    expect(() => parseWholeNumber(value, '--keep-days', spec)).toThrow(
      `invalid --keep-days ${shown}: expected a whole number of days, 0 or more`,
    );
  });

  it('rejects a repeated option', () => {
    expect(() => parseWholeNumber(['3', '4'], '--keep-days', spec)).toThrow(
      'invalid --keep-days given 2 times',
    );
  });

  it('names the range', () => {
    expect(() => parseWholeNumber('0', '--size', { min: 1, max: 500, example: 1 })).toThrow(
      'expected a whole number, from 1 to 500',
    );
  });

  it('gives an example as the hint', () => {
    try {
      parseWholeNumber('x', '--keep-days', spec);
    } catch (error) {
      expect((error as { hint: string }).hint).toBe('for example --keep-days 30');
    }
    expect.assertions(1);
  });
});

describe('usageErrorFor', () => {
  const message = (text: string, argv: string[]) => usageErrorFor(text, argv, commands).message;

  it('names a missing subcommand', () => {
    expect(message('Not enough non-option arguments: got 0, need at least 1', ['backups'])).toBe(
      'missing subcommand: `flydr backups` needs one of list, show, verify, prune, delete',
    );
  });

  it('names an unknown subcommand', () => {
    expect(
      message('Not enough non-option arguments: got 0, need at least 1', ['standby', 'bogus']),
    ).toBe('unknown subcommand "bogus": `flydr standby` needs one of prepare, config');
  });

  it('names a missing positional with the usage', () => {
    expect(message('Not enough non-option arguments: got 0, need at least 1', ['restore'])).toBe(
      'missing argument: the usage is `flydr restore <id>`',
    );
  });

  it('names a missing required option', () => {
    expect(message('Missing required argument: to', ['failover'])).toBe(
      'missing --to for `flydr failover`',
    );
  });

  it('names a missing option value', () => {
    expect(
      message('Not enough arguments following: keep-days', ['backups', 'prune', '--keep-days']),
    ).toBe('missing value after --keep-days');
  });

  it('names an unknown option once', () => {
    expect(
      message('Unknown arguments: keep-days, keepDays', ['backups', 'list', '--keep-days', '3']),
    ).toBe('unknown option --keep-days for `flydr backups list`');
  });

  it('names an unknown command', () => {
    expect(message('Unknown argument: bogus', ['bogus'])).toBe('unknown command "bogus"');
  });

  it('puts an invalid choice on one line', () => {
    expect(
      message('Invalid values:\n  Argument: transport, Given: "x", Choices: "ssh", "exec"', [
        'status',
        '--transport',
        'x',
      ]),
    ).toBe('invalid --transport "x": choose ssh or exec');
  });

  it('gives the first example as the hint', () => {
    const error = usageErrorFor('Missing required argument: to', ['failover'], commands);
    expect(error.hint).toBe(
      'for example `flydr failover --to sin`; run `flydr failover --help` for every option',
    );
  });
});

describe('requireKnownRegions', () => {
  // Nothing listens on port 1, so the platform region list cannot be read.
  const offline = createFlyClient({
    token: 'unused',
    baseUrl: 'http://127.0.0.1:1',
    retry: { maxAttempts: 1 },
  });

  it('accepts a built-in code when the API is unreachable', async () => {
    await expect(requireKnownRegions(offline, ['sin', 'nrt'])).resolves.toBeUndefined();
  });

  it('rejects an unknown code when the API is unreachable', async () => {
    const error = await requireKnownRegions(offline, ['sin', 'xyz']).catch((e: unknown) => e);
    expect(reportError(error).exitCode).toBe(2);
    expect((error as { code: string }).code).toBe('DR_UNKNOWN_REGION');
    expect((error as Error).message).toMatch(
      /^unknown region code "xyz"; the platform region list could not be read \(FLY_NETWORK\)/,
    );
  });

  it('keeps the built-in codes sorted and unique', () => {
    expect([...new Set(FALLBACK_REGION_CODES)].sort()).toEqual(FALLBACK_REGION_CODES);
  });
});
