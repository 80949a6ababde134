import {
  type BeatSchedule,
  type HeartbeatError,
  type HeartbeatOptions,
  type HeartbeatResponse,
  startHeartbeat,
} from "../src/index.ts";
import { CHAT_ID, FakeApi, FakeClock, type Reply } from "./fakes.ts";

export const BASE_URL = "https://api.example.test/prod/";
export const INTERVAL_MS = 30_000;

type HeartbeatOptionsWithoutCredentials = Omit<HeartbeatOptions, "token" | "getToken">;

/** Starts a heartbeat against a FakeApi on a FakeClock, recording what the callbacks saw. */
export function harness(
  replies: Reply[] = [],
  overrides: Partial<HeartbeatOptionsWithoutCredentials> & {
    token?: string;
    getToken?: HeartbeatOptions["getToken"];
  } = {},
) {
  const clock = new FakeClock();
  const api = new FakeApi().reply(...replies);
  const outcomes: HeartbeatResponse[] = [];
  const schedules: BeatSchedule[] = [];
  const errors: HeartbeatError[] = [];
  const credentials = overrides.getToken
    ? { getToken: overrides.getToken }
    : { token: overrides.token ?? "token-1" };
  const handle = startHeartbeat({
    baseUrl: BASE_URL,
    chatId: CHAT_ID,
    intervalMs: INTERVAL_MS,
    fetch: api.fetch,
    clock,
    random: () => 0.5,
    onOutcome: (response, schedule) => {
      outcomes.push(response);
      schedules.push(schedule);
    },
    onError: (error) => errors.push(error),
    ...overrides,
    ...credentials,
  } as HeartbeatOptions);
  return { clock, api, outcomes, schedules, errors, handle };
}
