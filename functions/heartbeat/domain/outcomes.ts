/** Every outcome of an accepted heartbeat (docs/heartbeat.md), in the order the statement decides them. */
export const HEARTBEAT_OUTCOMES = [
  "chat_archived",
  "no_workspace",
  "chat_idle",
  "dormant",
  "not_running",
  "bump_disabled",
  "no_autostop",
  "not_due",
  "at_max_deadline",
  "bumped",
] as const;

export type HeartbeatOutcome = (typeof HEARTBEAT_OUTCOMES)[number];

/** What one accepted heartbeat did, as the HTTP API returns it (docs/api.md). */
export interface HeartbeatReport {
  chatId: string;
  workspaceId: string | null;
  outcome: HeartbeatOutcome;
  /** ISO-8601 UTC, or null when the deadline is not set. */
  deadline: string | null;
  maxDeadline: string | null;
  lastUsedAt: string | null;
  /** When the next heartbeat can matter, in whole seconds (15–300): the pacing hint. */
  nextHeartbeatSeconds: number;
}
