import { fileURLToPath } from "node:url";
import type { Vite } from "vitest/node";
import { dataApiStatement } from "../../tools/sql-lexer.ts";

type Plugin = Vite.Plugin;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Imports a `.sql` file as the statement the Data API is sent (`dataApiStatement`: no comments, no
 * final `;`), exactly as the esbuild plugin (`infra/esbuild-plugins.cjs`) bundles it for Lambda.
 */
export function sqlAsText(): Plugin {
  return {
    name: "sql-as-text",
    transform(code, id) {
      if (!id.endsWith(".sql")) return null;
      const text = dataApiStatement(code, id.startsWith(ROOT) ? id.slice(ROOT.length) : id);
      return { code: `export default ${JSON.stringify(text)};`, map: null };
    },
  };
}
