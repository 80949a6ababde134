/**
 * The AWS price table (bench/prices.json, or `--prices other.json`) and what a chat-hour costs
 * under it: API Gateway HTTP API + Lambda (arm64, requests and billed GB-seconds) + RDS Data API +
 * Aurora Serverless v2 capacity for the measured PostgreSQL CPU.
 */
import { readFileSync } from "node:fs";
import * as z from "zod";

const Rate = z.object({
  price: z.number().nonnegative(),
  tier: z.string(),
  sources: z.array(z.url()).min(1),
  caveat: z.string().optional(),
});

export const Prices = z.object({
  region: z.string(),
  currency: z.string(),
  lookedUp: z.string(),
  note: z.string().optional(),
  apiGatewayHttpApiPerMillionRequests: Rate,
  lambdaArm64PerGbSecond: Rate,
  lambdaPerMillionRequests: Rate,
  dataApiPerMillionRequests: Rate,
  auroraServerlessV2PerAcuHour: Rate,
  acuPerVcpu: z.object({
    value: z.number().positive(),
    assumption: z.string(),
    sources: z.array(z.url()).min(1),
  }),
});
export type Prices = z.infer<typeof Prices>;

export function loadPrices(path: string): Prices {
  return Prices.parse(JSON.parse(readFileSync(path, "utf8")));
}

/**
 * The heartbeat function's configured memory (MB) from serverless.yml: the `memorySize` inside the
 * `heartbeat:` function block, else the provider's. A line reader, enough for this file's layout.
 */
export function heartbeatMemoryMb(serverlessYml: string): number {
  const lines = serverlessYml.split("\n");
  const start = lines.findIndex((line) => /^ {2}heartbeat:\s*$/.test(line));
  if (start >= 0) {
    for (const line of lines.slice(start + 1)) {
      if (/^ {2}\S/.test(line) || /^\S/.test(line)) break; // the next function or section
      const match = /^ {4}memorySize:\s*(\d+)/.exec(line);
      if (match) return Number(match[1]);
    }
  }
  const provider = /^ {2}memorySize:\s*(\d+)/m.exec(serverlessYml);
  if (!provider) throw new Error("no memorySize in serverless.yml");
  return Number(provider[1]);
}

/** What one chat-hour used, as measured. */
export interface ChatHourUsage {
  requests: number;
  /** Lambda bills duration rounded up to the millisecond, per invocation: the sum of those. */
  billedLambdaMs: number;
  dataApiCalls: number;
  postgresCpuSeconds: number;
}

export interface Cost {
  apiGateway: number;
  lambdaRequests: number;
  lambdaDuration: number;
  dataApi: number;
  aurora: number;
  total: number;
}

/** Dollars for `chatHours` chat-hours of this usage. */
export function cost(
  usage: ChatHourUsage,
  prices: Prices,
  memoryMb: number,
  chatHours = 1000,
): Cost {
  const perMillion = (count: number, rate: number) => ((count * chatHours) / 1e6) * rate;
  const apiGateway = perMillion(usage.requests, prices.apiGatewayHttpApiPerMillionRequests.price);
  const lambdaRequests = perMillion(usage.requests, prices.lambdaPerMillionRequests.price);
  const gbSeconds = (usage.billedLambdaMs / 1000) * (memoryMb / 1024) * chatHours;
  const lambdaDuration = gbSeconds * prices.lambdaArm64PerGbSecond.price;
  const dataApi = perMillion(usage.dataApiCalls, prices.dataApiPerMillionRequests.price);
  const acuHours = (usage.postgresCpuSeconds * prices.acuPerVcpu.value * chatHours) / 3600;
  const aurora = acuHours * prices.auroraServerlessV2PerAcuHour.price;
  return {
    apiGateway,
    lambdaRequests,
    lambdaDuration,
    dataApi,
    aurora,
    total: apiGateway + lambdaRequests + lambdaDuration + dataApi + aurora,
  };
}
