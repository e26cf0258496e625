// Emoji without the DOM: the table the server serves at /emoji.json ({e, n, s, g}: the emoji,
// its name, GitHub-style shortcodes without colons, its group), the picker's filtering, grouping
// and arrow-key moves, `:shortcode:` completion while typing and replacement on send, and the
// recently used list. Tested in Node with a small table (tests/emoji.test.mjs).

/** What the picker offers before the table has loaded, or if it cannot be. */
export const QUICK = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "🙏"];

/** A shortcode's characters: `:+1:`, `:thumbs_up:`, `:e-mail:`. */
const CODE = "[a-z0-9_+\\-]";

export class EmojiTable {
  /** `entries`: the parsed /emoji.json; malformed entries are skipped. */
  constructor(entries = []) {
    this.entries = [];
    this.byCode = new Map();
    this.byEmoji = new Map();
    for (const raw of Array.isArray(entries) ? entries : []) {
      if (!raw || typeof raw.e !== "string" || !raw.e) continue;
      const entry = {
        e: raw.e,
        n: typeof raw.n === "string" ? raw.n : "",
        s: Array.isArray(raw.s) ? raw.s.filter((x) => typeof x === "string" && x).map((x) => x.toLowerCase()) : [],
        g: typeof raw.g === "string" && raw.g ? raw.g : "Other",
      };
      this.entries.push(entry);
      if (!this.byEmoji.has(entry.e)) this.byEmoji.set(entry.e, entry);
      for (const code of entry.s) if (!this.byCode.has(code)) this.byCode.set(code, entry);
    }
  }

  /** The entry of a shortcode (without colons, any case), or null. */
  code(shortcode) {
    return this.byCode.get(shortcode.toLowerCase()) ?? null;
  }

  /** How an emoji is called, for tooltips: ":thumbsup:" or its name; "" if unknown. */
  label(emoji) {
    const entry = this.byEmoji.get(emoji);
    if (!entry) return "";
    return entry.s.length ? `:${entry.s[0]}:` : entry.n;
  }
}

/** Entries by group, groups in the order they first appear: [{name, items}]. */
export function groupEmoji(entries) {
  const groups = new Map();
  for (const entry of entries) {
    if (!groups.has(entry.g)) groups.set(entry.g, []);
    groups.get(entry.g).push(entry);
  }
  return [...groups].map(([name, items]) => ({ name, items }));
}

/** How well an entry fits a folded query: lower is better, Infinity for no fit. */
function rank(entry, q) {
  if (entry.s.includes(q)) return 0;
  if (entry.s.some((s) => s.startsWith(q))) return 1;
  const name = entry.n.toLowerCase();
  if (name.startsWith(q) || name.includes(` ${q}`)) return 2;
  if (entry.s.some((s) => s.includes(q))) return 3;
  if (name.includes(q)) return 4;
  return Infinity;
}

/**
 * The picker's filter: every entry for an empty query, else those whose shortcodes or name
 * contain it, best first (exact shortcode, shortcode prefix, name word prefix, anywhere), the
 * table's order within each rank. Colons around the query are ignored.
 */
export function filterEmoji(table, query) {
  const q = (query ?? "").trim().toLowerCase().replace(/^:+|:+$/g, "");
  if (!q) return table.entries.slice();
  const ranked = [];
  table.entries.forEach((entry, i) => {
    const r = rank(entry, q);
    if (r !== Infinity) ranked.push({ entry, r, i });
  });
  ranked.sort((a, b) => a.r - b.r || a.i - b.i);
  return ranked.map((x) => x.entry);
}

/** Whether `caret` is inside `code` (an odd number of backticks before it on the text). */
function inCode(text, caret) {
  return ((text.slice(0, caret).match(/`/g) ?? []).length % 2) === 1;
}

/**
 * The `:shortcode` being typed before the caret: a colon at the start or after a space or
 * bracket, then at least two shortcode characters. {start (the colon's index), query} or null.
 */
export function shortcodeQuery(text, caret) {
  const before = text.slice(0, caret);
  const match = before.match(new RegExp(`(^|[\\s([{])(:(${CODE}{2,}))$`, "i"));
  if (!match || inCode(text, caret)) return null;
  return { start: caret - match[2].length, query: match[3].toLowerCase() };
}

/** At most `limit` completions: shortcodes starting with `query` first, then names containing it. */
export function completions(table, query, limit = 8) {
  const q = (query ?? "").toLowerCase();
  if (!q) return [];
  const out = [];
  const seen = new Set();
  const take = (entry) => {
    if (out.length < limit && !seen.has(entry)) {
      seen.add(entry);
      out.push(entry);
    }
  };
  for (const entry of table.entries) if (entry.s.some((s) => s.startsWith(q))) take(entry);
  for (const entry of table.entries) if (entry.n.toLowerCase().includes(q)) take(entry);
  return out;
}

/** Puts `emoji` in place of the `:query` from `start` to `caret`: {text, caret}. */
export function applyCompletion(text, start, caret, emoji) {
  return { text: text.slice(0, start) + emoji + text.slice(caret), caret: start + emoji.length };
}

/** Puts `emoji` at the caret (or in place of the selection): {text, caret}. */
export function insertAt(text, from, to, emoji) {
  return { text: text.slice(0, from) + emoji + text.slice(to), caret: from + emoji.length };
}

/**
 * Every complete `:shortcode:` the table knows becomes its emoji; unknown ones stay as typed,
 * and so does text inside backticks (`code` and ``` blocks).
 */
export function replaceShortcodes(text, table) {
  const codePattern = new RegExp(`:(${CODE}+):`, "gi");
  return text
    .split(/(```[\s\S]*?```|`[^`\n]*`)/)
    .map((part, i) => (i % 2 === 1
      ? part
      : part.replace(codePattern, (whole, code) => table.code(code)?.e ?? whole)))
    .join("");
}

/**
 * The picker's arrow keys over groups laid out in rows of `columns` (each group starts a
 * row): the index (in all the groups' items, in order) that `key` moves `index` to.
 */
export function gridMove(groupSizes, index, key, columns) {
  const total = groupSizes.reduce((a, b) => a + b, 0);
  if (total === 0) return -1;
  const rows = [];
  let start = 0;
  for (const size of groupSizes) {
    for (let r = 0; r < size; r += columns) rows.push({ start: start + r, length: Math.min(columns, size - r) });
    start += size;
  }
  const i = Math.min(Math.max(index, 0), total - 1);
  const row = rows.findIndex((r) => i >= r.start && i < r.start + r.length);
  const col = i - rows[row].start;
  const inRow = (r) => rows[r].start + Math.min(col, rows[r].length - 1);
  switch (key) {
    case "ArrowRight": return Math.min(i + 1, total - 1);
    case "ArrowLeft": return Math.max(i - 1, 0);
    case "ArrowDown": return row + 1 < rows.length ? inRow(row + 1) : i;
    case "ArrowUp": return row > 0 ? inRow(row - 1) : i;
    case "Home": return 0;
    case "End": return total - 1;
    default: return i;
  }
}

/** The recently used list with `emoji` first, at most `max` long. */
export function pushRecent(recent, emoji, max = 16) {
  return [emoji, ...(recent ?? []).filter((x) => x !== emoji)].slice(0, max);
}
