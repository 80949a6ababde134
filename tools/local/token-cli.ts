import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { z } from "zod/mini";
import { ChatTokenSecret } from "../../functions/heartbeat/config.ts";
import { helpOrUsageError, parseCommandLine, UsageError } from "../cli/command-line.ts";
import {
  LOCAL_DEV_TOKEN_AUDIENCE,
  LOCAL_DEV_TOKEN_ISSUER,
  LOCAL_DEV_TOKEN_SECRET,
} from "./dev-secret.ts";

/**
 * `npm run token -- --sub <uuid> [--chat <uuid>] [--scope "..."] [--ttl 1h]`: prints an HS256
 * chat token the local stack accepts (docs/local-stack.md). Signing lives here, not in the functions: the
 * deployed stages only ever verify tokens.
 */

export const DEFAULT_LOCAL_SCOPE = "workspace:read workspace:update";
export const DEFAULT_LOCAL_TTL = "1h";

const TTL_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const TTL = /^(\d+)([smhd]?)$/;

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds. */
export function parseTtl(ttl: string): number {
  const match = TTL.exec(ttl.trim());
  const seconds = match
    ? Number(match[1]) * TTL_UNITS[(match[2] || "s") as keyof typeof TTL_UNITS]
    : 0;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new Error(`--ttl must be a positive duration such as 90s, 15m, 1h or 7d (got "${ttl}")`);
  }
  return seconds;
}

export interface LocalChatTokenRequest {
  /** The user id (UUID) that owns the chat. */
  sub: string;
  /** Binds the token to one chat. */
  chatId?: string;
  scope?: string;
  /** Lifetime, e.g. `1h`; see {@link parseTtl}. */
  ttl?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
  /** The header's `typ`; default `JWT`. Set it to the stack's `CHAT_TOKEN_TYPE` when that is set. */
  type?: string;
  now?: () => Date;
}

const SignRequest = z.object({
  sub: z.guid("--sub must be a UUID"),
  chatId: z.optional(z.guid("--chat must be a UUID")),
  scope: z.optional(z.string()),
  ttl: z.optional(z.string()),
  secret: z.optional(ChatTokenSecret),
  issuer: z.optional(z.string().check(z.minLength(1))),
  audience: z.optional(z.string().check(z.minLength(1))),
  type: z.optional(z.string().check(z.minLength(1))),
});

/** Signs a local HS256 chat token with the claims the heartbeat verifies (docs/token.md). */
export async function signLocalChatToken(request: LocalChatTokenRequest): Promise<string> {
  const { now, ...fields } = request;
  const parsed = z.safeParse(SignRequest, fields);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join("; "));
  const valid = parsed.data;
  const issuedAt = Math.floor((now?.() ?? new Date()).getTime() / 1000);
  const claims: Record<string, string> = { scope: valid.scope ?? DEFAULT_LOCAL_SCOPE };
  if (valid.chatId !== undefined) claims.chat_id = valid.chatId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: valid.type ?? "JWT" })
    .setSubject(valid.sub)
    .setIssuer(valid.issuer ?? LOCAL_DEV_TOKEN_ISSUER)
    .setAudience(valid.audience ?? LOCAL_DEV_TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + parseTtl(valid.ttl ?? DEFAULT_LOCAL_TTL))
    .sign(new TextEncoder().encode(valid.secret ?? LOCAL_DEV_TOKEN_SECRET));
}

/** Exit code for a usage error or an invalid value (a --sub that is not a UUID, a bad --ttl). */
export const TOKEN_CLI_USAGE_EXIT = 2;

export const TOKEN_CLI_USAGE = `usage: npm run token -- --sub <uuid> [--chat <uuid>] [--scope "<scopes>"] [--ttl 1h]

Prints an HS256 chat token the local stack (npm start) accepts, signed with CHAT_TOKEN_SECRET
(default: the local development secret); CHAT_TOKEN_ISSUER, CHAT_TOKEN_AUDIENCE and CHAT_TOKEN_TYPE
are honoured as the stack reads them.

  --sub <uuid>     the user the token is for (required; the chat's owner)
  --chat <uuid>    bind the token to this chat (chat_id claim)
  --scope "<...>"  space-separated scopes (default "${DEFAULT_LOCAL_SCOPE}")
  --ttl <time>     lifetime: 90s, 15m, 1h (default), 7d
  -h, --help       show this help

Exit codes: 0 token printed on stdout; ${TOKEN_CLI_USAGE_EXIT} unknown flag, missing --sub or an invalid value.`;

const OPTIONS = {
  sub: { type: "string" },
  chat: { type: "string" },
  scope: { type: "string" },
  ttl: { type: "string" },
} as const;

/**
 * The CLI without the process: arguments and environment in, the token out. `--help` and unknown
 * flags are the entry point's; here they throw (UsageError for the latter).
 */
export async function runTokenCli(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const line = parseCommandLine(argv, OPTIONS);
  if (line.kind === "help") throw new UsageError("--help is answered by the entry point");
  if (line.kind === "usage-error") throw new UsageError(line.message);
  const { values } = line;
  if (values.sub === undefined) throw new UsageError("--sub is required");
  // Empty variables count as unset, as in functions/shared/config/env.ts.
  const fromEnv = (name: string) => env[name] || undefined;
  return signLocalChatToken({
    sub: values.sub,
    chatId: values.chat,
    scope: values.scope,
    ttl: values.ttl,
    secret: fromEnv("CHAT_TOKEN_SECRET"),
    issuer: fromEnv("CHAT_TOKEN_ISSUER"),
    audience: fromEnv("CHAT_TOKEN_AUDIENCE"),
    type: fromEnv("CHAT_TOKEN_TYPE"),
  });
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  const argv = process.argv.slice(2);
  const answer = helpOrUsageError(
    parseCommandLine(argv, OPTIONS),
    TOKEN_CLI_USAGE,
    TOKEN_CLI_USAGE_EXIT,
  );
  if (answer) {
    process[answer.stream].write(answer.text);
    process.exitCode = answer.exitCode;
  } else {
    runTokenCli(argv).then(
      (token) => process.stdout.write(`${token}\n`),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        // A missing --sub is a usage error: the usage says what is needed.
        const usage = error instanceof UsageError ? `\n\n${TOKEN_CLI_USAGE}` : "";
        process.stderr.write(`error: ${message}${usage}\n`);
        process.exitCode = TOKEN_CLI_USAGE_EXIT;
      },
    );
  }
}
