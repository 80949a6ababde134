/**
 * The chatd scope check (docs/token.md): does a token's `scope` claim grant what a heartbeat needs?
 *
 * Grammar, after Coder's `coderd/rbac` (scopes.go, scopes_catalog.go, policy/policy.go):
 * - the claim is a list of scope names separated by U+0020 SPACE (RFC 6749 §3.3 `SP`); runs of
 *   spaces and leading/trailing spaces are tolerated. Nothing else separates: a tab, newline, NBSP,
 *   U+2028, U+3000, U+FEFF or any other character stays part of its name, which is then unknown
 *   and grants nothing (docs/token.md). Splitting on "any whitespace" (Go's `strings.Fields`, JS's
 *   `\s`) would let `workspace:read\uFEFFworkspace:update` grant both scopes here while every
 *   component that splits on SP, as RFC 6749 says, sees one unknown name;
 * - a low-level name is `<resource>:<action>`, split at the FIRST colon, with `*` as the
 *   wildcard action (`workspace:*`);
 * - composite names are `coder:<group>.<verb>`, e.g. `coder:workspaces.operate`;
 * - `coder:all` grants everything; `all` is its legacy alias.
 * Names are matched exactly (case-sensitive), as Coder looks them up in maps.
 *
 * Decisions for forms docs/token.md does not name; its list of granting scopes is exhaustive, so each
 * of these grants nothing (fail closed):
 * - `resource:action:id` (e.g. `workspace:read:<uuid>`): Coder splits at the first colon, so
 *   the action would be `read:<uuid>`, which is no action; per-resource limits live in Coder's
 *   separate allow-list, not in scope names.
 * - `*:*`: Coder's internal parser would expand it to a site wildcard, but it is not a
 *   requestable (external) scope; a token carrying it was not minted through Coder's API.
 * - `coder:workspaces.create`, `no_user_data`: in Coder these also carry workspace read/update,
 *   but docs/token.md lists the granting composites explicitly and these are not among them.
 * - `workspace_dormant:*`, `prebuilt_workspace:*`, `workspace:delete`, `workspace:ssh`,
 *   `workspace:start`, `chat:*`, and case variants such as `Workspace:Read`.
 * Unknown names are ignored, never an error.
 */

/** The actions one heartbeat needs: the chatd role, read + update, never delete. */
export const HEARTBEAT_ACTIONS = ["workspace:read", "workspace:update"] as const;

export type HeartbeatAction = (typeof HEARTBEAT_ACTIONS)[number];

const BOTH: readonly HeartbeatAction[] = HEARTBEAT_ACTIONS;

/** Every scope name that grants at least one heartbeat action, and which it grants. */
const GRANTS: ReadonlyMap<string, readonly HeartbeatAction[]> = new Map([
  ["workspace:read", ["workspace:read"]],
  ["workspace:update", ["workspace:update"]],
  ["workspace:*", BOTH],
  // Coder: workspace read, update, start, stop (start/stop are not ours to check).
  ["coder:workspaces.operate", BOTH],
  ["coder:all", BOTH],
  ["all", BOTH],
]);

/** Splits a `scope` claim on U+0020 only; an absent claim or one of spaces has no names. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return scope.split(" ").filter((name) => name !== "");
}

/** The heartbeat actions a `scope` claim grants: the union over its names. */
export function grantedActions(scope: string | undefined): ReadonlySet<HeartbeatAction> {
  const granted = new Set<HeartbeatAction>();
  for (const name of parseScope(scope)) {
    for (const action of GRANTS.get(name) ?? []) granted.add(action);
  }
  return granted;
}

/** True when the claim grants BOTH `workspace:read` and `workspace:update`. */
export function grantsHeartbeat(scope: string | undefined): boolean {
  const granted = grantedActions(scope);
  return HEARTBEAT_ACTIONS.every((action) => granted.has(action));
}
