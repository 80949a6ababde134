import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

export interface TestDatabase {
  /** Database name, as the Data API's `database` parameter takes it. */
  readonly name: string;
  readonly url: string;
  /** A direct connection pool, for arranging rows and asserting on them. */
  readonly pool: pg.Pool;
  /** Connection URL for another database on the same server. */
  readonly serverUrlFor: (database: string) => string;
  drop(): Promise<void>;
}

/**
 * Ends `pool` and waits until each of its connections has closed. `pool.end()` alone resolves as
 * soon as it has asked them to (pg-pool does not wait for `client.end()`): a DROP DATABASE … WITH
 * (FORCE) right after it can still find a backend alive, terminate it, and its 57P01 then reaches
 * the ended pool, which has no one to tell (an uncaught error that fails the run).
 */
async function endPool(pool: pg.Pool): Promise<void> {
  const closing = pool.idleCount;
  let closed = 0;
  const allClosed = new Promise<void>((resolve) => {
    if (closing === 0) resolve();
    pool.on("remove", () => {
      closed += 1;
      if (closed === closing) resolve();
    });
  });
  await pool.end();
  await allClosed;
}

function urlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh, fully migrated database of its own for one test file (cloned from the template), or,
 * with `empty`, one with nothing in it (cloned from template0).
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const template = options.empty ? "template0" : inject("templateDatabase");
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    name,
    url,
    pool,
    serverUrlFor: (database) => urlFor(adminUrl, database),
    async drop() {
      await endPool(pool);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
