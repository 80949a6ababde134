// Node module hook: `import text from "./x.sql"` yields the statement the Data API is sent — the
// file without its comments and final `;` (`dataApiStatement` in sql-lexer.ts) — as the esbuild
// plugin (infra/esbuild-plugins.cjs) does in the Lambda bundle and the vitest plugin in tests.
// Used by local CLIs: `node --import ./tools/local/sql-loader.mjs --import tsx <script>`.
import { register } from "node:module";

register(new URL("./sql-loader-hooks.mjs", import.meta.url));
