/**
 * The little SQL lexing the tooling needs: where statements end, where the Data API's `:name`
 * placeholders stand, and what is a comment. It only has to know what can hide a `;`, a `:` or a
 * `--` — string literals, quoted identifiers, dollar-quoted bodies and comments — never the grammar.
 *
 * Used by the local Data API endpoint, the migration runner, and the three `.sql` loaders (esbuild
 * plugin, vitest plugin, Node hook), which all turn a commented `.sql` file into the plain statement
 * the Data API is sent (`dataApiStatement`).
 */

/** `quoted`: a string literal, quoted identifier or dollar-quoted body, quotes included. */
export type SegmentKind = "code" | "quoted" | "comment";
export type Segment = { kind: SegmentKind; text: string };

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/** The script cut into code, quoted text and comments; joined, the pieces are the script again. */
export function segments(sql: string): Segment[] {
  const out: Segment[] = [];
  let code = "";
  let i = 0;
  const opaque = (end: number, kind: "quoted" | "comment" = "quoted") => {
    if (code) out.push({ kind: "code", text: code });
    code = "";
    out.push({ kind, text: sql.slice(i, end) });
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
      opaque(j === -1 ? sql.length : j, "comment");
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
      opaque(j, "comment");
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
    if (segment.kind !== "code") {
      current += segment.text;
      if (segment.kind === "quoted") hasCode = true;
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
      segment.kind !== "code"
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

/**
 * One statement as the Data API is sent it: no comments (a block comment between two tokens becomes
 * a space), no blank lines or trailing blanks, no final `;` — quotes and dollar quotes exactly as
 * written. The service's own scanners for `:name` parameters and for several statements are
 * undocumented, so what reaches them stays plain. `source` names the text in errors: a text with no
 * statement, or with more than one, is refused.
 */
export function dataApiStatement(sql: string, source = "SQL text"): string {
  const pieces: Segment[] = [];
  const code = (text: string) => {
    const last = pieces.at(-1);
    if (last?.kind === "code") last.text += text;
    else pieces.push({ kind: "code", text });
  };
  for (const segment of segments(sql)) {
    if (segment.kind === "quoted") pieces.push({ ...segment });
    else if (segment.kind === "code") code(segment.text);
    else if (segment.text.startsWith("/*") && !/\s$/.test(pieces.at(-1)?.text ?? " ")) code(" ");
  }
  for (const piece of pieces) {
    if (piece.kind === "code") {
      piece.text = piece.text.replace(/[ \t\r]+(?=\n)/g, "").replace(/\n{2,}/g, "\n");
    }
  }
  const first = pieces[0];
  if (first?.kind === "code") first.text = first.text.trimStart();
  const last = pieces.at(-1);
  if (last?.kind === "code") last.text = last.text.trimEnd().replace(/;$/, "").trimEnd();
  const text = pieces.map((piece) => piece.text).join("");
  if (text === "") throw new SyntaxError(`${source} holds no SQL statement`);
  if (pieces.some((piece) => piece.kind === "code" && piece.text.includes(";"))) {
    throw new SyntaxError(`${source} holds more than one SQL statement`);
  }
  return text;
}

/**
 * The statement's first keyword, upper-cased, after leading whitespace and comments ("" when it
 * does not start with a word, e.g. with a parenthesis or a quote).
 */
export function leadingKeyword(sql: string): string {
  for (const segment of segments(sql)) {
    if (segment.kind === "comment") continue;
    if (segment.kind === "quoted") return "";
    const text = segment.text.trimStart();
    if (text === "") continue;
    return /^[A-Za-z_][A-Za-z0-9_]*/.exec(text)?.[0].toUpperCase() ?? "";
  }
  return "";
}
