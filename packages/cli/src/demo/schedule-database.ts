import Database from 'better-sqlite3';

// Words for generated names; the data only has to look like a live-schedule app's.
const cities = ['Tokyo', 'Osaka', 'Nagoya', 'Fukuoka', 'Sapporo', 'Sendai', 'Singapore', 'Kyoto'];
const venueKinds = ['Hall', 'Arena', 'Live House', 'Club', 'Dome', 'Theater'];
const firstWords = [
  'Blue',
  'Midnight',
  'Neon',
  'Paper',
  'Silver',
  'Hollow',
  'Electric',
  'Quiet',
  'Sakura',
  'Iron',
];
const secondWords = [
  'Lanterns',
  'Foxes',
  'Tides',
  'Engines',
  'Kites',
  'Static',
  'Orchard',
  'Signals',
  'Harbor',
  'Comets',
];
const genres = ['rock', 'pop', 'jazz', 'idol', 'electronic', 'folk', 'metal', 'city pop'];

/** How many rows of each kind {@link createScheduleDatabase} writes. */
export interface ScheduleDatabaseSize {
  venues: number;
  performers: number;
  events: number;
}

/** Row counts that make a database of a few thousand rows, as the demo uses. */
export const demoScheduleSize: ScheduleDatabaseSize = { venues: 40, performers: 300, events: 2400 };

// A small deterministic generator (mulberry32), so every demo run starts from the same data.
function randomSource(seed: number): () => number {
  let value = seed >>> 0;
  return () => {
    value = (value + 0x6d2b79f5) >>> 0;
    let mixed = value;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes a live-schedule database (venues, performers, events and their line-ups) to
 * `path` in WAL mode, like the app in the runbook keeps at /app/data/app.db.
 * The same seed always gives the same rows.
 */
export function createScheduleDatabase(
  path: string,
  size = demoScheduleSize,
  seed = 20261204,
): void {
  const random = randomSource(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const db = new Database(path);

  try {
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE venues (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        capacity INTEGER NOT NULL
      );
      CREATE TABLE performers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        genre TEXT NOT NULL
      );
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        venue_id INTEGER NOT NULL REFERENCES venues (id),
        title TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        price_yen INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('scheduled', 'sold_out', 'cancelled'))
      );
      CREATE TABLE event_performers (
        event_id INTEGER NOT NULL REFERENCES events (id),
        performer_id INTEGER NOT NULL REFERENCES performers (id),
        billing INTEGER NOT NULL,
        PRIMARY KEY (event_id, performer_id)
      ) WITHOUT ROWID;
      CREATE INDEX events_starts_at ON events (starts_at);
    `);

    const insertAll = db.transaction(() => {
      const venue = db.prepare('INSERT INTO venues (id, name, city, capacity) VALUES (?, ?, ?, ?)');
      for (let id = 1; id <= size.venues; id++) {
        const city = pick(cities);
        venue.run(
          id,
          `${city} ${pick(firstWords)} ${pick(venueKinds)}`,
          city,
          200 + Math.floor(random() * 20) * 250,
        );
      }

      const performer = db.prepare('INSERT INTO performers (id, name, genre) VALUES (?, ?, ?)');
      for (let id = 1; id <= size.performers; id++) {
        performer.run(id, `${pick(firstWords)} ${pick(secondWords)} ${id}`, pick(genres));
      }

      const event = db.prepare(
        'INSERT INTO events (id, venue_id, title, starts_at, price_yen, status) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const lineup = db.prepare(
        'INSERT OR IGNORE INTO event_performers (event_id, performer_id, billing) VALUES (?, ?, ?)',
      );
      const firstDay = Date.UTC(2027, 0, 1, 10);
      for (let id = 1; id <= size.events; id++) {
        const startsAt = new Date(
          firstDay +
            Math.floor(random() * 365) * 86_400_000 +
            Math.floor(random() * 12) * 3_600_000,
        );
        const status = random() < 0.08 ? 'sold_out' : random() < 0.03 ? 'cancelled' : 'scheduled';
        event.run(
          id,
          1 + Math.floor(random() * size.venues),
          `${pick(firstWords)} Night vol.${id}`,
          startsAt.toISOString(),
          2000 + Math.floor(random() * 60) * 100,
          status,
        );

        const acts = 1 + Math.floor(random() * 4);
        for (let billing = 1; billing <= acts; billing++) {
          lineup.run(id, 1 + Math.floor(random() * size.performers), billing);
        }
      }
    });
    insertAll();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
