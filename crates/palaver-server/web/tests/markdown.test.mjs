// Rich text (markdown.js): the protocol's Markdown subset parsed into a tree, every construct,
// nesting, what stays as typed, hostile input, and linear time on pathological input.
import test from "node:test";
import assert from "node:assert/strict";
import { parse, plainText, safeHref } from "../markdown.js";

const t = (text) => ({ type: "text", text });
const node = (type, ...children) => ({ type, children });

test("plain text stays one text node, as typed", () => {
  assert.deepEqual(parse("hello, world"), [t("hello, world")]);
  assert.deepEqual(parse(""), []);
  assert.deepEqual(parse("two\nlines"), [t("two\nlines")]);
});

test("bold, italic with * and _, strikethrough", () => {
  assert.deepEqual(parse("a **b** c"), [t("a "), node("strong", t("b")), t(" c")]);
  assert.deepEqual(parse("a *b* c"), [t("a "), node("em", t("b")), t(" c")]);
  assert.deepEqual(parse("a _b_ c"), [t("a "), node("em", t("b")), t(" c")]);
  assert.deepEqual(parse("a ~~b~~ c"), [t("a "), node("s", t("b")), t(" c")]);
  assert.deepEqual(parse("__b__"), [node("strong", t("b"))]);
});

test("_ inside words stays as typed; * may be inside a word", () => {
  assert.deepEqual(parse("snake_case_name"), [t("snake_case_name")]);
  assert.deepEqual(parse("call my_func_here() now"), [t("call my_func_here() now")]);
  assert.deepEqual(parse("a*b*c"), [t("a"), node("em", t("b")), t("c")]);
  assert.deepEqual(parse("2 * 3 * 4"), [t("2 * 3 * 4")]);
  assert.deepEqual(parse("a single ~ tilde ~"), [t("a single ~ tilde ~")]);
});

test("nesting: bold inside italic, italic inside bold, both at once", () => {
  assert.deepEqual(parse("*a **b** c*"), [node("em", t("a "), node("strong", t("b")), t(" c"))]);
  assert.deepEqual(parse("**a _b_ c**"), [node("strong", t("a "), node("em", t("b")), t(" c"))]);
  assert.deepEqual(parse("***x***"), [node("em", node("strong", t("x")))]);
  assert.deepEqual(parse("~~a **b**~~"), [node("s", t("a "), node("strong", t("b")))]);
});

test("inline code: nothing inside is formatted, escapes included", () => {
  assert.deepEqual(parse("run `a *b* _c_ [x](https://e.org) \\*`!"), [
    t("run "), { type: "code", text: "a *b* _c_ [x](https://e.org) \\*" }, t("!"),
  ]);
  assert.deepEqual(parse("``a`b``"), [{ type: "code", text: "a`b" }]);
  assert.deepEqual(parse("`` `x` ``"), [{ type: "code", text: "`x`" }]);
  assert.deepEqual(parse("*a `b*` c*"), [node("em", t("a "), { type: "code", text: "b*" }, t(" c"))]);
  assert.deepEqual(parse("a `b"), [t("a `b")], "unclosed");
});

test("fenced code blocks, with or without a language, shown as typed", () => {
  assert.deepEqual(parse("look:\n```js\nlet a = **b**;\n  x_y_z\n```\nafter"), [
    t("look:"), { type: "codeblock", lang: "js", text: "let a = **b**;\n  x_y_z" }, t("after"),
  ]);
  assert.deepEqual(parse("```\nplain\n```"), [{ type: "codeblock", lang: "", text: "plain" }]);
  assert.deepEqual(parse("```\n```"), [{ type: "codeblock", lang: "", text: "" }]);
  // Unclosed: the fence line is text, and what follows is formatted as usual.
  assert.deepEqual(parse("```\n*a*"), [t("```\n"), node("em", t("a"))]);
  // Not a fence (more than one word after the backticks): inline code across the lines.
  assert.deepEqual(parse("```two words\nx\n```"), [{ type: "code", text: "two words\nx\n" }]);
});

test("quotes: > at the start of lines; consecutive lines are one quote", () => {
  assert.deepEqual(parse("> said *this*\n> and that\nreply"), [
    node("quote", t("said "), node("em", t("this")), t("\nand that")), t("reply"),
  ]);
  assert.deepEqual(parse("a > b"), [t("a > b")], "not at the start");
  assert.deepEqual(parse(">no space"), [t(">no space")]);
  assert.deepEqual(parse("\\> not quoted"), [t("> not quoted")]);
  assert.deepEqual(parse("x\n> q"), [t("x"), node("quote", t("q"))]);
});

test("bare http and https links; punctuation after them is not theirs", () => {
  const link = (href, text = href) => ({ type: "link", href, children: [t(text)] });
  assert.deepEqual(parse("see https://example.com/a_b_c."), [t("see "), link("https://example.com/a_b_c"), t(".")]);
  assert.deepEqual(parse("(http://e.org/wiki/Rust_(language))"), [t("("), link("http://e.org/wiki/Rust_(language)"), t(")")]);
  assert.deepEqual(parse("**https://e.org**"), [node("strong", link("https://e.org/", "https://e.org"))]);
  assert.deepEqual(parse("xhttps://e.org"), [t("xhttps://e.org")], "inside a word");
  assert.deepEqual(parse("ftp://e.org javascript:alert(1) mailto:a@b.c"), [t("ftp://e.org javascript:alert(1) mailto:a@b.c")]);
  assert.deepEqual(parse("https:// nothing"), [t("https:// nothing")]);
});

test("[text](url) links: http and https only; their text may be formatted", () => {
  assert.deepEqual(parse("[the **docs**](https://e.org/d?a=1&b=2)"), [
    { type: "link", href: "https://e.org/d?a=1&b=2", children: [t("the "), node("strong", t("docs"))] },
  ]);
  assert.deepEqual(parse("[x](javascript:alert(1))"), [t("[x](javascript:alert(1))")]);
  assert.deepEqual(parse("[x](data:text/html,<b>hi</b>)"), [t("[x](data:text/html,<b>hi</b>)")]);
  assert.deepEqual(parse("[x](JavaScript:alert(1))"), [t("[x](JavaScript:alert(1))")]);
  assert.deepEqual(parse("[x](//e.org)"), [t("[x](//e.org)")]);
  // Not a [text](url) link; the address alone is a bare link.
  assert.equal(parse("[x]( https://e.org)")[0].text, "[x]( ");
  assert.deepEqual(parse("[](https://e.org)")[0].type, "text", "no text: no link");
  // An image is shown as typed (its address is still a bare link).
  assert.equal(plainText(parse("![cat](https://e.org/c.png)")), "![cat](https://e.org/c.png)");
  assert.equal(parse("![cat](https://e.org/c.png)")[0].text, "![cat](");
  // No link inside a link's text.
  assert.deepEqual(parse("[https://a.org](https://b.org)"), [
    { type: "link", href: "https://b.org/", children: [t("https://a.org")] },
  ]);
});

test("backslash escapes the markers; before anything else it stays", () => {
  assert.deepEqual(parse("\\*not\\* \\_this\\_ \\~~no\\~~ \\`x\\` \\[a](https://e.org)"), [
    t("*not* _this_ ~~no~~ `x` [a]("), { type: "link", href: "https://e.org/", children: [t("https://e.org")] }, t(")"),
  ]);
  assert.deepEqual(parse("a \\\\ b \\q \\n"), [t("a \\ b \\q \\n")]);
  assert.deepEqual(parse("\\\\*a*"), [t("\\"), node("em", t("a"))]);
});

test("unclosed or unmatched markers stay as typed", () => {
  for (const text of ["**bold", "*it", "_it", "~~s", "[text](https://e.org", "a ** b ** c", "** nope**", "foo__bar__baz"]) {
    assert.equal(plainText(parse(text)), text, text);
  }
  // As in CommonMark, a closing _ may be followed by punctuation: `__init__.py` is safer in code.
  assert.deepEqual(parse("__init__.py"), [node("strong", t("init")), t(".py")]);
  assert.deepEqual(parse("*a **b*"), [t("*a *"), node("em", t("b"))]);
});

test("everything else (HTML, headings, lists) is text", () => {
  for (const text of ["<img src=x onerror=alert(1)>", "<b>bold</b>", "# heading", "- item\n- item", "| a | b |", "&amp; &lt;"]) {
    assert.deepEqual(parse(text), [t(text)], text);
  }
});

test("plainText is the visible text: markers go, the rest stays", () => {
  assert.equal(plainText(parse("**a** _b_ ~~c~~ `d` [e](https://e.org) > f")), "a b c d e > f");
  assert.equal(plainText(parse("> q\n```\ncode\n```\nend")), "qcodeend");
});

test("safeHref accepts absolute http(s) URLs only", () => {
  assert.equal(safeHref("https://e.org/a?b#c"), "https://e.org/a?b#c");
  assert.equal(safeHref("HTTP://E.ORG"), "http://e.org/");
  for (const bad of ["javascript:alert(1)", "data:text/html,x", "//e.org", "https://", "https:// e.org", "ftp://e.org", "/path", "", null, 42]) {
    assert.equal(safeHref(bad), null, String(bad));
  }
});

test("hostile and huge inputs parse in linear time", () => {
  const inputs = [
    "*".repeat(10000),
    "_".repeat(10000),
    "~".repeat(10000),
    "`".repeat(10000),
    "[".repeat(10000),
    "*a".repeat(5000),
    "_a ".repeat(3400),
    "**a *b ".repeat(1400),
    "[a](http://x".repeat(800),
    "`` ` ".repeat(2000),
    "https://e.org" + ")".repeat(10000),
    "http://".repeat(1400),
    "\\".repeat(10000),
    "> *a\n".repeat(2000),
    "```\n".repeat(2500),
    "*a _a ".repeat(800) + "x" + " a_ a*".repeat(800),
  ];
  for (const text of inputs) {
    const start = performance.now();
    const tree = parse(text);
    plainText(tree);
    const ms = performance.now() - start;
    assert.ok(ms < 100, `${JSON.stringify(text.slice(0, 12))}… (${text.length} chars) took ${ms.toFixed(1)} ms`);
  }
  assert.deepEqual(parse("*".repeat(10000)), [t("*".repeat(10000))]);
});

test("deep nesting still parses, and all the text is kept", () => {
  const text = "*a _a ".repeat(800) + "x" + " a_ a*".repeat(800);
  assert.equal(plainText(parse(text)).length, text.length - 3200);
});
