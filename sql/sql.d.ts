// `.sql` imports are the statement the Data API is sent, comments and final `;` stripped
// (`dataApiStatement`): infra/esbuild-plugins.cjs, test/support/sql-as-text.ts, infra/local/sql-loader.mjs.
declare module "*.sql" {
  const text: string;
  export default text;
}
