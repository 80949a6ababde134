/**
 * The little SQL lexing the local tooling needs: where statements end, and where the Data API's
 * `:name` placeholders stand. It only has to know what can hide a `;` or a `:` — string literals,
 * quoted identifiers, dollar-quoted bodies and comments — never the grammar.
 */

type Segment = { kind: "code" | "opaque"; text: string };

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

function segments(sql: string): Segment[] {
  const out: Segment[] = [];
  let code = "";
  let i = 0;
  const opaque = (end: number) => {
    if (code) out.push({ kind: "code", text: code });
    code = "";
    out.push({ kind: "opaque", text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if (ch === "'" || ch === '"') {
      // E'…' strings also escape with a backslash (E'it\'s'); the E is already in `code`.
      const backslashEscapes = ch === "'" && /(^|[^A-Za-z0-9_$])[Ee]$/.test(code);
      let j = i + 1;
      for (;;) {
        if (backslashEscapes) {
          while (j < sql.length && sql[j] !== ch) j += sql[j] === "\\" ? 2 : 1;
          if (j >= sql.length) j = -1;
        } else j = sql.indexOf(ch, j);
        if (j === -1) throw new SyntaxError(`unterminated ${ch} quote in SQL`);
        if (sql[j + 1] === ch)
          j += 2; // doubled quote is an escaped quote
        else break;
      }
      opaque(j + 1);
    } else if (ch === "-" && next === "-") {
      const j = sql.indexOf("\n", i);
      opaque(j === -1 ? sql.length : j);
    } else if (ch === "/" && next === "*") {
      let depth = 0;
      let j = i;
      do {
        if (sql.startsWith("/*", j)) {
          depth++;
          j += 2;
        } else if (sql.startsWith("*/", j)) {
          depth--;
          j += 2;
        } else if (j >= sql.length) {
          throw new SyntaxError("unterminated block comment in SQL");
        } else j++;
      } while (depth > 0);
      opaque(j);
    } else if (ch === "$" && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? "")) {
      const tag = DOLLAR_TAG.exec(sql.slice(i))?.[0];
      if (!tag) {
        code += ch;
        i++;
        continue;
      }
      const close = sql.indexOf(tag, i + tag.length);
      if (close === -1) throw new SyntaxError(`unterminated dollar quote ${tag} in SQL`);
      opaque(close + tag.length);
    } else {
      code += ch;
      i++;
    }
  }
  if (code) out.push({ kind: "code", text: code });
  return out;
}

/** Splits a script into its statements (without the `;`), dropping empty ones and bare comments. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let hasCode = false;
  for (const segment of segments(sql)) {
    if (segment.kind === "opaque") {
      current += segment.text;
      if (!/^(--|\/\*)/.test(segment.text)) hasCode = true;
      continue;
    }
    const parts = segment.text.split(";");
    parts.forEach((part, index) => {
      if (index > 0) {
        if (hasCode) statements.push(current.trim());
        current = "";
        hasCode = false;
      }
      current += part;
      if (part.trim()) hasCode = true;
    });
  }
  if (hasCode) statements.push(current.trim());
  return statements;
}

const PLACEHOLDER = /(?<![:A-Za-z0-9_])(:)([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Rewrites the Data API's named placeholders (`:deadline`) into PostgreSQL's positional ones
 * (`$1`), leaving `::casts`, strings, identifiers and comments alone. A name used twice gets one
 * position. Returns the names in position order. `render` decides what replaces a placeholder
 * (the local Data API endpoint uses it to add the cast a parameter's type calls for, `$1::uuid`).
 */
export function toPositionalParameters(
  sql: string,
  render: (position: number, name: string) => string = (position) => `$${position}`,
): { text: string; names: string[] } {
  const names: string[] = [];
  const text = segments(sql)
    .map((segment) =>
      segment.kind === "opaque"
        ? segment.text
        : segment.text.replace(PLACEHOLDER, (_match, _colon: string, name: string) => {
            let index = names.indexOf(name);
            if (index === -1) index = names.push(name) - 1;
            return render(index + 1, name);
          }),
    )
    .join("");
  return { text, names };
}
