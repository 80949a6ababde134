import { performance } from "node:perf_hooks";
import { heartbeatEvent } from "../../test/support/api-gateway-event.ts";
import { type BenchSettings, type BenchStack, log, type Stats, stats } from "../harness.ts";
import { BENCH_USER, seedChats } from "../seed.ts";
import { SECRET } from "../stack.ts";

export interface LatencyResult {
  /** Warm latency, handler → SDK → local Data API → PostgreSQL vs the same SQL over `pg`. */
  latency: { handler: Stats; floor: Stats };
  /** Token verify, event schema, scopes, JSON response: the handler's work around the call. */
  requestPathWithoutDatabase: Stats;
}

export interface LatencyMeasurement {
  result: LatencyResult;
  /** The raw samples, for the histogram (not in latest.json). */
  handlerSamples: number[];
  floorSamples: number[];
  /** The not_due chats it seeded; the database ceiling's EXPLAIN runs on them. */
  latencyChats: string[];
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** 1. warm latency: handler + SDK + local Data API + PostgreSQL vs the raw pg floor, interleaved. */
export async function measureLatency(
  stack: BenchStack,
  settings: BenchSettings,
): Promise<LatencyMeasurement> {
  const { pool, statement, statementValues, beatViaHandler, token } = stack;
  log("1/6 latency vs floor");
  // The common path (not_due: only the outcome counter is written), so A and B do the same work.
  const latencyChats = await seedChats(pool, 2_000, { kind: "not_due" });
  const floorClient = await pool.connect();
  const viaFloor = (chatId: string) => floorClient.query(statement.text, statementValues(chatId));
  for (let i = 0; i < 200; i++) {
    await beatViaHandler(latencyChats[i % latencyChats.length] as string);
    await viaFloor(latencyChats[(i + 1000) % latencyChats.length] as string);
  }
  const handlerSamples: number[] = [];
  const floorSamples: number[] = [];
  for (let i = 0; i < settings.latencyIterations; i++) {
    const chat = latencyChats[i % latencyChats.length] as string;
    // Alternate which goes first, so drift and cache effects fall on both alike.
    if (i % 2 === 0) {
      handlerSamples.push(await timed(() => beatViaHandler(chat)));
      floorSamples.push(await timed(() => viaFloor(chat)));
    } else {
      floorSamples.push(await timed(() => viaFloor(chat)));
      handlerSamples.push(await timed(() => beatViaHandler(chat)));
    }
  }
  floorClient.release();
  const latency = { handler: stats(handlerSamples), floor: stats(floorSamples) };

  // The request path without the database: what the handler does around the Data API call — the
  // HMAC token verify, the event schema, scope checks, the JSON response — with a store that answers
  // at once. Not measured: middy's middlewares and the SDK call itself.
  const { createChatTokenVerifier } = await import("../../functions/heartbeat/auth/chat-token.ts");
  const { sharedSecretKey } = await import("../../functions/heartbeat/auth/keys.ts");
  const { recordChatHeartbeat } = await import(
    "../../functions/heartbeat/domain/record-heartbeat.ts"
  );
  const { HeartbeatEvent } = await import("../../functions/heartbeat/heartbeat-event.ts");
  const verifier = createChatTokenVerifier({
    keys: sharedSecretKey(SECRET),
    issuer: "chat-heartbeat-local",
    audience: "chat-heartbeat",
    algorithms: ["HS256"],
  });
  const answeringStore = {
    beat: async () => ({
      outcome: "not_due" as const,
      workspaceId: BENCH_USER,
      deadline: null,
      maxDeadline: null,
      lastUsedAt: null,
      nextHeartbeatSeconds: 180,
    }),
  };
  const overheadSamples: number[] = [];
  for (let i = 0; i < settings.latencyIterations; i++) {
    const event = heartbeatEvent({ chatId: latencyChats[0] as string, token });
    const started = performance.now();
    const parsed = HeartbeatEvent.parse({
      ...event,
      headers: Object.fromEntries(
        Object.entries(event.headers).map(([name, value]) => [name.toLowerCase(), value]),
      ),
    });
    const report = await recordChatHeartbeat(
      { chatId: parsed.pathParameters.chatId, authorization: parsed.headers.authorization },
      { verifier, store: answeringStore },
    );
    JSON.stringify(report);
    overheadSamples.push(performance.now() - started);
  }
  return {
    result: { latency, requestPathWithoutDatabase: stats(overheadSamples) },
    handlerSamples,
    floorSamples,
    latencyChats,
  };
}
