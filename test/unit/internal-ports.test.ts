import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { internalPorts } from "../../tools/local/internal-ports.ts";

/** `npm start`'s serverless-offline ports: free ones of its own, so stacks on other PORTs coexist. */

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

describe("internalPorts", () => {
  it("picks two free ports, neither PORT nor 3002, when OFFLINE_LAMBDA_PORT is unset", async () => {
    // 3002 held, as by a first stack's Lambda endpoint: a second stack must not need it.
    const first = createServer();
    const held = await new Promise<boolean>((resolve) => {
      first.once("error", () => resolve(false));
      first.listen(3002, "127.0.0.1", () => resolve(true));
    });
    try {
      const ports = await internalPorts({ port: 3100 });
      expect(new Set([ports.httpPort, ports.lambdaPort, 3100]).size).toBe(3);
      expect(ports.lambdaPort).not.toBe(3002);
      expect(await listens(ports.lambdaPort)).toBe(true);
      expect(await listens(ports.httpPort)).toBe(true);
      expect(held || !(await listens(3002))).toBe(true);
    } finally {
      first.close();
    }
  });

  it("keeps OFFLINE_LAMBDA_PORT when set, and refuses it equal to PORT", async () => {
    const ports = await internalPorts({ port: 3100, lambdaPort: 3555 });
    expect(ports.lambdaPort).toBe(3555);
    expect(ports.httpPort).not.toBe(3555);
    await expect(internalPorts({ port: 3100, lambdaPort: 3100 })).rejects.toThrow(/must differ/);
  });

  it("never hands out PORT or a port it already gave, whatever the picker returns", async () => {
    const offers = [3100, 4000, 4000, 4001];
    const ports = await internalPorts({ port: 3100, pick: async () => offers.shift() as number });
    expect(ports).toEqual({ httpPort: 4000, lambdaPort: 4001 });
  });
});
