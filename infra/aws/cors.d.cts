/** Types for cors.cjs (CommonJS, so that the Serverless Framework can `require` it). */

export interface CorsConfiguration {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposedResponseHeaders: string[];
  allowCredentials: false;
  maxAge: number;
}

export function parseAllowedOrigins(value: unknown): string[];

export function corsConfiguration(origins: string[]): CorsConfiguration | undefined;

export function httpApiCors(serverless: {
  resolveVariable: (address: string) => Promise<unknown>;
}): Promise<CorsConfiguration | false>;
