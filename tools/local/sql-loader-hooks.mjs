import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The hooks run in their own thread, before tsx's hooks exist: tsx's CommonJS API compiles the
// one TypeScript module needed here, the shared SQL lexer.
const require = createRequire(import.meta.url);
const { dataApiStatement } = require("tsx/cjs/api").require("../sql-lexer.ts", import.meta.url);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export async function load(url, context, nextLoad) {
  if (!url.endsWith(".sql")) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const text = dataApiStatement(
    await readFile(path, "utf8"),
    path.startsWith(ROOT) ? path.slice(ROOT.length) : path,
  );
  return {
    format: "module",
    shortCircuit: true,
    source: `export default ${JSON.stringify(text)};`,
  };
}
