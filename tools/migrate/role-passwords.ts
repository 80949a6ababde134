import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { MigrationSession } from "./runner.ts";

/**
 * Sets a function role's password from its Data API secret, so the secret and the database agree.
 * The password never reaches the server (nor its statement log): like psql's `\password`
 * (libpq's PQencryptPasswordConn), the SCRAM-SHA-256 verifier is computed here and the server
 * stores it as given (RFC 5802 §3, RFC 7677; PostgreSQL "Password Authentication").
 */

/** The roles sql/grants/function_roles.sql creates, per function. */
export const FUNCTION_ROLES = {
  heartbeat: "chat_heartbeat_heartbeat",
  reporter: "chat_heartbeat_reporter",
} as const;
export type FunctionName = keyof typeof FUNCTION_ROLES;

/** PostgreSQL's default iteration count (scram_iterations). */
const ITERATIONS = 4096;

/**
 * Printable ASCII only: PostgreSQL runs SASLprep over the password before hashing, which is the
 * identity on these characters, so the verifier computed here is the one the server would compute.
 * Secrets Manager's generated passwords (ExcludePunctuation) always qualify.
 */
const PASSWORD = /^[\x21-\x7e]{16,}$/;

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as pg_authid stores it. */
export function scramSha256Verifier(password: string, salt = randomBytes(16)): string {
  if (!PASSWORD.test(password)) {
    throw new Error("a role password must be at least 16 printable ASCII characters");
  }
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** What a function's secret holds (the Data API reads `username` and `password`). */
export interface RoleLogin {
  username: string;
  password: string;
}

/**
 * `ALTER ROLE … PASSWORD` for each login, which must name one of FUNCTION_ROLES (a secret naming
 * the admin, say, is refused rather than re-passworded). A utility statement takes no bound
 * parameters, so the verifier is a literal; its alphabet (base64, `$`, `:`, `-`) needs no quoting.
 */
export async function setRolePasswords(
  session: Pick<MigrationSession, "execute">,
  logins: readonly RoleLogin[],
): Promise<void> {
  const roles: readonly string[] = Object.values(FUNCTION_ROLES);
  for (const login of logins) {
    if (!roles.includes(login.username)) {
      throw new Error(
        `secret names role "${login.username}", not one of the function roles (${roles.join(", ")})`,
      );
    }
    const verifier = scramSha256Verifier(login.password);
    if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) {
      throw new Error("unexpected verifier shape");
    }
    await session.execute(`ALTER ROLE ${login.username} PASSWORD '${verifier}'`);
  }
}
