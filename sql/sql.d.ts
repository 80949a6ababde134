// `.sql` imports are the statement the Data API is sent: the file without its comments and final `;`
// (`dataApiStatement` in tools/sql-lexer.ts). Three loaders apply it: infra/esbuild-plugins.cjs
// (Lambda bundles), test/support/sql-as-text.ts (vitest) and tools/local/sql-loader-hooks.mjs (the
// CLIs, registered by tools/local/sql-loader.mjs).
declare module "*.sql" {
  const text: string;
  export default text;
}
