// esbuild (loader: { ".sql": "text" }) and vitest (test/support/sql-text-plugin) import .sql files as text.
declare module "*.sql" {
  const text: string;
  export default text;
}
