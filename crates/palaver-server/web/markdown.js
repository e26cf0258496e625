// Rich text: the small Markdown subset of the protocol (docs/protocol.md, "Rich text") parsed
// into a tree the page draws with DOM nodes (app.js). Bold, italic, strikethrough, inline code,
// fenced code blocks, "> " quotes, bare http(s) links, [text](https://...) links and backslash
// escapes; everything else stays as typed. No DOM here, and no HTML is ever produced: the tree
// holds plain strings. Linear time on any input: emphasis is matched with a delimiter stack per
// marker (as CommonMark does, simplified), never by backtracking regular expressions.
//
// The tree: an array of nodes, each one of
//   {type: "text", text}                       as typed
//   {type: "strong" | "em" | "s", children}    bold, italic, struck
//   {type: "code", text}                       inline code, nothing inside formatted
//   {type: "link", href, children}             href: an http(s) URL (checked by safeHref)
//   {type: "codeblock", lang, text}            a fenced block (lang: "" when none)
//   {type: "quote", children}                  "> " lines
// Blocks (codeblock, quote) come at the top level only; the text around them has no newline
// next to them (they are drawn as blocks, on lines of their own).

/** What a backslash escapes (anything else keeps its backslash). */
const ESCAPABLE = new Set(["*", "_", "~", "`", "[", ">", "\\"]);
const FENCE_OPEN = /^```([^\s`]*)\s*$/;
const FENCE_CLOSE = /^```\s*$/;
// A link target: http(s), no spaces, parentheses only in balanced pairs one deep.
const LINK_TARGET = /\((https?:\/\/(?:[^\s()]|\([^\s()]*\))+)\)/iy;
const BARE_URL = /https?:\/\/[^\s<>"`]+/iy;
const TRAILING = new Set([".", ",", ":", ";", "!", "?", "'", '"', "*", "_", "~", ")", "]"]);
const WORD = /[\p{L}\p{N}]/u;
const PUNCT = /[\p{P}\p{S}]/u;
const SPACE = /\s/u;

/** `url` if it is an absolute http or https URL with a host (normalised), else null. */
export function safeHref(url) {
  if (typeof url !== "string" || !/^https?:\/\/\S+$/i.test(url)) return null;
  try {
    const u = new URL(url);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host ? u.href : null;
  } catch (_) {
    return null;
  }
}

/** Parses message content into the tree described above. */
export function parse(content) {
  const lines = String(content ?? "").split("\n");
  const closes = [];
  lines.forEach((l, i) => FENCE_CLOSE.test(l) && closes.push(i));
  const nodes = [];
  let para = [];
  const flush = () => {
    if (para.length) nodes.push(...inline(para.join("\n")));
    para = [];
  };
  let c = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      while (c < closes.length && closes[c] <= i) c++;
      if (c < closes.length) {
        flush();
        nodes.push({ type: "codeblock", lang: fence[1], text: lines.slice(i + 1, closes[c]).join("\n") });
        i = closes[c];
        continue;
      }
    }
    if (isQuote(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && isQuote(lines[i])) quoted.push(lines[i++].slice(2));
      i--;
      nodes.push({ type: "quote", children: inline(quoted.join("\n")) });
      continue;
    }
    para.push(line);
  }
  flush();
  return nodes;
}

/** "> quoted" (or a lone ">" inside a quote's lines). */
function isQuote(line) {
  return line.startsWith("> ") || line === ">" || line === ">\r";
}

/** The visible text of a tree (what the page's textContent shows). */
export function plainText(nodes) {
  let out = "";
  const stack = [...nodes].reverse();
  while (stack.length) {
    const n = stack.pop();
    if (n.children) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
    else out += n.text;
  }
  return out;
}

// ----- inline text -----

/** A cell of the doubly linked list the inline parser builds (wrapping moves cells, cheaply). */
function cell(value) {
  return { value, prev: null, next: null };
}

/** The list: a head cell holding nothing, and the last cell. */
class List {
  constructor() {
    this.head = cell(null);
    this.tail = this.head;
  }

  append(value) {
    const c = cell(value);
    c.prev = this.tail;
    this.tail.next = c;
    this.tail = c;
    return c;
  }

  /** Replaces the cells between `from` and `to` (both excluded) by one cell holding `value`. */
  wrap(from, to, value) {
    const c = cell(value);
    c.prev = from;
    c.next = to;
    from.next = c;
    to.prev = c;
  }

  remove(c) {
    c.prev.next = c.next;
    if (c.next) c.next.prev = c.prev;
    if (this.tail === c) this.tail = c.prev;
  }
}

/** Inline markup of `text` (a paragraph, a quote, or a link's text when `links` is false). */
export function inline(text, { links = true } = {}) {
  const list = new List();
  const append = (value) => list.append(value);
  const stacks = { "*": [], _: [], "~": [] };
  const ticks = backtickRuns(text);
  const closeBracket = links ? nextCloseBrackets(text) : null;
  let order = 0;
  let literal = "";
  const flushLiteral = () => {
    if (literal) append({ type: "text", text: literal });
    literal = "";
  };

  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    if (ch === "\\" && ESCAPABLE.has(text[i + 1])) {
      literal += text[i + 1];
      i += 2;
    } else if (ch === "`") {
      let j = i;
      while (text[j] === "`") j++;
      const close = findRun(ticks, j - i, j);
      if (close < 0) {
        literal += text.slice(i, j);
        i = j;
      } else {
        flushLiteral();
        append({ type: "code", text: trimCode(text.slice(j, close)) });
        i = close + (j - i);
      }
    } else if (ch === "*" || ch === "_" || ch === "~") {
      let j = i;
      while (text[j] === ch) j++;
      if (ch === "~" && j - i < 2) {
        literal += "~";
        i = j;
        continue;
      }
      flushLiteral();
      const d = delimiter(text, i, j, order++);
      d.cell = append(d);
      if (d.canClose) close(d, stacks, list);
      if (d.count > 0 && d.canOpen && (ch !== "~" || d.count >= 2)) stacks[ch].push(d);
      i = j;
    } else if (ch === "[" && links && text[i - 1] !== "!") {
      const link = linkAt(text, i, closeBracket);
      if (link) {
        flushLiteral();
        append(link.node);
        i = link.end;
      } else {
        literal += "[";
        i += 1;
      }
    } else if ((ch === "h" || ch === "H") && links && !WORD.test(charBefore(text, i))) {
      const url = urlAt(text, i);
      if (url) {
        if (url.href) {
          flushLiteral();
          append({ type: "link", href: url.href, children: [{ type: "text", text: url.text }] });
        } else {
          literal += url.text;
        }
        i += url.text.length;
      } else {
        literal += ch;
        i += 1;
      }
    } else {
      literal += ch;
      i += 1;
    }
  }
  flushLiteral();
  return collect(list.head.next, null);
}

/** A run of `*`, `_` or `~` from i to j: whether it may open or close (CommonMark's flanking). */
function delimiter(text, i, j, order) {
  const ch = text[i];
  const before = charBefore(text, i);
  const after = charAt(text, j);
  const spaceBefore = before === "" || SPACE.test(before);
  const spaceAfter = after === "" || SPACE.test(after);
  const punctBefore = PUNCT.test(before);
  const punctAfter = PUNCT.test(after);
  const left = !spaceAfter && (!punctAfter || spaceBefore || punctBefore);
  const right = !spaceBefore && (!punctBefore || spaceAfter || punctAfter);
  // `_` does not open or close inside a word: snake_case_name stays as typed.
  const canOpen = ch === "_" ? left && (!right || punctBefore) : left;
  const canClose = ch === "_" ? right && (!left || punctAfter) : right;
  return { type: "delim", ch, count: j - i, canOpen, canClose, order, cell: null };
}

/** Matches closer `d` with the nearest openers of its marker, wrapping what is between. */
function close(d, stacks, list) {
  const stack = stacks[d.ch];
  while (d.count > 0 && stack.length > 0) {
    const o = stack.at(-1);
    if (d.ch === "~" && d.count < 2) break;
    const use = d.ch === "~" || (o.count >= 2 && d.count >= 2) ? 2 : 1;
    // Markers opened after `o` and not closed can no longer close: they are text now.
    for (const other of Object.values(stacks)) {
      if (other === stack) continue;
      while (other.length > 0 && other.at(-1).order > o.order) other.pop();
    }
    const type = d.ch === "~" ? "s" : use === 2 ? "strong" : "em";
    list.wrap(o.cell, d.cell, { type, children: collect(o.cell.next, d.cell) });
    o.count -= use;
    d.count -= use;
    if (o.count === 0 || (o.ch === "~" && o.count < 2)) stack.pop();
    if (o.count === 0) list.remove(o.cell);
  }
  if (d.count === 0) list.remove(d.cell);
}

/** The nodes of the cells from `first` up to `end` (excluded): markers left over are text. */
function collect(first, end) {
  const out = [];
  for (let c = first; c && c !== end; c = c.next) {
    const v = c.value;
    const node = v.type === "delim" ? { type: "text", text: v.ch.repeat(v.count) } : v;
    if (node.type === "text" && out.length > 0 && out.at(-1).type === "text") {
      out[out.length - 1] = { type: "text", text: out.at(-1).text + node.text };
    } else if (node.type !== "text" || node.text) {
      out.push(node);
    }
  }
  return out;
}

/** Where each length of backtick run starts: {length: [positions, ascending]}. */
function backtickRuns(text) {
  const runs = new Map();
  for (let i = 0; i < text.length; ) {
    if (text[i] !== "`") {
      i++;
      continue;
    }
    let j = i;
    while (text[j] === "`") j++;
    if (!runs.has(j - i)) runs.set(j - i, []);
    runs.get(j - i).push(i);
    i = j;
  }
  return runs;
}

/** The start of the first run of exactly `length` backticks at or after `from`, or -1. */
function findRun(runs, length, from) {
  const list = runs.get(length);
  if (!list) return -1;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length ? list[lo] : -1;
}

/** Code as CommonMark shows it: one space on each side is padding (`` `x` `` shows `x`). */
function trimCode(code) {
  return code.length >= 2 && code[0] === " " && code.at(-1) === " " && code.trim() !== ""
    ? code.slice(1, -1)
    : code;
}

/** For each position, where the next `]` not escaped by a backslash is (or -1). */
function nextCloseBrackets(text) {
  const escaped = new Uint8Array(text.length + 1);
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && ESCAPABLE.has(text[i + 1])) {
      escaped[i + 1] = 1;
      i++;
    }
  }
  const next = new Int32Array(text.length + 1).fill(-1);
  for (let i = text.length - 1; i >= 0; i--) {
    next[i] = text[i] === "]" && !escaped[i] ? i : next[i + 1];
  }
  return next;
}

/** `[text](https://...)` at i: {node, end}, or null (then `[` is text). */
function linkAt(text, i, closeBracket) {
  const end = closeBracket[i + 1];
  if (end < 0 || end === i + 1 || text[end + 1] !== "(") return null;
  LINK_TARGET.lastIndex = end + 1;
  const m = LINK_TARGET.exec(text);
  const href = m && safeHref(m[1]);
  if (!href) return null;
  const children = inline(text.slice(i + 1, end), { links: false });
  return { node: { type: "link", href, children }, end: LINK_TARGET.lastIndex };
}

/** A bare http(s) URL at i: {text, href} (href null when it is not a valid one), or null. */
function urlAt(text, i) {
  BARE_URL.lastIndex = i;
  const m = BARE_URL.exec(text);
  if (!m) return null;
  const url = m[0];
  const counts = { "(": 0, ")": 0, "[": 0, "]": 0 };
  for (const c of url) if (c in counts) counts[c]++;
  // Punctuation after a link is the sentence's, and a closing bracket the link's own only
  // when it opened one inside the link.
  let end = url.length;
  while (end > 0 && TRAILING.has(url[end - 1])) {
    const last = url[end - 1];
    if (last === ")" && counts["("] >= counts[")"]) break;
    if (last === "]" && counts["["] >= counts["]"]) break;
    if (last in counts) counts[last]--;
    end--;
  }
  const cut = url.slice(0, end);
  if (!/^https?:\/\/./i.test(cut)) return { text: url, href: null };
  return { text: cut, href: safeHref(cut) };
}

/** The character (a whole code point) before position i, or "" at the start. */
function charBefore(text, i) {
  if (i <= 0) return "";
  const low = text.charCodeAt(i - 1);
  return low >= 0xdc00 && low <= 0xdfff && i >= 2 ? text.slice(i - 2, i) : text[i - 1];
}

/** The character (a whole code point) at position i, or "" at the end. */
function charAt(text, i) {
  if (i >= text.length) return "";
  return String.fromCodePoint(text.codePointAt(i));
}
