import { freePort } from "./postgres.ts";

/**
 * The two ports `npm start` runs serverless-offline on besides PORT (its own HTTP server and its
 * Lambda invoke endpoint, which our API Gateway front calls). Nobody else connects to them, so they
 * are free ports picked at start — a second stack on another PORT never collides on them — unless
 * OFFLINE_LAMBDA_PORT pins the Lambda one. Neither is PORT, nor each other.
 */
export async function internalPorts(options: {
  port: number;
  lambdaPort?: number;
  pick?: () => Promise<number>;
}): Promise<{ httpPort: number; lambdaPort: number }> {
  const pick = options.pick ?? freePort;
  const taken = new Set([options.port]);
  const next = async () => {
    // A free port is one the kernel hands out now; PORT is bound only later, by our front.
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await pick();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
    throw new Error("could not find a free port distinct from PORT");
  };
  if (options.lambdaPort !== undefined) {
    if (options.lambdaPort === options.port) {
      throw new Error(`OFFLINE_LAMBDA_PORT (${options.lambdaPort}) must differ from PORT`);
    }
    taken.add(options.lambdaPort);
  }
  const httpPort = await next();
  const lambdaPort = options.lambdaPort ?? (await next());
  return { httpPort, lambdaPort };
}
