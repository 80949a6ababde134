import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, type statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startPostgres } from "../../tools/local/postgres.ts";
import {
  canSearch,
  type DirectoryStat,
  PostgresUnreachableError,
  unreachableMessage,
  unsearchableDirectories,
} from "../../tools/local/postgres-access.ts";

/**
 * The check `npm start` (and the test setup) runs before starting the embedded PostgreSQL as root:
 * can the `postgres` user, which the server runs as, enter the directories of its binaries and its
 * data directory? A checkout under a 0700 directory cannot, and used to fail as `spawn initdb
 * EACCES`.
 */

const POSTGRES = { uid: 101, gid: 104 };
const dir = (path: string, mode: number, uid = 0, gid = 0): DirectoryStat => ({
  path,
  mode: 0o040000 | mode,
  uid,
  gid,
});

describe("canSearch", () => {
  it("follows owner, then group, then other bits, as the kernel does", () => {
    expect(canSearch(dir("/root", 0o700), POSTGRES)).toBe(false);
    expect(canSearch(dir("/root", 0o701), POSTGRES)).toBe(true);
    expect(canSearch(dir("/srv", 0o755), POSTGRES)).toBe(true);
    // The owner class decides for the owner, whatever others may do.
    expect(canSearch(dir("/x", 0o075, 101, 0), POSTGRES)).toBe(false);
    expect(canSearch(dir("/x", 0o710, 0, 104), POSTGRES)).toBe(true);
    expect(canSearch(dir("/x", 0o701, 0, 104), POSTGRES)).toBe(false);
    // A user not created yet is in no group: only the other bits count.
    expect(canSearch(dir("/x", 0o750), null)).toBe(false);
    expect(canSearch(dir("/x", 0o711), null)).toBe(true);
  });
});

describe("unsearchableDirectories", () => {
  /** A file system where the checkout sits in root's 0700 home. */
  const tree: Record<string, DirectoryStat> = {
    "/": dir("/", 0o755),
    "/root": dir("/root", 0o700),
    "/root/app": dir("/root/app", 0o755),
    "/root/app/node_modules": dir("/root/app/node_modules", 0o755),
    "/tmp": dir("/tmp", 0o1777),
  };
  const fakeStat = ((path: string) => {
    const entry = tree[path];
    if (!entry) throw new Error(`no ${path}`);
    return entry;
  }) as unknown as typeof statSync;

  it("names the 0700 directory between the postgres user and the binaries", () => {
    const blocked = unsearchableDirectories(["/root/app/node_modules", "/tmp"], POSTGRES, fakeStat);
    expect(blocked.map((entry) => entry.path)).toEqual(["/root"]);
    const message = unreachableMessage(blocked);
    expect(message).toContain("/root (mode 0700)");
    expect(message).toContain("user `postgres`");
    expect(message).toContain("chmod o+x /root");
    expect(message).toContain("DATABASE_URL=");
  });

  it("finds nothing when every directory on the way can be entered", () => {
    expect(unsearchableDirectories(["/tmp"], POSTGRES, fakeStat)).toEqual([]);
  });
});

describe("startPostgres as root with an unreachable data directory parent", () => {
  const privateDir = mkdtempSync(join(tmpdir(), "chat-heartbeat-private-"));
  afterAll(() => rmSync(privateDir, { recursive: true, force: true }));

  // Only root drops to `postgres`; as anyone else there is nothing to check.
  it.runIf(process.getuid?.() === 0)(
    "fails with what to do, not spawn EACCES, and leaves no data directory behind",
    async () => {
      const inner = join(privateDir, "tmp");
      mkdirSync(inner);
      chmodSync(privateDir, 0o700);
      const saved = process.env.TMPDIR;
      process.env.TMPDIR = inner;
      try {
        const error = await startPostgres().then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(PostgresUnreachableError);
        expect((error as Error).message).toContain(`${privateDir} (mode 0700)`);
        expect((error as Error).message).not.toContain("EACCES");
      } finally {
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
      }
      expect(readdirSync(inner)).toEqual([]);
    },
    60_000,
  );
});
