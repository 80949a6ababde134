import { defineConfig } from "vitest/config";
import { sqlAsText } from "./test/support/sql-as-text.ts";

export default defineConfig({
  plugins: [sqlAsText()],
  test: {
    include: ["test/**/*.test.ts", "client/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // One embedded PostgreSQL serves every file; each file gets its own database.
    pool: "forks",
  },
});
