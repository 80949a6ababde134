import type { Vite } from "vitest/node";

type Plugin = Vite.Plugin;

/** Mirrors esbuild's `loader: { ".sql": "text" }` so tests import SQL exactly as the bundle does. */
export function sqlAsText(): Plugin {
  return {
    name: "sql-as-text",
    transform(code, id) {
      if (!id.endsWith(".sql")) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}
