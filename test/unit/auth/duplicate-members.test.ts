import { describe, expect, it } from "vitest";
import { duplicateMemberName } from "../../../functions/heartbeat/auth/duplicate-members.ts";

describe("duplicateMemberName", () => {
  it.each([
    ['{"alg":"none","alg":"HS256"}', "alg"],
    ['{"\\u0061lg":"none","alg":"HS256"}', "alg"],
    ['{"alg":"none","\\u0061\\u006c\\u0067":"HS256"}', "alg"],
    ['{"a\\/b":1,"a/b":2}', "a/b"],
    ['{"\\ud83d\\ude00":1,"😀":2}', "😀"],
    ['{"__proto__":1,"__proto__":2}', "__proto__"],
    ['{"":1,"":2}', ""],
    ['{"x":[{"n":1},{"n":2,"m":3,"n":4}]}', "n"],
    ['{"x":{"y":{"z":{"a":1,"a":1}}}}', "a"],
    ['[{"a":1,"a":2}]', "a"],
  ])("finds the duplicate in %s", (json, name) => {
    // The duplicate must exist for JSON.parse too, or the scanner would be reading something else.
    expect(() => JSON.parse(json)).not.toThrow();
    expect(duplicateMemberName(json)).toBe(name);
  });

  it.each([
    '{"alg":"HS256","typ":"JWT"}',
    '{"a":1,"A":2,"a ":3,"\\u0061b":4}',
    '{"a":{"n":1},"b":{"n":1},"c":[{"n":1},{"n":1}]}',
    '{"a":"\\"a\\":1","b":["a","a"]}',
    '{"x":{"a":1},"a":2}',
    "{}",
    "[]",
    '"alg"',
  ])("finds none in %s", (json) => {
    expect(duplicateMemberName(json)).toBeUndefined();
  });

  it("throws on text that is not JSON rather than guessing", () => {
    expect(() => duplicateMemberName('{"a":')).toThrow(SyntaxError);
  });
});
