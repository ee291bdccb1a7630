import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { DrError, isNoSpaceError } from './errors.js';

/** Kinds of journaled operation. */
export type OperationKind = 'failover' | 'failback' | 'sync' | 'restore';

/** Status of an operation. `interrupted` means a process died while it ran. */
export type OperationStatus = 'running' | 'succeeded' | 'failed' | 'aborted' | 'interrupted';

/** Status of a step. */
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'undone';

/** A journaled step: its name, status and timing. */
export interface StepRecord {
  position: number;
  name: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

/** A journaled operation with its accumulated state, which each finished step extends. */
export interface OperationRecord<State = Record<string, unknown>> {
  id: string;
  kind: OperationKind;
  app: string;
  status: OperationStatus;
  /** Process id of the runner that last took the operation. */
  pid: number;
  createdAt: string;
  updatedAt: string;
  /** JSON state: the parameters, plus what finished steps recorded (machine ids, backup id). */
  state: State;
  steps: StepRecord[];
  error: string | null;
}

/** SQL that creates the journal tables; part of the catalog's migrations. */
export const JOURNAL_SCHEMA = `
  CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT
  );
  CREATE INDEX operations_app_status ON operations (app, status);
  CREATE TABLE operation_steps (
    operation_id TEXT NOT NULL REFERENCES operations (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    PRIMARY KEY (operation_id, position)
  );
`;

interface OperationRow {
  id: string;
  kind: OperationKind;
  app: string;
  status: OperationStatus;
  pid: number;
  created_at: string;
  updated_at: string;
  state: string;
  error: string | null;
}

interface StepRow {
  position: number;
  name: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

/**
 * The operation journal in the catalog database. Every change is one SQLite transaction
 * written before the step it describes runs, so a process killed at any point leaves a
 * journal that `resume` and `abort` can read.
 */
export class OperationJournal {
  constructor(private readonly db: Database.Database) {}

  /** Creates an operation with its steps all pending, and returns its id. */
  create(kind: OperationKind, app: string, stepNames: readonly string[], state: object): string {
    const id = `${kind}-${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const insert = this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO operations (id, kind, app, status, pid, created_at, updated_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, kind, app, 'running', process.pid, now, now, JSON.stringify(state));
      const step = this.db.prepare(
        "INSERT INTO operation_steps (operation_id, position, name, status) VALUES (?, ?, ?, 'pending')",
      );
      for (const [position, name] of stepNames.entries()) step.run(id, position, name);
    });
    this.write(insert);
    return id;
  }

  /**
   * Reads an operation with its steps.
   *
   * @throws DrError `DR_OPERATION_NOT_FOUND` naming the id.
   */
  get<State = Record<string, unknown>>(id: string): OperationRecord<State> {
    const row = this.db.prepare('SELECT * FROM operations WHERE id = ?').get(id) as
      | OperationRow
      | undefined;
    if (row === undefined) {
      throw new DrError(
        'DR_OPERATION_NOT_FOUND',
        `no operation ${JSON.stringify(id)} in the journal`,
        'run `flydr status` to see the unfinished operation, if any',
      );
    }
    return this.toRecord<State>(row);
  }

  /** Returns the operations of an app that are not finished, newest first. */
  unfinished(app: string): OperationRecord[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM operations WHERE app = ? AND status IN ('running', 'failed', 'interrupted') ORDER BY created_at DESC",
      )
      .all(app) as OperationRow[];
    return rows.map((row) => this.toRecord(row));
  }

  /** Returns the most recent operations of an app, newest first. */
  recent(app: string, limit = 10): OperationRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM operations WHERE app = ? ORDER BY created_at DESC LIMIT ?')
      .all(app, limit) as OperationRow[];
    return rows.map((row) => this.toRecord(row));
  }

  /** Marks a step running; written before the step's first side effect. */
  startStep(id: string, position: number): void {
    this.updateStep(id, position, 'running', { started_at: new Date().toISOString(), error: null });
  }

  /** Marks a step done and merges what it produced into the operation's state, atomically. */
  finishStep(id: string, position: number, statePatch: object): void {
    const apply = this.db.transaction(() => {
      const current = this.get(id);
      const state = { ...current.state, ...statePatch };
      this.db
        .prepare('UPDATE operations SET state = ?, updated_at = ? WHERE id = ?')
        .run(JSON.stringify(state), new Date().toISOString(), id);
      this.updateStep(id, position, 'done', { finished_at: new Date().toISOString() });
    });
    this.write(apply);
  }

  /** Marks a step failed with its error message. */
  failStep(id: string, position: number, error: string): void {
    this.updateStep(id, position, 'failed', { finished_at: new Date().toISOString(), error });
  }

  /** Marks a done step as rolled back. */
  undoStep(id: string, position: number): void {
    this.updateStep(id, position, 'undone', { finished_at: new Date().toISOString() });
  }

  /** Merges values into the operation's state without finishing a step. */
  patchState(id: string, statePatch: object): void {
    const apply = this.db.transaction(() => {
      const state = { ...this.get(id).state, ...statePatch };
      this.db
        .prepare('UPDATE operations SET state = ?, updated_at = ? WHERE id = ?')
        .run(JSON.stringify(state), new Date().toISOString(), id);
    });
    this.write(apply);
  }

  /** Sets the operation's status, its owning process and its error message. */
  setStatus(id: string, status: OperationStatus, error: string | null = null): void {
    this.write(() =>
      this.db
        .prepare(
          'UPDATE operations SET status = ?, pid = ?, error = ?, updated_at = ? WHERE id = ?',
        )
        .run(status, process.pid, error, new Date().toISOString(), id),
    );
  }

  /**
   * Runs a write, turning SQLite's full-disk error into a DrError.
   *
   * @throws DrError `DR_NO_SPACE` naming the catalog file.
   */
  private write(fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      if (!isNoSpaceError(error)) {
        throw error;
      }
      throw new DrError(
        'DR_NO_SPACE',
        `writing the operation journal in ${this.db.name} failed: no space left on the device`,
        'Free space on the disk of the state directory, then run the command again. An operation that already started continues with `flydr resume` or rolls back with `flydr abort`.',
        { path: this.db.name, cause: error },
      );
    }
  }

  private updateStep(
    id: string,
    position: number,
    status: StepStatus,
    fields: Record<string, string | null>,
  ) {
    const assignments = Object.keys(fields).map((name) => `${name} = @${name}`);
    this.write(() => {
      this.db
        .prepare(
          `UPDATE operation_steps SET status = @status${assignments.length ? `, ${assignments.join(', ')}` : ''} WHERE operation_id = @id AND position = @position`,
        )
        .run({ ...fields, status, id, position });
      this.db
        .prepare('UPDATE operations SET updated_at = ? WHERE id = ?')
        .run(new Date().toISOString(), id);
    });
  }

  private toRecord<State>(row: OperationRow): OperationRecord<State> {
    const steps = this.db
      .prepare(
        'SELECT position, name, status, started_at, finished_at, error FROM operation_steps WHERE operation_id = ? ORDER BY position',
      )
      .all(row.id) as StepRow[];
    return {
      id: row.id,
      kind: row.kind,
      app: row.app,
      status: row.status,
      pid: row.pid,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      state: JSON.parse(row.state) as State,
      error: row.error,
      steps: steps.map((step) => ({
        position: step.position,
        name: step.name,
        status: step.status,
        startedAt: step.started_at,
        finishedAt: step.finished_at,
        error: step.error,
      })),
    };
  }
}
