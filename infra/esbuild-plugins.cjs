// esbuild plugins for the Lambda bundles, loaded by serverless-esbuild (`custom.esbuild.plugins` in
// serverless.yml). CommonJS because serverless-esbuild `require`s this file.
const { readFile } = require("node:fs/promises");
const { relative } = require("node:path");

// The lexer is TypeScript; tsx's CommonJS API compiles it (serverless runs without tsx).
const { dataApiStatement } = require("tsx/cjs/api").require("../tools/sql-lexer.ts", __filename);
const ROOT = `${__dirname}/..`;

/**
 * `import text from "./x.sql"` bundles the statement the Data API is sent: the file without its
 * comments and final `;` (`dataApiStatement`), as the vitest plugin and the Node hook load it.
 * A file holding no statement or several fails the build.
 */
const sqlAsDataApiStatement = {
  name: "sql-as-data-api-statement",
  setup(build) {
    build.onLoad({ filter: /\.sql$/ }, async ({ path }) => ({
      contents: dataApiStatement(await readFile(path, "utf8"), relative(ROOT, path)),
      loader: "text",
    }));
  },
};

module.exports = [sqlAsDataApiStatement];
