import { visit } from "jsonc-parser";

/**
 * The first member name that occurs twice in one object of this JSON text (at any depth), or
 * undefined. RFC 7515 §5.2 and RFC 7519 §4 require unique names in a JOSE header and a claims set,
 * and RFC 8725 §3.11 warns why: `JSON.parse` — so jose — keeps the last duplicate, while another
 * parser in the chain may keep the first (`{"alg":"none","alg":"HS256"}`).
 *
 * Why a JSON scanner and not `JSON.parse`: once parsed, the earlier duplicates are gone, and a
 * reviver only sees the merged object. Why not a regex or raw-text comparison: names must be
 * compared after unescaping, exactly as `JSON.parse` unescapes them (`"\u0061lg"` and `"alg"` are
 * one name; `"\ud83d\ude00"` is `"😀"`). `jsonc-parser` (the scanner VS Code's JSON support is
 * built on) hands each member name to `onObjectProperty` decoded, one UTF-16 string per name as
 * `JSON.parse` produces it, without building a tree. It also tolerates comments and trailing
 * commas; that does not matter here, because it is only given text that jose has already parsed
 * with `JSON.parse` successfully. A scan error therefore cannot happen; should one, the caller
 * refuses the token (`malformed`).
 */
export function duplicateMemberName(json: string): string | undefined {
  const objects: Set<string>[] = [];
  let duplicate: string | undefined;
  let failed = false;
  visit(json, {
    onObjectBegin: () => {
      objects.push(new Set());
    },
    onObjectProperty: (name) => {
      const names = objects.at(-1);
      if (names === undefined) return;
      if (names.has(name)) duplicate ??= name;
      else names.add(name);
    },
    onObjectEnd: () => {
      objects.pop();
    },
    onError: () => {
      failed = true;
    },
  });
  if (failed) throw new SyntaxError("not a JSON text");
  return duplicate;
}
