/**
 * Every outcome of an accepted heartbeat (docs/heartbeat.md), in the order the statement decides them: the
 * words the heartbeat answers with, the reporter counts by and the metrics are named after. The
 * client keeps its own copy (client/src/types.ts); test/unit/outcomes.test.ts holds the two equal.
 */
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
