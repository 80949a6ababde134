/**
 * `chat-heartbeat beat --url <base> --chat <uuid> (--token <jwt> | --token-cmd "<cmd>")
 * [--interval 30s] [--min-interval 15s] [--max-interval 5m] [--once]` — keeps one chat's workspace
 * alive from a terminal or a script.
 * Exit codes are documented in client/README.md and in {@link EXIT_CODES}.
 */
import { exec } from "node:child_process";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import {
  type Clock,
  type FetchLike,
  type HeartbeatError,
  type HeartbeatResponse,
  type StopReason,
  startHeartbeat,
  type TokenProvider,
} from "./index.ts";

export const USAGE = `Usage: chat-heartbeat beat --url <base-url> --chat <chat-uuid>
                           (--token <jwt> | --token-cmd "<shell command printing a token>")
                           [--interval 30s] [--min-interval 15s] [--max-interval 5m] [--once]

  --url           API base URL, e.g. http://127.0.0.1:3000
  --chat          the chat id (UUID)
  --token         bearer token (visible in the process list; prefer --token-cmd)
  --token-cmd     shell command printing a token; re-run when the API answers 401
  --interval      time between beats when the server sends no pacing hint (an older server):
                  30s (default), 500ms, 2m, 1h or plain seconds; at least 1s
  --min-interval  never follow a server hint sooner than this (default 15s; at least 1s)
  --max-interval  never follow a server hint later than this (default 5m; not below
                  --min-interval); set both to one value to pin the pace
  --once          send one heartbeat (retrying 503/5xx a few times) and exit
  -h, --help      show this help

Exit codes: 0 --once succeeded, or stopped by SIGINT/SIGTERM; 1 usage error; 2 unauthorized (401,
  even after a token refresh); 3 forbidden (403) or not found (404); 4 bad request (400/413);
  5 unavailable: --once still failing after its retries`;

export const EXIT_CODES = {
  ok: 0,
  usage: 1,
  unauthorized: 2,
  forbiddenOrNotFound: 3,
  badRequest: 4,
  unavailable: 5,
} as const;

/** Failed attempts in a row `--once` retries before giving up with exit code 5. */
export const ONCE_MAX_RETRIES = 5;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type CliCommand =
  | { kind: "help" }
  | {
      kind: "beat";
      baseUrl: string;
      chatId: string;
      token: { kind: "literal"; value: string } | { kind: "command"; command: string };
      intervalMs: number;
      minIntervalMs: number;
      maxIntervalMs: number;
      once: boolean;
    };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
/** The shortest `--interval`, `--min-interval` and `--max-interval` the CLI accepts. */
const SHORTEST_INTERVAL_MS = 1_000;
const DEFAULT_MIN_INTERVAL = "15s";
const DEFAULT_MAX_INTERVAL = "5m";

/** Parses a duration flag that must be at least 1 s. */
function intervalFlag(name: string, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
  if (ms < SHORTEST_INTERVAL_MS) throw new UsageError(`--${name} must be at least 1s`);
  return ms;
}

/** `30s`, `500ms`, `2m`, `1h`, or a plain number of seconds → milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new UsageError(`not a duration: ${JSON.stringify(text)} (try 30s, 2m, 500ms)`);
  const unit = (match[2] ?? "s") as keyof typeof UNIT_MS;
  return Math.round(Number(match[1]) * UNIT_MS[unit]);
}

/** Parses the arguments after the program name; throws UsageError on anything invalid. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    // node:util parseArgs throws TypeErrors (ERR_PARSE_ARGS_*) for unknown or malformed options.
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  const [command, ...extra] = positionals;
  if (command !== "beat") {
    throw new UsageError(command ? `unknown command: ${command}` : "missing command: beat");
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);

  if (!values.url) throw new UsageError("--url is required");
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError("--url must be http or https");
  }
  if (!values.chat) throw new UsageError("--chat is required");
  if (!UUID.test(values.chat)) throw new UsageError(`--chat is not a UUID: ${values.chat}`);

  if ((values.token === undefined) === (values["token-cmd"] === undefined)) {
    throw new UsageError("pass exactly one of --token and --token-cmd");
  }
  const token =
    values.token !== undefined
      ? ({ kind: "literal", value: values.token } as const)
      : ({ kind: "command", command: values["token-cmd"] as string } as const);
  if ((token.kind === "literal" ? token.value : token.command).trim() === "") {
    throw new UsageError(token.kind === "literal" ? "--token is empty" : "--token-cmd is empty");
  }

  const intervalMs = intervalFlag("interval", values.interval ?? "30s");
  const minText = values["min-interval"] ?? DEFAULT_MIN_INTERVAL;
  const maxText = values["max-interval"] ?? DEFAULT_MAX_INTERVAL;
  const minIntervalMs = intervalFlag("min-interval", minText);
  const maxIntervalMs = intervalFlag("max-interval", maxText);
  if (minIntervalMs > maxIntervalMs) {
    const given = (flag: string, text: string | undefined, fallback: string): string =>
      `--${flag} ${text ?? `${fallback} (default)`}`;
    throw new UsageError(
      `${given("min-interval", values["min-interval"], DEFAULT_MIN_INTERVAL)} exceeds ${given("max-interval", values["max-interval"], DEFAULT_MAX_INTERVAL)}`,
    );
  }

  return {
    kind: "beat",
    baseUrl: values.url,
    chatId: values.chat,
    token,
    intervalMs,
    minIntervalMs,
    maxIntervalMs,
    once: values.once ?? false,
  };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      chat: { type: "string" },
      token: { type: "string" },
      "token-cmd": { type: "string" },
      interval: { type: "string" },
      "min-interval": { type: "string" },
      "max-interval": { type: "string" },
      once: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/**
 * One stdout line per outcome: `<now> <outcome> deadline=<iso|none> next=<iso|none>`, `next` being
 * when the next beat will be sent (none with `--once`).
 */
export function formatOutcomeLine(
  at: Date,
  response: HeartbeatResponse,
  nextBeatAt: Date | null,
): string {
  const next = nextBeatAt?.toISOString() ?? "none";
  return `${at.toISOString()} ${response.outcome} deadline=${response.deadline ?? "none"} next=${next}`;
}

/** One stderr line per failed attempt, saying whether and when it is retried. */
export function formatErrorLine(at: Date, error: HeartbeatError): string {
  const fields = [`${at.toISOString()} error`];
  if (error.status !== undefined) fields.push(`status=${error.status}`);
  fields.push(`code=${error.code ?? error.kind}`);
  if (error.requestId) fields.push(`request_id=${error.requestId}`);
  fields.push(
    error.retryInMs === null ? "giving_up" : `retry_in=${(error.retryInMs / 1000).toFixed(1)}s`,
  );
  fields.push(`message=${JSON.stringify(error.message)}`);
  return fields.join(" ");
}

export function exitCodeFor(reason: StopReason): number {
  switch (reason) {
    case "stopped":
    case "aborted":
    case "completed":
      return EXIT_CODES.ok;
    case "unauthorized":
      return EXIT_CODES.unauthorized;
    case "forbidden":
    case "not_found":
      return EXIT_CODES.forbiddenOrNotFound;
    case "bad_request":
      return EXIT_CODES.badRequest;
    case "unavailable":
      return EXIT_CODES.unavailable;
  }
}

/** Runs a shell command and returns what it printed on stdout. */
export type CommandRunner = (command: string) => Promise<string>;

const runShellCommand: CommandRunner = async (command) => {
  const { stdout } = await promisify(exec)(command, { timeout: 30_000, maxBuffer: 64 * 1024 });
  return stdout;
};

/** A token provider that runs `command` once, caches its output and re-runs it after a 401. */
export function commandTokenProvider(
  command: string,
  run: CommandRunner = runShellCommand,
): TokenProvider {
  let cached: string | undefined;
  return async ({ forceRefresh }) => {
    if (cached === undefined || forceRefresh) {
      const token = (await run(command)).trim();
      if (token === "") throw new Error("--token-cmd printed nothing");
      cached = token;
    }
    return cached;
  };
}

export interface CliDependencies {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Aborting it (SIGINT/SIGTERM in main) stops cleanly with exit code 0. */
  signal?: AbortSignal;
  fetch?: FetchLike;
  clock?: Clock;
  random?: () => number;
  runCommand?: CommandRunner;
}

/** The whole CLI minus the process: returns the exit code. */
export async function runCli(argv: readonly string[], deps: CliDependencies): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    deps.stderr(`chat-heartbeat: ${error.message}`);
    deps.stderr(USAGE);
    return EXIT_CODES.usage;
  }
  if (command.kind === "help") {
    deps.stdout(USAGE);
    return EXIT_CODES.ok;
  }
  const now = (): Date => new Date(deps.clock?.now() ?? Date.now());
  const credentials =
    command.token.kind === "literal"
      ? { token: command.token.value }
      : { getToken: commandTokenProvider(command.token.command, deps.runCommand) };
  const heartbeat = startHeartbeat({
    ...credentials,
    baseUrl: command.baseUrl,
    chatId: command.chatId,
    intervalMs: command.intervalMs,
    minIntervalMs: command.minIntervalMs,
    maxIntervalMs: command.maxIntervalMs,
    once: command.once,
    maxRetries: command.once ? ONCE_MAX_RETRIES : undefined,
    signal: deps.signal,
    fetch: deps.fetch,
    clock: deps.clock,
    random: deps.random,
    onOutcome: (response, schedule) =>
      deps.stdout(formatOutcomeLine(now(), response, schedule.nextBeatAt)),
    onError: (error) => deps.stderr(formatErrorLine(now(), error)),
  });
  const reason = await heartbeat.stopped;
  const exitCode = exitCodeFor(reason);
  if (exitCode !== EXIT_CODES.ok) deps.stderr(`${now().toISOString()} stopped reason=${reason}`);
  return exitCode;
}

async function main(): Promise<void> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    process.exitCode = await runCli(process.argv.slice(2), {
      stdout: (line) => process.stdout.write(`${line}\n`),
      stderr: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** True when this file is the program being run (`tsx client/src/cli.ts`, a bin link), not imported. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await main();
