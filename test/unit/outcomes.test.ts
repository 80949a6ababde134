import { describe, expect, expectTypeOf, it } from "vitest";
import {
  HEARTBEAT_OUTCOMES as CLIENT_OUTCOMES,
  type HeartbeatResponse as ClientHeartbeatResponse,
} from "../../client/src/index.ts";
import type { HeartbeatResponse } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";

/**
 * The client is dependency-free and keeps its own copy of the outcome list (it parses 200 bodies
 * with it); the server's list is the one the statement, the reporter and the metrics use. An outcome
 * added on one side only would make the client refuse a valid response, or never see one.
 */
describe("one outcome vocabulary, server and client", () => {
  it("the client knows exactly the server's outcomes", () => {
    expect([...CLIENT_OUTCOMES].sort()).toEqual([...HEARTBEAT_OUTCOMES].sort());
    expect(new Set(CLIENT_OUTCOMES).size).toBe(CLIENT_OUTCOMES.length);
  });

  it("every response the server sends is one the client's type describes", () => {
    // Checked by `npm run typecheck`; the server's hint is always present, the client's optional.
    expectTypeOf<HeartbeatResponse>().toExtend<ClientHeartbeatResponse>();
  });
});
