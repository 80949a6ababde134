import { describe, expect, it } from "vitest";
import { corsConfiguration, parseAllowedOrigins } from "../../infra/aws/cors.cjs";

describe("parseAllowedOrigins (the corsAllowedOrigins param)", () => {
  it("is empty for an unset or blank param: no CORS", () => {
    expect(parseAllowedOrigins(undefined)).toEqual([]);
    expect(parseAllowedOrigins("")).toEqual([]);
    expect(parseAllowedOrigins(" , ")).toEqual([]);
    expect(corsConfiguration([])).toBeUndefined();
  });

  it("reads a comma-separated list, trimming spaces and dropping repeats", () => {
    expect(
      parseAllowedOrigins(
        " https://chat.example.com,http://localhost:5173 , https://chat.example.com",
      ),
    ).toEqual(["https://chat.example.com", "http://localhost:5173"]);
  });

  it.each([
    ["*", /wildcard/],
    ["https://*", /wildcard/],
    ["https://*.example.com", /wildcard/],
    ["https://chat.example.com/", /not an origin/],
    ["https://chat.example.com/app", /not an origin/],
    ["https://Chat.Example.com", /not an origin/],
    ["https://chat.example.com:443", /not an origin/],
    ["chat.example.com", /not an origin/],
    ["null", /not an origin/],
    ["file:///tmp", /not an origin/],
    ["ftp://chat.example.com", /not an origin/],
    ["https://user@chat.example.com", /not an origin/],
  ])("refuses %j, naming the param", (origin, reason) => {
    expect(() => parseAllowedOrigins(`https://ok.example.com,${origin}`)).toThrow(reason);
    expect(() => parseAllowedOrigins(origin)).toThrow(/corsAllowedOrigins/);
  });

  it("refuses a value that is not a string", () => {
    expect(() => parseAllowedOrigins(["https://chat.example.com"])).toThrow(/corsAllowedOrigins/);
  });
});

describe("corsConfiguration", () => {
  it("allows the listed origins, POST and the two request headers, never credentials", () => {
    expect(corsConfiguration(["https://chat.example.com"])).toEqual({
      allowedOrigins: ["https://chat.example.com"],
      allowedMethods: ["POST"],
      allowedHeaders: ["authorization", "content-type"],
      exposedResponseHeaders: ["retry-after", "x-poll-interval"],
      allowCredentials: false,
      maxAge: 600,
    });
  });
});
