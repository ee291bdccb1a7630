import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Record of the simulated app of one machine, kept across its restarts. */
export interface AppWriterLog {
  /** Every row id the app saw committed, in commit order. */
  committedIds: number[];
  /** Errors the writer hit (e.g. the database was locked or replaced), newest last. */
  errors: string[];
}

/** Settings of a simulated app: its machine, database file and write interval. */
export interface LiveAppOptions {
  machineId: string;
  region: string;
  /** Local path of the database file (inside the volume's folder). */
  databaseFile: string;
  /** Milliseconds between inserts. */
  writeIntervalMs: number;
  log: AppWriterLog;
}

/**
 * The app a machine runs in its normal config: it keeps its SQLite database open in WAL
 * mode, inserts a row every interval, records each committed row id, and serves
 * `GET /health` on 127.0.0.1.
 */
export class LiveApp {
  private readonly database: Database.Database;
  private readonly insert: Database.Statement;
  private readonly timer: NodeJS.Timeout;
  private healthy = true;

  private constructor(
    private readonly options: LiveAppOptions,
    private readonly server: Server,
    /** URL of the app's health endpoint. */
    readonly healthUrl: string,
  ) {
    mkdirSync(dirname(options.databaseFile), { recursive: true });
    this.database = new Database(options.databaseFile);
    try {
      this.database.pragma('journal_mode = WAL');
      this.database.exec(
        'CREATE TABLE IF NOT EXISTS writes (id INTEGER PRIMARY KEY AUTOINCREMENT, machine_id TEXT NOT NULL, region TEXT NOT NULL, written_at TEXT NOT NULL)',
      );
      this.insert = this.database.prepare(
        'INSERT INTO writes (machine_id, region, written_at) VALUES (?, ?, ?)',
      );
    } catch (error) {
      // A file that is not a database (or a locked one) fails here; the app does not start.
      this.database.close();
      throw error;
    }
    this.timer = setInterval(() => this.writeRow(), options.writeIntervalMs);
  }

  /**
   * Opens the database (creating it and its table when missing), starts the writer and the
   * health endpoint.
   *
   * @throws Error when the database cannot be opened or the port cannot be bound.
   */
  static async start(options: LiveAppOptions): Promise<LiveApp> {
    let app: LiveApp | undefined;
    const server = createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/health' && app !== undefined) {
        const body = app.healthBody();
        response.writeHead(app.healthy ? 200 : 503, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
        return;
      }
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: `no route for ${request.method} ${request.url}` }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    try {
      app = new LiveApp(options, server, `http://127.0.0.1:${port}/health`);
    } catch (error) {
      server.close();
      throw error;
    }
    return app;
  }

  private healthBody(): Record<string, unknown> {
    const ids = this.options.log.committedIds;
    return {
      status: this.healthy ? 'ok' : 'failing',
      machine_id: this.options.machineId,
      region: this.options.region,
      last_committed_id: ids[ids.length - 1] ?? null,
    };
  }

  private writeRow(): void {
    try {
      const result = this.insert.run(
        this.options.machineId,
        this.options.region,
        new Date().toISOString(),
      );
      this.options.log.committedIds.push(Number(result.lastInsertRowid));
      this.healthy = true;
    } catch (error) {
      this.healthy = false;
      this.options.log.errors.push((error as Error).message);
      if (this.options.log.errors.length > 100) this.options.log.errors.shift();
    }
  }

  /** Stops the writer, closes the database and the health endpoint. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      this.database.close();
    } catch (error) {
      this.options.log.errors.push(`close: ${(error as Error).message}`);
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
