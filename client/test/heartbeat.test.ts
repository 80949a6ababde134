import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  fullJitterBackoff,
  type HeartbeatOptions,
  jitteredInterval,
  parseHeartbeatResponse,
  parseRetryAfter,
  startHeartbeat,
} from "../src/index.ts";
import { apiError, CHAT_ID, FakeApi, FakeClock, heartbeatBody, ok, settle } from "./fakes.ts";
import { BASE_URL, harness, INTERVAL_MS } from "./harness.ts";

describe("jitteredInterval", () => {
  it("stays within ±10 % of the interval for any draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (intervalMs, draw) => {
          const delay = jitteredInterval(intervalMs, () => draw);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(intervalMs * 0.9));
          expect(delay).toBeLessThanOrEqual(Math.ceil(intervalMs * 1.1));
        },
      ),
    );
  });

  it("spreads many real beats across the ±10 % band", async () => {
    const { clock, handle } = harness([], { random: Math.random });
    const delays: number[] = [];
    for (let beat = 0; beat < 300; beat++) {
      const delay = await clock.runNext();
      if (delay === undefined) throw new Error("no beat scheduled");
      delays.push(delay);
    }
    await handle.stop();
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(INTERVAL_MS * 0.9);
      expect(delay).toBeLessThanOrEqual(INTERVAL_MS * 1.1);
    }
    // Jitter that never moves is no jitter: draws land on both sides of the nominal interval.
    expect(Math.min(...delays)).toBeLessThan(INTERVAL_MS * 0.97);
    expect(Math.max(...delays)).toBeGreaterThan(INTERVAL_MS * 1.03);
  });
});

describe("fullJitterBackoff", () => {
  it("is below min(cap, base·2^attempt) and never negative", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, draw) => {
          const delay = fullJitterBackoff(attempt, () => draw, 1_000, 300_000);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(Math.min(300_000, 1_000 * 2 ** attempt));
        },
      ),
    );
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-25T10:00:00.000Z");

  it("reads delay-seconds", () => {
    expect(parseRetryAfter("15", now)).toBe(15_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  it("reads an HTTP-date relative to now, a past date meaning now", () => {
    expect(parseRetryAfter("Wed, 25 Nov 2026 10:00:42 GMT", now)).toBe(42_000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 09:59:00 GMT", now)).toBe(0);
  });

  it("ignores absent or garbage values", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
  });
});

describe("parseHeartbeatResponse", () => {
  it("accepts the docs/api.md body with null times", () => {
    const body = heartbeatBody({ workspaceId: null, outcome: "no_workspace", deadline: null });
    expect(parseHeartbeatResponse(JSON.stringify(body))).toEqual(body);
  });

  it.each([
    ["not JSON", "<html>"],
    ["an array", "[]"],
    ["no chatId", JSON.stringify(heartbeatBody({ chatId: undefined }))],
    ["an unknown outcome", JSON.stringify(heartbeatBody({ outcome: "exploded" }))],
    ["a non-time deadline", JSON.stringify(heartbeatBody({ deadline: "tomorrow" }))],
    ["a numeric workspaceId", JSON.stringify(heartbeatBody({ workspaceId: 7 }))],
  ])("rejects %s", (_name, text) => {
    expect(() => parseHeartbeatResponse(text)).toThrow(TypeError);
  });
});

describe("startHeartbeat", () => {
  it("beats at once, posting to the chat's heartbeat path with the bearer token", async () => {
    const { api, outcomes, handle } = harness();
    await settle();
    expect(api.calls).toHaveLength(1);
    const [call] = api.calls;
    expect(call?.url).toBe(`https://api.example.test/prod/chats/${CHAT_ID}/heartbeat`);
    expect(call?.method).toBe("POST");
    expect(call?.authorization).toBe("Bearer token-1");
    expect(call?.body).toBe("{}");
    expect(outcomes).toHaveLength(1);
    await handle.stop();
  });

  it("exposes the latest outcome and deadline", async () => {
    const { clock, outcomes, handle } = harness([
      ok({ outcome: "bumped", deadline: "2026-11-25T11:00:00.000Z" }),
      ok({ outcome: "no_autostop", deadline: null }),
    ]);
    expect(handle.lastOutcome).toBeUndefined();
    await settle();
    expect(handle.lastOutcome).toBe("bumped");
    expect(handle.lastDeadline?.toISOString()).toBe("2026-11-25T11:00:00.000Z");
    expect(outcomes[0]).toEqual(heartbeatBody({ deadline: "2026-11-25T11:00:00.000Z" }));
    await clock.runNext();
    expect(handle.lastOutcome).toBe("no_autostop");
    expect(handle.lastDeadline).toBeNull();
    expect(handle.lastResponse?.deadline).toBeNull();
    await handle.stop();
  });

  it("backs off exponentially up to the cap, and starts over after a success", async () => {
    const unavailable = () => apiError(500, "internal");
    const { clock, api, errors, handle } = harness(
      [...Array.from({ length: 6 }, unavailable), ok(), unavailable(), unavailable()],
      { backoff: { baseMs: 1_000, capMs: 8_000 } },
    );
    const delays: number[] = [];
    for (let step = 0; step < 9; step++) delays.push((await clock.runNext()) ?? -1);
    // random() = 0.5: half of min(cap, base·2^n); then the plain interval; then back to the base.
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000, INTERVAL_MS, 500, 1_000]);
    expect(api.calls).toHaveLength(10);
    expect(errors.map((error) => error.retryInMs)).toEqual([
      500, 1_000, 2_000, 4_000, 4_000, 4_000, 500, 1_000,
    ]);
    expect(errors[0]).toMatchObject({ kind: "http", status: 500, code: "internal" });
    await handle.stop();
  });

  it("waits the Retry-After seconds of a 503", async () => {
    const { clock, api, errors, handle } = harness(
      [apiError(503, "unavailable", { "Retry-After": "15" })],
      { random: () => 0 },
    );
    await settle();
    expect(clock.pendingDelays()).toEqual([15_000]);
    expect(errors[0]).toMatchObject({ status: 503, code: "unavailable", retryInMs: 15_000 });
    await clock.advance(14_999);
    expect(api.calls).toHaveLength(1);
    await clock.advance(1);
    expect(api.calls).toHaveLength(2);
    await handle.stop();
  });

  it("waits until the Retry-After HTTP-date of a 429", async () => {
    const clock = new FakeClock();
    const retryAt = new Date(clock.now() + 20_000).toUTCString();
    const api = new FakeApi().reply(apiError(429, "throttled", { "Retry-After": retryAt }));
    const handle = startHeartbeat({
      baseUrl: BASE_URL,
      chatId: CHAT_ID,
      token: "token-1",
      fetch: api.fetch,
      clock,
      random: () => 0,
      onOutcome: () => {},
    });
    await settle();
    expect(clock.pendingDelays()).toEqual([20_000]);
    await handle.stop();
  });

  it("never waits less than its own backoff, nor longer than the cap, for a Retry-After", async () => {
    const { clock, handle } = harness(
      [
        apiError(503, "unavailable", { "Retry-After": "1" }),
        apiError(503, "unavailable", { "Retry-After": "86400" }),
      ],
      { random: () => 0.999, backoff: { baseMs: 4_000, capMs: 60_000 } },
    );
    await settle();
    expect(clock.pendingDelays()).toEqual([3_996]);
    await clock.runNext();
    expect(clock.pendingDelays()).toEqual([60_000]);
    await handle.stop();
  });

  it("refreshes the token once on a 401 and retries at once", async () => {
    const getToken = vi.fn(({ forceRefresh }: { forceRefresh: boolean }) =>
      forceRefresh ? "fresh" : "stale",
    );
    const { api, errors, outcomes, handle } = harness([apiError(401, "invalid_token"), ok()], {
      getToken,
    });
    await settle();
    expect(api.calls.map((call) => call.authorization)).toEqual(["Bearer stale", "Bearer fresh"]);
    expect(getToken.mock.calls.map(([request]) => request.forceRefresh)).toEqual([false, true]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 401, code: "invalid_token", retryInMs: 0 });
    expect(outcomes).toHaveLength(1);
    expect(handle.lastOutcome).toBe("bumped");
    await handle.stop();
    expect(await handle.stopped).toBe("stopped");
  });

  it("refreshes only once when the retry after a 401 fails for another reason", async () => {
    const getToken = vi.fn(({ forceRefresh }: { forceRefresh: boolean }) =>
      forceRefresh ? "fresh" : "cached",
    );
    const { clock, api, handle } = harness(
      [apiError(401, "invalid_token"), apiError(503, "unavailable"), ok()],
      { getToken },
    );
    await clock.runNext();
    expect(getToken.mock.calls.map(([request]) => request.forceRefresh)).toEqual([
      false,
      true,
      false,
    ]);
    expect(api.calls).toHaveLength(3);
    expect(handle.lastOutcome).toBe("bumped");
    await handle.stop();
  });

  it("retries with backoff when the token provider fails, asking again for a refresh", async () => {
    let calls = 0;
    const getToken = vi.fn(({ forceRefresh }: { forceRefresh: boolean }) => {
      calls += 1;
      if (calls === 2) throw new Error("identity provider down");
      return forceRefresh ? "fresh" : "stale";
    });
    const { clock, api, errors, handle } = harness([apiError(401, "invalid_token"), ok()], {
      getToken,
    });
    await settle();
    expect(errors.map((error) => [error.kind, error.retryInMs])).toEqual([
      ["http", 0],
      ["token", 500],
    ]);
    await clock.runNext();
    expect(getToken.mock.calls.map(([request]) => request.forceRefresh)).toEqual([
      false,
      true,
      true,
    ]);
    expect(api.calls.map((call) => call.authorization)).toEqual(["Bearer stale", "Bearer fresh"]);
    await handle.stop();
  });

  it("stops as unauthorized on a second 401 in a row", async () => {
    const getToken = vi.fn(() => "rejected");
    const { clock, api, errors, handle } = harness(
      [apiError(401, "invalid_token"), apiError(401, "invalid_token")],
      { getToken },
    );
    expect(await handle.stopped).toBe("unauthorized");
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(errors.map((error) => error.retryInMs)).toEqual([0, null]);
    await clock.advance(10 * INTERVAL_MS);
    expect(api.calls).toHaveLength(2);
  });

  it("stops as unauthorized on the first 401 when the token is fixed", async () => {
    const { api, handle } = harness([apiError(401, "invalid_token")]);
    expect(await handle.stopped).toBe("unauthorized");
    expect(api.calls).toHaveLength(1);
  });

  it.each([
    [403, "insufficient_scope", "forbidden"],
    [404, "not_found", "not_found"],
    [400, "invalid_request", "bad_request"],
    [413, "payload_too_large", "bad_request"],
  ] as const)("stops on %i (%s) with reason %s", async (status, code, reason) => {
    const { clock, api, errors, handle } = harness([apiError(status, code)]);
    expect(await handle.stopped).toBe(reason);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status, code, requestId: "req-123", retryInMs: null });
    expect(errors[0]?.message).toBe(`${code} happened`);
    await clock.advance(10 * INTERVAL_MS);
    expect(api.calls).toHaveLength(1);
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("treats a malformed 200 as a failure and retries it", async () => {
    const { clock, api, errors, outcomes, handle } = harness([
      Response.json({ outcome: "bumped" }),
    ]);
    await settle();
    expect(outcomes).toHaveLength(0);
    expect(errors[0]).toMatchObject({ kind: "malformed_response", status: 200, retryInMs: 500 });
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    expect(outcomes).toHaveLength(1);
    await handle.stop();
  });

  it("retries network errors and gives up after maxRetries as unavailable", async () => {
    const { errors, api, clock, handle } = harness(
      [new TypeError("fetch failed"), new TypeError("fetch failed"), new TypeError("fetch failed")],
      { maxRetries: 2 },
    );
    while ((await clock.runNext()) !== undefined);
    expect(await handle.stopped).toBe("unavailable");
    expect(api.calls).toHaveLength(3);
    expect(errors.map((error) => error.kind)).toEqual(["network", "network", "network"]);
    expect(errors.at(-1)?.retryInMs).toBeNull();
  });

  it("waits on the clock even when the backoff draw is 0 ms", async () => {
    const { clock, api, handle } = harness([new TypeError("fetch failed")], { random: () => 0 });
    await settle();
    expect(api.calls).toHaveLength(1);
    expect(clock.pendingDelays()).toEqual([0]);
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    await handle.stop();
  });

  it("stops as completed after one success when once is set", async () => {
    const { clock, api, handle } = harness([apiError(503, "unavailable")], { once: true });
    await clock.runNext();
    expect(await handle.stopped).toBe("completed");
    expect(api.calls).toHaveLength(2);
  });

  it("never has two requests in flight while a slow request spans many intervals", async () => {
    const { clock, api, handle } = harness([ok(), "hang"], { requestTimeoutMs: 10 * INTERVAL_MS });
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    await clock.advance(8 * INTERVAL_MS);
    expect(api.calls).toHaveLength(2);
    api.release(ok({ outcome: "not_due" }));
    await settle();
    expect(handle.lastOutcome).toBe("not_due");
    expect(clock.pendingDelays()).toEqual([INTERVAL_MS]);
    await clock.runNext();
    expect(api.calls).toHaveLength(3);
    expect(api.maxInFlight).toBe(1);
    await handle.stop();
  });

  it("aborts a request that outlives requestTimeoutMs before retrying it", async () => {
    const { clock, api, errors, handle } = harness(["hang", ok()], { requestTimeoutMs: 5_000 });
    await clock.advance(5_000);
    expect(api.calls[0]?.signal.aborted).toBe(true);
    expect(errors[0]).toMatchObject({ kind: "timeout", retryInMs: 500 });
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    expect(api.maxInFlight).toBe(1);
    expect(handle.lastOutcome).toBe("bumped");
    await handle.stop();
  });

  it("stop() cancels the request in flight and the timer", async () => {
    const { clock, api, errors, handle } = harness(["hang"]);
    await settle();
    expect(api.inFlight).toBe(1);
    await handle.stop();
    expect(await handle.stopped).toBe("stopped");
    expect(api.calls[0]?.signal.aborted).toBe(true);
    expect(api.calls[0]?.settled).toBe(true);
    expect(errors).toEqual([]);
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("stop() while waiting clears the pending beat", async () => {
    const { clock, api, handle } = harness();
    await settle();
    expect(clock.pendingDelays()).toEqual([INTERVAL_MS]);
    await handle.stop();
    expect(clock.pendingDelays()).toEqual([]);
    await clock.advance(10 * INTERVAL_MS);
    expect(api.calls).toHaveLength(1);
  });

  it("an aborted signal cancels the request in flight", async () => {
    const controller = new AbortController();
    const { clock, api, handle } = harness(["hang"], { signal: controller.signal });
    await settle();
    controller.abort();
    expect(await handle.stopped).toBe("aborted");
    expect(api.calls[0]?.signal.aborted).toBe(true);
    await clock.advance(10 * INTERVAL_MS);
    expect(api.calls).toHaveLength(1);
  });

  it("an already aborted signal sends nothing", async () => {
    const { api, handle } = harness([], { signal: AbortSignal.abort() });
    expect(await handle.stopped).toBe("aborted");
    expect(api.calls).toHaveLength(0);
  });

  it("a stop() during a slow token refresh ends the loop without sending", async () => {
    const getToken = vi.fn(() => new Promise<string>(() => {}));
    const { api, handle } = harness([], { getToken });
    await settle();
    await handle.stop();
    expect(await handle.stopped).toBe("stopped");
    expect(api.calls).toHaveLength(0);
  });

  it("keeps beating when onOutcome throws, reporting it", async () => {
    const { clock, api, errors, handle } = harness([], {
      onOutcome: () => {
        throw new Error("ui gone");
      },
    });
    await settle();
    expect(errors[0]).toMatchObject({ kind: "callback", retryInMs: INTERVAL_MS });
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    await handle.stop();
  });

  it("rejects invalid options", () => {
    const base = { baseUrl: BASE_URL, chatId: CHAT_ID, onOutcome: () => {} };
    expect(() => startHeartbeat({ ...base } as unknown as HeartbeatOptions)).toThrow(TypeError);
    expect(() =>
      startHeartbeat({ ...base, token: "t", getToken: () => "t" } as unknown as HeartbeatOptions),
    ).toThrow(TypeError);
    expect(() => startHeartbeat({ ...base, token: "t", intervalMs: 0 })).toThrow(RangeError);
  });
});
