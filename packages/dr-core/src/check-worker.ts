import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** Files from this size up are checked in a worker thread, while the main thread hashes. */
export const WORKER_CHECK_MIN_BYTES = 16 * 1024 * 1024;

// CommonJS source of the worker: better-sqlite3 is synchronous, so the check blocks only
// this thread. Inline source needs no separate file next to the compiled or the TS module.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
let db;
try {
  db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  const rows = db.pragma(workerData.pragma);
  parentPort.postMessage({ rows: rows.map((row) => String(Object.values(row)[0])) });
} catch (error) {
  parentPort.postMessage({ error: String((error && error.message) || error) });
} finally {
  if (db) db.close();
}
`;

/**
 * Runs `PRAGMA quick_check` or `integrity_check` on a database file, opened read-only,
 * and returns its output rows (`['ok']` for a healthy file). Large files are checked in a
 * worker thread so the caller can hash the file meanwhile.
 *
 * @throws Error with SQLite's message when the file cannot be opened or read.
 */
export async function runCheckPragma(
  path: string,
  pragma: 'quick_check' | 'integrity_check',
  size: number,
): Promise<string[]> {
  if (size < WORKER_CHECK_MIN_BYTES) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.pragma(pragma) as Record<string, unknown>[]).map((row) =>
        String(Object.values(row)[0]),
      );
    } finally {
      db.close();
    }
  }
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { modulePath, path, pragma },
  });
  try {
    const message = await new Promise<{ rows?: string[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`check worker exited with code ${code}`)));
    });
    if (message.error !== undefined) {
      throw new Error(message.error);
    }
    return message.rows ?? [];
  } finally {
    await worker.terminate();
  }
}
