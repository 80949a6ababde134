// Node module hook: `import text from "./x.sql"` yields the file's text, as esbuild's
// `loader: { ".sql": "text" }` does in the Lambda bundle and the vitest plugin does in tests.
// Used by local CLIs: `node --import ./infra/local/sql-loader.mjs --import tsx <script>`.
import { register } from "node:module";

register(new URL("./sql-loader-hooks.mjs", import.meta.url));
