import { randomBytes } from "node:crypto";
import pg from "pg";
import { TypeCatalog } from "./pg-types.ts";
import { DataApiError } from "./protocol.ts";

/**
 * The endpoint's side of the database: a pool per database name (created on first use), and
 * transactions, each pinned to one connection of its own until commit, rollback or expiry.
 */

export interface Connection {
  client: pg.PoolClient;
  catalog: TypeCatalog;
  database: string;
  /** Whom the connection is logged in as (the call's secret); none = the default login. */
  login?: Login;
  /** Settles when the statement last sent has finished, even if its caller was answered early. */
  idle: Promise<unknown>;
  /** Session state was changed (SET, an open BEGIN…): close it rather than pool it. */
  discard?: boolean;
}

interface Database {
  pool: pg.Pool;
  catalog: TypeCatalog;
}

/** A PostgreSQL login a secret names; none = the connection URL's own user. */
export interface Login {
  username: string;
  password: string;
}

/** The connection URL for `database`, logged in as `login` when given. */
export function loginUrl(
  connectionUrlFor: (database: string) => string,
  database: string,
  login?: Login,
): string {
  const url = new URL(connectionUrlFor(database));
  if (login) {
    url.username = encodeURIComponent(login.username);
    url.password = encodeURIComponent(login.password);
  }
  return url.toString();
}

export class DatabasePools {
  /** One pool per (login, database). */
  private readonly databases = new Map<string, Database>();

  constructor(private readonly connectionUrlFor: (database: string) => string) {}

  private database(name: string, login?: Login): Database {
    const key = `${login?.username ?? ""}\u0000${name}`;
    let database = this.databases.get(key);
    if (!database) {
      const pool = new pg.Pool({
        connectionString: loginUrl(this.connectionUrlFor, name, login),
        max: 20,
        // Idle connections must not keep a test process (or `npm run migrate`) alive.
        allowExitOnIdle: true,
        // Fixed text formats, as pgjdbc fixes them at connect: our conversions parse these
        // forms. TimeZone is deliberately left to the database/role settings (see README).
        options: "-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=3",
        application_name: "local-rds-data-api",
      });
      // A connection dying while idle in the pool must not crash the process.
      pool.on("error", () => {});
      database = { pool, catalog: new TypeCatalog() };
      this.databases.set(key, database);
    }
    return database;
  }

  async connect(name: string, login?: Login): Promise<Connection> {
    const { pool, catalog } = this.database(name, login);
    const client = await pool.connect();
    return { client, catalog, database: name, login, idle: Promise.resolve() };
  }

  async close(): Promise<void> {
    const pools = [...this.databases.values()].map(({ pool }) => pool);
    this.databases.clear();
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
  }
}

interface Transaction {
  id: string;
  connection: Connection;
  busy: boolean;
  expiry?: NodeJS.Timeout;
}

/** Why an id no longer names a transaction; the service appends the cause to its message. */
const ENDED_BECAUSE = {
  expired:
    "The transaction may have expired: each call in a transaction must come within three minutes of the previous one.",
  ended: "A previous call ended the transaction (CommitTransaction or RollbackTransaction).",
  aborted: "The transaction was aborted because a previous call in it failed.",
} as const;
type EndReason = keyof typeof ENDED_BECAUSE;

/** A request the service rejects before running it leaves the transaction as it was. */
function abortsTransaction(error: unknown): boolean {
  if (!(error instanceof DataApiError)) return true;
  return error.type === "DatabaseErrorException" || error.type === "StatementTimeoutException";
}

/** How many ended ids to remember for the message; old ones are simply "not found". */
const REMEMBERED_ENDINGS = 1000;

export class Transactions {
  private readonly open = new Map<string, Transaction>();
  private readonly ended = new Map<string, EndReason>();

  constructor(
    private readonly pools: DatabasePools,
    /** "A transaction times out if no calls use its transaction ID in three minutes."
     * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_BeginTransaction.html */
    private readonly idleTimeoutMs: number,
  ) {}

  async begin(database: string, login?: Login): Promise<string> {
    const connection = await this.pools.connect(database, login);
    try {
      await connection.client.query("BEGIN");
    } catch (error) {
      connection.client.release(true);
      throw error;
    }
    const id = randomBytes(96).toString("base64");
    const transaction: Transaction = { id, connection, busy: false };
    this.open.set(id, transaction);
    this.armExpiry(transaction);
    return id;
  }

  /**
   * Runs `work` on the transaction's connection. One call at a time: "When the Data API receives
   * multiple requests with the same transaction ID, it immediately returns this error:
   * DatabaseErrorException: Transaction is still running a query".
   * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
   * A failed statement aborts the transaction, and the service forgets it.
   */
  async use<T>(id: string, work: (connection: Connection) => Promise<T>): Promise<T> {
    const transaction = this.find(id);
    if (transaction.busy) {
      throw new DataApiError("DatabaseErrorException", "Transaction is still running a query");
    }
    transaction.busy = true;
    clearTimeout(transaction.expiry);
    try {
      const result = await work(transaction.connection);
      transaction.busy = false;
      this.armExpiry(transaction);
      return result;
    } catch (error) {
      transaction.busy = false;
      if (abortsTransaction(error)) await this.end(transaction, "aborted", "ROLLBACK");
      else this.armExpiry(transaction);
      throw error;
    }
  }

  async commit(id: string): Promise<void> {
    await this.finish(id, "COMMIT");
  }

  async rollback(id: string): Promise<void> {
    await this.finish(id, "ROLLBACK");
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.open.values()].map((transaction) => this.end(transaction, "ended", "ROLLBACK")),
    );
  }

  private async finish(id: string, command: "COMMIT" | "ROLLBACK"): Promise<void> {
    const transaction = this.find(id);
    if (transaction.busy) {
      throw new DataApiError("DatabaseErrorException", "Transaction is still running a query");
    }
    transaction.busy = true;
    const { client } = transaction.connection;
    this.forget(transaction, "ended");
    try {
      await client.query(command);
      client.release(transaction.connection.discard);
    } catch (error) {
      client.release(true);
      throw error;
    }
  }

  private find(id: string): Transaction {
    const transaction = this.open.get(id);
    if (transaction) return transaction;
    const reason = this.ended.get(id);
    // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.troubleshooting.html
    throw new DataApiError(
      "TransactionNotFoundException",
      `Transaction ${id} is not found${reason ? `. ${ENDED_BECAUSE[reason]}` : ""}`,
    );
  }

  private armExpiry(transaction: Transaction): void {
    transaction.expiry = setTimeout(() => {
      if (!transaction.busy) void this.end(transaction, "expired", "ROLLBACK");
    }, this.idleTimeoutMs);
    transaction.expiry.unref();
  }

  private forget(transaction: Transaction, reason: EndReason): void {
    clearTimeout(transaction.expiry);
    this.open.delete(transaction.id);
    this.ended.set(transaction.id, reason);
    if (this.ended.size > REMEMBERED_ENDINGS) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  private async end(transaction: Transaction, reason: EndReason, command: "ROLLBACK") {
    if (!this.open.has(transaction.id)) return;
    this.forget(transaction, reason);
    const { client } = transaction.connection;
    try {
      await client.query(command);
      client.release(transaction.connection.discard);
    } catch {
      client.release(true);
    }
  }
}
