import { describe, expect, it } from "vitest";
import {
  grantedActions,
  grantsHeartbeat,
  HEARTBEAT_ACTIONS,
  parseScope,
} from "../../../functions/heartbeat/auth/scopes.ts";

describe("grantsHeartbeat", () => {
  it.each([
    ["workspace:read workspace:update", true],
    ["workspace:update workspace:read", true],
    ["workspace:*", true],
    ["coder:workspaces.operate", true],
    ["coder:all", true],
    ["all", true],
    // The two actions may come from different scopes: the grant is their union.
    ["workspace:read coder:workspaces.operate", true],
    ["workspace:read coder:all", true],
  ])("%j grants the heartbeat", (scope, granted) => {
    expect(grantsHeartbeat(scope)).toBe(granted);
  });

  it.each([
    "workspace:read",
    "workspace:update",
    "workspace:delete",
    "workspace:ssh",
    "workspace:start workspace:stop",
    "workspace:read workspace:delete",
    "chat:*",
    "chat:read chat:update",
    "*:*",
    "*",
    "coder:workspaces.create",
    "coder:workspaces.access",
    "coder:workspaces.delete",
    "coder:application_connect",
    "application_connect",
    "no_user_data",
    "workspace_dormant:*",
    "prebuilt_workspace:update workspace:read",
    "workspace:read:3f1c7a52-8c1e-4d43-9a2f-7a3b9f2c0d11 workspace:update:3f1c7a52-8c1e-4d43-9a2f-7a3b9f2c0d11",
    "Workspace:Read Workspace:Update",
    "COder:all",
    "ALL",
    "workspace:read,workspace:update",
    "workspace",
    "coder:",
    "",
  ])("%j does not grant the heartbeat", (scope) => {
    expect(grantsHeartbeat(scope)).toBe(false);
  });

  it("treats an absent claim as no scopes", () => {
    expect(grantsHeartbeat(undefined)).toBe(false);
    expect(grantedActions(undefined).size).toBe(0);
  });

  it("ignores unknown scope names rather than failing", () => {
    expect(grantsHeartbeat("openid profile coder:all some:thing:else ☃")).toBe(true);
    expect(grantsHeartbeat("openid profile")).toBe(false);
  });

  it("accepts runs of spaces and leading or trailing spaces", () => {
    expect(grantsHeartbeat("  workspace:read   workspace:update  ")).toBe(true);
    expect(grantsHeartbeat("   ")).toBe(false);
  });

  // docs/token.md: only U+0020 separates. Any other character joins the two names into one unknown
  // name, so neither scope is granted — not even the one a lenient splitter would see first.
  it.each([
    ["tab", "\t"],
    ["newline", "\n"],
    ["carriage return", "\r"],
    ["vertical tab", "\u000B"],
    ["form feed", "\u000C"],
    ["NEL", "\u0085"],
    ["no-break space", "\u00A0"],
    ["ogham space mark", "\u1680"],
    ["em space", "\u2003"],
    ["zero-width space", "\u200B"],
    ["line separator", "\u2028"],
    ["paragraph separator", "\u2029"],
    ["narrow no-break space", "\u202F"],
    ["ideographic space", "\u3000"],
    ["byte-order mark", "\uFEFF"],
    ["NUL", "\u0000"],
  ])("a %s between the two names grants nothing", (_name, separator) => {
    const scope = `workspace:read${separator}workspace:update`;
    expect(grantedActions(scope).size).toBe(0);
    expect(grantsHeartbeat(scope)).toBe(false);
    // The same character around a space-separated pair leaves the pair's edge names unknown.
    expect(grantsHeartbeat(`${separator}workspace:read workspace:update${separator}`)).toBe(false);
  });

  it("a name spoilt by another separator does not spoil the names around it", () => {
    expect(
      grantsHeartbeat("workspace:read\tworkspace:update workspace:read workspace:update"),
    ).toBe(true);
  });
});

describe("grantedActions", () => {
  it("reports which heartbeat actions each form grants", () => {
    expect([...grantedActions("workspace:read")]).toEqual(["workspace:read"]);
    expect([...grantedActions("workspace:update workspace:delete")]).toEqual(["workspace:update"]);
    expect([...grantedActions("coder:workspaces.operate")].sort()).toEqual([...HEARTBEAT_ACTIONS]);
    expect([...grantedActions("workspace:delete workspace:ssh chat:*")]).toEqual([]);
  });
});

describe("parseScope", () => {
  it("splits on U+0020 only and drops empty names", () => {
    expect(parseScope(" a  b\tc\n")).toEqual(["a", "b\tc\n"]);
    expect(parseScope("a\u00A0b\u3000c d")).toEqual(["a\u00A0b\u3000c", "d"]);
    expect(parseScope("")).toEqual([]);
    expect(parseScope(undefined)).toEqual([]);
  });
});
