import type { Clock, FetchLike } from "../src/index.ts";

/** Lets every queued promise continuation run (one macrotask drains the whole microtask queue). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Timer {
  id: number;
  at: number;
  delayMs: number;
  callback: () => void;
}

/** A manual clock: time moves only when a test says so. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(start = Date.parse("2026-11-25T10:00:00.000Z")) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout = (callback: () => void, delayMs: number): unknown => {
    const id = this.#nextId++;
    const delay = Math.max(0, delayMs);
    this.#timers.set(id, { id, at: this.#now + delay, delayMs: delay, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  /** The delays pending timers were scheduled with, soonest first. */
  pendingDelays(): number[] {
    return this.#sorted().map((timer) => timer.delayMs);
  }

  /** Moves time forward by `ms`, firing (and settling after) every timer that comes due. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#sorted()[0];
      if (!next || next.at > target) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** Jumps to the soonest timer and fires it; returns the delay it was scheduled with. */
  async runNext(): Promise<number | undefined> {
    await settle();
    const next = this.#sorted()[0];
    if (!next) return undefined;
    await this.advance(next.at - this.#now);
    return next.delayMs;
  }

  #sorted(): Timer[] {
    return [...this.#timers.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  }
}

export interface RecordedCall {
  url: string;
  method: string | undefined;
  authorization: string | null;
  body: unknown;
  signal: AbortSignal;
  /** True once the request answered, failed or was aborted. */
  settled: boolean;
}

/** A reply: a response, a thrown error (network failure), or `hang` (answered later, or never). */
export type Reply = Response | Error | "hang";

/** A stand-in for the HTTP API that records requests and plays back scripted replies. */
export class FakeApi {
  readonly calls: RecordedCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #replies: Reply[] = [];
  readonly #hung: ((response: Response) => void)[] = [];

  constructor(private readonly fallback: () => Reply = () => ok()) {}

  /** Queues replies for the next requests; once used up, every request gets the fallback. */
  reply(...replies: Reply[]): this {
    this.#replies.push(...replies);
    return this;
  }

  /** Answers the oldest hung request. */
  release(response: Response = ok()): void {
    const resolve = this.#hung.shift();
    if (!resolve) throw new Error("no hung request to release");
    resolve(response);
  }

  readonly fetch: FetchLike = (url, init) => {
    const signal = init.signal as AbortSignal;
    const headers = new Headers(init.headers);
    const call: RecordedCall = {
      url,
      method: init.method,
      authorization: headers.get("authorization"),
      body: init.body,
      signal,
      settled: false,
    };
    this.calls.push(call);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const reply = this.#replies.shift() ?? this.fallback();
    const answer = new Promise<Response>((resolve, reject) => {
      // Like the real fetch: an aborted signal rejects with its reason.
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      if (reply === "hang") this.#hung.push(resolve);
      else if (reply instanceof Error) reject(reply);
      else resolve(reply);
    });
    return answer.finally(() => {
      call.settled = true;
      this.inFlight -= 1;
    });
  };
}

export const CHAT_ID = "6f1c1f0e-2b7a-4c55-9d8e-1a2b3c4d5e6f";
export const WORKSPACE_ID = "0b8f9a52-4d3e-4c1b-8a7f-9e6d5c4b3a21";

export function heartbeatBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    chatId: CHAT_ID,
    workspaceId: WORKSPACE_ID,
    outcome: "bumped",
    deadline: "2026-11-25T11:00:00.000Z",
    maxDeadline: "2026-11-26T10:00:00.000Z",
    lastUsedAt: "2026-11-25T10:00:00.000Z",
    ...overrides,
  };
}

/**
 * A 200. The body has no `nextHeartbeatSeconds` unless an override adds one: an older server, so
 * the loop keeps its fixed interval.
 */
export function ok(
  overrides: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return Response.json(heartbeatBody(overrides), { headers });
}

/** A docs/api.md error response. */
export function apiError(
  status: number,
  code: string,
  headers: Record<string, string> = {},
  requestId = "req-123",
): Response {
  return Response.json(
    { error: { code, message: `${code} happened` }, requestId },
    { status, headers },
  );
}
