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

  it("accepts tabs, newlines and runs of spaces between names", () => {
    expect(grantsHeartbeat("  workspace:read\t\tworkspace:update  ")).toBe(true);
    expect(grantsHeartbeat("workspace:read\nworkspace:update")).toBe(true);
    expect(grantsHeartbeat(" \t ")).toBe(false);
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
  it("splits on any whitespace and drops empty names", () => {
    expect(parseScope(" a  b\tc\n")).toEqual(["a", "b", "c"]);
    expect(parseScope("")).toEqual([]);
    expect(parseScope(undefined)).toEqual([]);
  });
});
