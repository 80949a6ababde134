import { describe, expect, it, vi } from "vitest";
import {
  type CliDependencies,
  commandTokenProvider,
  EXIT_CODES,
  exitCodeFor,
  formatErrorLine,
  formatOutcomeLine,
  ONCE_MAX_RETRIES,
  parseCliArgs,
  parseDuration,
  runCli,
  UsageError,
} from "../src/cli.ts";
import { HeartbeatError, type StopReason } from "../src/index.ts";
import { apiError, CHAT_ID, FakeApi, FakeClock, heartbeatBody, ok, settle } from "./fakes.ts";

const URL_ARGS = ["--url", "http://127.0.0.1:3000", "--chat", CHAT_ID];

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["45", 45_000],
    ["1.5s", 1_500],
  ])("%s is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "abc", "10d", "-5s", "s"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
  });
});

describe("parseCliArgs", () => {
  it("reads a full beat command", () => {
    expect(
      parseCliArgs(["beat", ...URL_ARGS, "--token", "jwt", "--interval", "2m", "--once"]),
    ).toEqual({
      kind: "beat",
      baseUrl: "http://127.0.0.1:3000",
      chatId: CHAT_ID,
      token: { kind: "literal", value: "jwt" },
      intervalMs: 120_000,
      minIntervalMs: 15_000,
      maxIntervalMs: 300_000,
      once: true,
    });
  });

  it("defaults to a 30 s interval, hints bounded to [15 s, 5 min], and keeps beating", () => {
    const command = parseCliArgs(["beat", ...URL_ARGS, "--token-cmd", "npm run -s token"]);
    expect(command).toMatchObject({
      token: { kind: "command", command: "npm run -s token" },
      intervalMs: 30_000,
      minIntervalMs: 15_000,
      maxIntervalMs: 300_000,
      once: false,
    });
  });

  it("reads --min-interval and --max-interval with the --interval duration syntax", () => {
    const argv = ["beat", ...URL_ARGS, "--token", "t", "--min-interval", "1m", "--max-interval"];
    expect(parseCliArgs([...argv, "90"])).toMatchObject({
      minIntervalMs: 60_000,
      maxIntervalMs: 90_000,
    });
    // Equal bounds pin the pace; an --interval outside them is fine (it only serves hint-less servers).
    expect(parseCliArgs([...argv, "1m", "--interval", "10s"])).toMatchObject({
      intervalMs: 10_000,
      minIntervalMs: 60_000,
      maxIntervalMs: 60_000,
    });
  });

  it("answers --help without other arguments", () => {
    expect(parseCliArgs(["--help"])).toEqual({ kind: "help" });
    expect(parseCliArgs(["beat", "-h"])).toEqual({ kind: "help" });
  });

  it.each([
    ["no command", [...URL_ARGS, "--token", "t"], /missing command/],
    ["an unknown command", ["bump", ...URL_ARGS, "--token", "t"], /unknown command: bump/],
    ["a stray argument", ["beat", "now", ...URL_ARGS, "--token", "t"], /unexpected argument/],
    ["no --url", ["beat", "--chat", CHAT_ID, "--token", "t"], /--url is required/],
    ["a bad --url", ["beat", "--url", "nope", "--chat", CHAT_ID, "--token", "t"], /not a URL/],
    [
      "a non-http --url",
      ["beat", "--url", "ftp://x", "--chat", CHAT_ID, "--token", "t"],
      /http or https/,
    ],
    ["no --chat", ["beat", "--url", "http://x", "--token", "t"], /--chat is required/],
    [
      "a non-UUID --chat",
      ["beat", "--url", "http://x", "--chat", "42", "--token", "t"],
      /not a UUID/,
    ],
    ["no token", ["beat", ...URL_ARGS], /exactly one of --token and --token-cmd/],
    [
      "both tokens",
      ["beat", ...URL_ARGS, "--token", "t", "--token-cmd", "echo t"],
      /exactly one of --token and --token-cmd/,
    ],
    ["an empty token", ["beat", ...URL_ARGS, "--token", " "], /--token is empty/],
    ["a too short interval", ["beat", ...URL_ARGS, "--token", "t", "--interval", "500ms"], /1s/],
    [
      "a too short --min-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--min-interval", "500ms"],
      /--min-interval must be at least 1s/,
    ],
    [
      "a too short --max-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--max-interval", "0"],
      /--max-interval must be at least 1s/,
    ],
    [
      "a malformed --max-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--max-interval", "5 minutes"],
      /--max-interval: not a duration/,
    ],
    [
      "--min-interval above --max-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--min-interval", "2m", "--max-interval", "1m"],
      /--min-interval 2m exceeds --max-interval 1m$/,
    ],
    [
      "--min-interval above the default --max-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--min-interval", "10m"],
      /--min-interval 10m exceeds --max-interval 5m \(default\)$/,
    ],
    [
      "--max-interval below the default --min-interval",
      ["beat", ...URL_ARGS, "--token", "t", "--max-interval", "10s"],
      /--min-interval 15s \(default\) exceeds --max-interval 10s$/,
    ],
    ["an unknown option", ["beat", ...URL_ARGS, "--token", "t", "--forever"], /--forever/],
    ["an option without value", ["beat", ...URL_ARGS, "--token"], /--token/],
  ])("rejects %s", (_name, argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe("output", () => {
  const at = new Date("2026-11-25T10:00:00.000Z");

  it("prints one line per outcome, with the next beat time", () => {
    const response = heartbeatBody({ deadline: "2026-11-25T11:00:00.000Z" });
    const next = new Date("2026-11-25T10:03:00.000Z");
    expect(formatOutcomeLine(at, response as never, next)).toBe(
      "2026-11-25T10:00:00.000Z bumped deadline=2026-11-25T11:00:00.000Z next=2026-11-25T10:03:00.000Z",
    );
    const idle = heartbeatBody({ outcome: "chat_idle", deadline: null });
    expect(formatOutcomeLine(at, idle as never, null)).toBe(
      "2026-11-25T10:00:00.000Z chat_idle deadline=none next=none",
    );
  });

  it("prints errors with status, code, request id and what happens next", () => {
    const retried = new HeartbeatError(
      {
        kind: "http",
        status: 503,
        code: "unavailable",
        requestId: "abc",
        message: "the database is resuming",
      },
      15_000,
    );
    expect(formatErrorLine(at, retried)).toBe(
      '2026-11-25T10:00:00.000Z error status=503 code=unavailable request_id=abc retry_in=15.0s message="the database is resuming"',
    );
    const final = new HeartbeatError({ kind: "network", message: "fetch failed" }, null);
    expect(formatErrorLine(at, final)).toBe(
      '2026-11-25T10:00:00.000Z error code=network giving_up message="fetch failed"',
    );
  });

  it.each([
    ["stopped", 0],
    ["aborted", 0],
    ["completed", 0],
    ["unauthorized", 2],
    ["forbidden", 3],
    ["not_found", 3],
    ["bad_request", 4],
    ["unavailable", 5],
  ] as [StopReason, number][])("exits %s with %i", (reason, code) => {
    expect(exitCodeFor(reason)).toBe(code);
  });
});

describe("commandTokenProvider", () => {
  it("runs the command once, then again only when asked to refresh", async () => {
    let issued = 0;
    const run = vi.fn(async () => `token-${++issued}\n`);
    const provider = commandTokenProvider("print-token", run);
    expect(await provider({ forceRefresh: false })).toBe("token-1");
    expect(await provider({ forceRefresh: false })).toBe("token-1");
    expect(await provider({ forceRefresh: true })).toBe("token-2");
    expect(run).toHaveBeenCalledTimes(2);
    expect(run).toHaveBeenCalledWith("print-token");
  });

  it("fails when the command prints nothing", async () => {
    const provider = commandTokenProvider("true", async () => "  \n");
    await expect(provider({ forceRefresh: false })).rejects.toThrow(/printed nothing/);
  });
});

describe("runCli", () => {
  function cli(api: FakeApi, overrides: Partial<CliDependencies> = {}) {
    const clock = new FakeClock();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const deps: CliDependencies = {
      stdout: (line) => stdout.push(line),
      stderr: (line) => stderr.push(line),
      fetch: api.fetch,
      clock,
      random: () => 0.5,
      ...overrides,
    };
    return { clock, stdout, stderr, deps };
  }

  /** Runs the CLI to completion, moving the fake clock whenever it waits. */
  async function drive(clock: FakeClock, run: Promise<number>): Promise<number> {
    let exitCode: number | undefined;
    run.then((code) => {
      exitCode = code;
    });
    while (exitCode === undefined) {
      await settle();
      if (exitCode === undefined && (await clock.runNext()) === undefined) await settle();
    }
    return exitCode;
  }

  it("--once prints the outcome and exits 0", async () => {
    const api = new FakeApi().reply(ok());
    const { clock, stdout, stderr, deps } = cli(api);
    const exitCode = await drive(
      clock,
      runCli(["beat", ...URL_ARGS, "--token", "t", "--once"], deps),
    );
    expect(exitCode).toBe(0);
    expect(stdout).toEqual([
      "2026-11-25T10:00:00.000Z bumped deadline=2026-11-25T11:00:00.000Z next=none",
    ]);
    expect(stderr).toEqual([]);
    expect(api.calls).toHaveLength(1);
  });

  it("--once retries a resuming database, then exits 5", async () => {
    const api = new FakeApi(() => apiError(503, "unavailable", { "Retry-After": "15" }));
    const { clock, stdout, stderr, deps } = cli(api);
    const exitCode = await drive(
      clock,
      runCli(["beat", ...URL_ARGS, "--token", "t", "--once"], deps),
    );
    expect(exitCode).toBe(EXIT_CODES.unavailable);
    expect(api.calls).toHaveLength(ONCE_MAX_RETRIES + 1);
    expect(stdout).toEqual([]);
    expect(stderr.at(-1)).toMatch(/stopped reason=unavailable$/);
    expect(stderr[0]).toMatch(/status=503 code=unavailable .*retry_in=15\.0s/);
  });

  it("exits 3 on 403 and 2 on a second 401", async () => {
    const forbidden = cli(new FakeApi().reply(apiError(403, "insufficient_scope")));
    expect(await runCli(["beat", ...URL_ARGS, "--token", "t"], forbidden.deps)).toBe(3);

    const run = vi.fn(async () => "t");
    const api = new FakeApi(() => apiError(401, "invalid_token"));
    const unauthorized = cli(api, { runCommand: run });
    const argv = ["beat", ...URL_ARGS, "--token-cmd", "print-token"];
    expect(await runCli(argv, unauthorized.deps)).toBe(2);
    // The token command ran for the first request and once more to refresh after the 401.
    expect(run).toHaveBeenCalledTimes(2);
    expect(api.calls).toHaveLength(2);
  });

  it("keeps beating until its signal fires, then exits 0", async () => {
    const api = new FakeApi();
    const controller = new AbortController();
    const { clock, stdout, deps } = cli(api, { signal: controller.signal });
    const run = runCli(["beat", ...URL_ARGS, "--token", "t", "--interval", "10s"], deps);
    await settle();
    await clock.advance(20_000);
    controller.abort();
    expect(await run).toBe(0);
    expect(stdout).toHaveLength(3);
  });

  it("prints when the next beat goes out, following the server's hint", async () => {
    const api = new FakeApi().reply(
      ok({ nextHeartbeatSeconds: 180 }),
      ok({ outcome: "not_due" }, { "X-Poll-Interval": "60" }),
      ok({ outcome: "not_due" }),
    );
    const controller = new AbortController();
    const { clock, stdout, deps } = cli(api, { signal: controller.signal, random: () => 0 });
    const run = runCli(["beat", ...URL_ARGS, "--token", "t"], deps);
    await settle();
    await clock.runNext();
    await clock.runNext();
    controller.abort();
    expect(await run).toBe(0);
    expect(stdout).toEqual([
      "2026-11-25T10:00:00.000Z bumped deadline=2026-11-25T11:00:00.000Z next=2026-11-25T10:03:00.000Z",
      "2026-11-25T10:03:00.000Z not_due deadline=2026-11-25T11:00:00.000Z next=2026-11-25T10:04:00.000Z",
      // No hint (an older server): the 30 s --interval.
      "2026-11-25T10:04:00.000Z not_due deadline=2026-11-25T11:00:00.000Z next=2026-11-25T10:04:27.000Z",
    ]);
  });

  it("bounds the hint by --min-interval and --max-interval", async () => {
    const api = new FakeApi().reply(
      ok({ nextHeartbeatSeconds: 300 }),
      ok({ outcome: "chat_idle", nextHeartbeatSeconds: 15 }),
    );
    const controller = new AbortController();
    const { clock, stdout, deps } = cli(api, { signal: controller.signal, random: () => 0 });
    const argv = ["beat", ...URL_ARGS, "--token", "t", "--min-interval", "1m", "--max-interval"];
    const run = runCli([...argv, "2m"], deps);
    await settle();
    await clock.runNext();
    controller.abort();
    expect(await run).toBe(0);
    expect(stdout.map((line) => line.split(" next=")[1])).toEqual([
      "2026-11-25T10:02:00.000Z",
      "2026-11-25T10:03:00.000Z",
    ]);
  });

  it("prints usage and exits 1 on bad arguments", async () => {
    const { stderr, deps } = cli(new FakeApi());
    expect(await runCli(["beat", "--chat", CHAT_ID], deps)).toBe(EXIT_CODES.usage);
    expect(stderr[0]).toBe("chat-heartbeat: --url is required");
    expect(stderr[1]).toMatch(/^Usage: chat-heartbeat beat/);
  });

  it("prints usage on stdout for --help", async () => {
    const { stdout, deps } = cli(new FakeApi());
    expect(await runCli(["--help"], deps)).toBe(0);
    expect(stdout[0]).toMatch(/^Usage:/);
  });
});
