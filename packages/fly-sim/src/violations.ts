/** A database file of a running app was changed from outside the app. */
export interface DatabaseWriteViolation {
  kind: 'database-written-while-app-running';
  app: string;
  machineId: string;
  /** Path on the machine, e.g. /app/data/app.db-wal. */
  path: string;
  /** Operation that changed it, e.g. "sftp rename" or "exec mv". */
  operation: string;
  at: Date;
}

/** Two machines of one app ran their writer at the same time (split brain). */
export interface SplitBrainViolation {
  kind: 'two-writers';
  app: string;
  /** The machine whose writer was already running, then the one that started. */
  machineIds: [string, string];
  at: Date;
}

/** A broken invariant that tests assert never happens. */
export type Violation = DatabaseWriteViolation | SplitBrainViolation;

/** The list of invariant violations seen since the sim started. */
export class ViolationLog {
  private readonly entries: Violation[] = [];

  /** Records a violation. */
  add(violation: Violation): void {
    this.entries.push(violation);
  }

  /** Returns a copy of every violation, oldest first. */
  list(): Violation[] {
    return [...this.entries];
  }
}
