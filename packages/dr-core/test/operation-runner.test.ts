import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { JOURNAL_SCHEMA, OperationJournal } from '../src/journal.js';
import { type OperationStep, rollbackOperation, runOperation } from '../src/operation-runner.js';

interface State {
  target: string;
  created?: string[];
  log?: string[];
}

let dbPath: string;
let journal: OperationJournal;
let effects: string[];

beforeEach(async () => {
  dbPath = join(await mkdtemp(join(tmpdir(), 'flydr-journal-')), 'catalog.db');
  const db = new Database(dbPath);
  db.exec(JOURNAL_SCHEMA);
  journal = new OperationJournal(db);
  effects = [];
});

function step(
  name: string,
  options: { fail?: boolean; failUndo?: boolean } = {},
): OperationStep<State> {
  return {
    name,
    async run(state) {
      effects.push(`run ${name}`);
      if (options.fail) throw new Error(`${name} broke on ${state.target}`);
      return { created: [...(state.created ?? []), name] };
    },
    async undo() {
      effects.push(`undo ${name}`);
      if (options.failUndo) throw new Error(`cannot undo ${name}`);
    },
  };
}

describe('runOperation', () => {
  it('runs every step and merges state', async () => {
    const steps = [step('fence'), step('snapshot'), step('restore')];
    const id = journal.create(
      'failover',
      'live-schedule-api',
      steps.map((item) => item.name),
      { target: 'sin' },
    );

    const record = await runOperation(journal, id, steps);

    expect(record.status).toBe('succeeded');
    expect(record.state.created).toEqual(['fence', 'snapshot', 'restore']);
    expect(record.steps.map((item) => item.status)).toEqual(['done', 'done', 'done']);
    expect(effects).toEqual(['run fence', 'run snapshot', 'run restore']);
  });

  it('rolls back done steps when one fails', async () => {
    const steps = [
      step('fence'),
      step('snapshot'),
      step('restore', { fail: true }),
      step('record'),
    ];
    const id = journal.create(
      'failover',
      'app',
      steps.map((item) => item.name),
      { target: 'sin' },
    );

    const error = (await runOperation(journal, id, steps).catch(
      (caught: unknown) => caught,
    )) as Error & { code: string };

    expect(error.code).toBe('DR_OPERATION_FAILED');
    expect(error.message).toContain('failed at step restore: restore broke on sin');
    expect(effects).toEqual([
      'run fence',
      'run snapshot',
      'run restore',
      'undo restore',
      'undo snapshot',
      'undo fence',
    ]);
    const record = journal.get(id);
    expect(record.status).toBe('failed');
    expect(record.steps.map((item) => item.status)).toEqual([
      'undone',
      'undone',
      'undone',
      'pending',
    ]);
  });

  it('names undo steps that fail during rollback', async () => {
    const steps = [step('fence', { failUndo: true }), step('snapshot', { fail: true })];
    const id = journal.create(
      'failover',
      'app',
      steps.map((item) => item.name),
      { target: 'sin' },
    );

    const error = (await runOperation(journal, id, steps).catch(
      (caught: unknown) => caught,
    )) as Error & { hint: string };

    expect(error.hint).toContain(`flydr abort ${id}`);
    expect(journal.get(id).steps[0]?.status).toBe('done');
  });

  it('resumes after a crash at each step boundary', async () => {
    const names = ['preflight', 'fence', 'snapshot', 'standby', 'restore'];
    for (const [crashAt] of names.entries()) {
      effects = [];
      const steps = names.map((name) => step(name));
      const id = journal.create('failover', 'app', names, { target: 'sin' });

      // A throw from the hook leaves the journal as a killed process would: status running.
      const crash = new Error('killed');
      await expect(
        runOperation(journal, id, steps, {
          afterStepPersisted: (_name, position) => {
            if (position === crashAt) throw crash;
          },
        }),
      ).rejects.toBe(crash);
      expect(journal.get(id).status).toBe('running');

      const resumed = await runOperation(journal, id, steps);
      expect(resumed.status).toBe('succeeded');
      expect(resumed.state.created).toEqual(names);
      // Every step ran exactly once across both runs.
      expect(effects).toEqual(names.map((name) => `run ${name}`));
    }
  });

  it('survives reopening the database between runs', async () => {
    const steps = [step('fence'), step('snapshot')];
    const id = journal.create('failback', 'app', ['fence', 'snapshot'], { target: 'nrt' });
    await expect(
      runOperation(journal, id, steps, {
        afterStepPersisted: () => {
          throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');

    const reopened = new OperationJournal(new Database(dbPath));
    const record = reopened.get<State>(id);
    expect(record.steps.map((item) => item.status)).toEqual(['done', 'pending']);
    expect(record.state).toEqual({ target: 'nrt', created: ['fence'] });
  });
});

describe('rollbackOperation', () => {
  it('undoes an interrupted operation in reverse', async () => {
    const steps = [step('fence'), step('snapshot'), step('standby')];
    const id = journal.create(
      'failover',
      'app',
      steps.map((item) => item.name),
      { target: 'sin' },
    );
    await expect(
      runOperation(journal, id, steps, {
        afterStepPersisted: (_name, position) => {
          if (position === 1) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    effects = [];

    const record = await rollbackOperation(journal, id, steps);

    expect(record.status).toBe('aborted');
    expect(effects).toEqual(['undo snapshot', 'undo fence']);
    expect(record.steps.map((item) => item.status)).toEqual(['undone', 'undone', 'pending']);
  });

  it('keeps the operation failed when an undo fails', async () => {
    const steps = [step('fence', { failUndo: true })];
    const id = journal.create('failover', 'app', ['fence'], { target: 'sin' });
    journal.startStep(id, 0);
    journal.finishStep(id, 0, {});

    await expect(rollbackOperation(journal, id, steps)).rejects.toMatchObject({
      code: 'DR_OPERATION_FAILED',
    });
    expect(journal.get(id).status).toBe('failed');
  });
});

describe('OperationJournal', () => {
  it('lists unfinished operations of an app', () => {
    const running = journal.create('failover', 'app', ['fence'], {});
    const done = journal.create('sync', 'app', ['copy'], {});
    journal.setStatus(done, 'succeeded');
    journal.create('failover', 'other-app', ['fence'], {});

    expect(journal.unfinished('app').map((record) => record.id)).toEqual([running]);
  });

  it('rejects an unknown operation id', () => {
    expect(() => journal.get('failover-nope')).toThrow(
      expect.objectContaining({ code: 'DR_OPERATION_NOT_FOUND' }),
    );
  });
});
