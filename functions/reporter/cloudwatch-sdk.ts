// Only ever loaded with `await import()`: esbuild's CommonJS output then keeps this `require` of the
// external SDK (the Lambda runtime's copy) inside a lazy initialiser, so it runs on the first idle
// check, not at cold start. A direct `import()` of the package would stay an ES module import,
// which does not resolve the runtime's copy of the SDK the way `require` does.
export { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
