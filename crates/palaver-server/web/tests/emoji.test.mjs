// The emoji picker's and composer's logic, with a small table shaped like /emoji.json.
import test from "node:test";
import assert from "node:assert/strict";
import {
  EmojiTable, applyCompletion, completions, filterEmoji, gridMove, groupEmoji, insertAt,
  pushRecent, replaceShortcodes, shortcodeQuery,
} from "../emoji.js";

const FIXTURE = [
  { e: "😀", n: "grinning face", s: ["grinning"], g: "Smileys & Emotion" },
  { e: "😂", n: "face with tears of joy", s: ["joy"], g: "Smileys & Emotion" },
  { e: "🤔", n: "thinking face", s: ["thinking"], g: "Smileys & Emotion" },
  { e: "👍", n: "thumbs up", s: ["+1", "thumbsup"], g: "People & Body" },
  { e: "👎", n: "thumbs down", s: ["-1", "thumbsdown"], g: "People & Body" },
  { e: "🙏", n: "folded hands", s: ["pray"], g: "People & Body" },
  { e: "🐈", n: "cat", s: ["cat2"], g: "Animals & Nature" },
  { e: "🐱", n: "cat face", s: ["cat"], g: "Animals & Nature" },
  { e: "🎉", n: "party popper", s: ["tada"], g: "Activities" },
  { e: "🧵", n: "thread", s: ["thread"], g: "Activities" },
  { bad: true },
  { e: "", n: "empty" },
];
const table = new EmojiTable(FIXTURE);

test("the table skips malformed entries and finds shortcodes in any case", () => {
  assert.equal(table.entries.length, 10);
  assert.equal(table.code("THUMBSUP").e, "👍");
  assert.equal(table.code("+1").e, "👍");
  assert.equal(table.code("nope"), null);
  assert.equal(table.label("👍"), ":+1:");
  assert.equal(table.label("🫠"), "");
  assert.equal(new EmojiTable("not a list").entries.length, 0);
});

test("groups keep the table's order", () => {
  const groups = groupEmoji(table.entries);
  assert.deepEqual(groups.map((g) => [g.name, g.items.length]), [
    ["Smileys & Emotion", 3], ["People & Body", 3], ["Animals & Nature", 2], ["Activities", 2],
  ]);
});

test("the picker's filter: exact shortcode, then shortcode prefix, then name words, then anywhere", () => {
  assert.equal(filterEmoji(table, "").length, 10);
  assert.deepEqual(filterEmoji(table, "cat").map((x) => x.e), ["🐱", "🐈"]);
  assert.deepEqual(filterEmoji(table, ":thumbs").map((x) => x.e), ["👍", "👎"]);
  assert.deepEqual(filterEmoji(table, "Face").map((x) => x.e), ["😀", "😂", "🤔", "🐱"]);
  assert.deepEqual(filterEmoji(table, "hands").map((x) => x.e), ["🙏"]);
  assert.deepEqual(filterEmoji(table, "ray").map((x) => x.e), ["🙏"], "inside a shortcode");
  assert.deepEqual(filterEmoji(table, "zzz"), []);
});

test("a :shortcode is completed once two characters follow the colon, not inside code or a word", () => {
  assert.equal(shortcodeQuery(":t", 2), null, "one character is not enough");
  assert.deepEqual(shortcodeQuery(":th", 3), { start: 0, query: "th" });
  assert.deepEqual(shortcodeQuery("nice :THU", 9), { start: 5, query: "thu" });
  assert.deepEqual(shortcodeQuery("(:+1", 4), { start: 1, query: "+1" });
  assert.equal(shortcodeQuery("at 12:30", 8), null, "a time is not a shortcode");
  assert.equal(shortcodeQuery("see http://x:80", 15), null);
  assert.equal(shortcodeQuery("`code :thu", 10), null, "inside backticks");
  assert.deepEqual(shortcodeQuery("`code` :thu", 11), { start: 7, query: "thu" });
  assert.deepEqual(shortcodeQuery("a :thu and more", 6), { start: 2, query: "thu" }, "only what is before the caret");
});

test("completions: shortcode prefixes first, then names containing the text, at most 8", () => {
  assert.deepEqual(completions(table, "th").map((x) => x.e), ["🤔", "👍", "👎", "🧵", "😂"], "then \"wi*th*\" in a name");
  assert.deepEqual(completions(table, "thu").map((x) => x.e), ["👍", "👎"]);
  assert.deepEqual(completions(table, "face").map((x) => x.e), ["😀", "😂", "🤔", "🐱"], "by name");
  assert.deepEqual(completions(table, "ca").map((x) => x.e), ["🐈", "🐱"]);
  assert.equal(completions(table, "a", 3).length, 3);
  assert.deepEqual(completions(table, ""), []);
  assert.deepEqual(applyCompletion("nice :thu!", 5, 9, "👍"), { text: "nice 👍!", caret: 7 });
  assert.deepEqual(insertAt("ab", 1, 1, "🎉"), { text: "a🎉b", caret: 3 });
  assert.deepEqual(insertAt("a big b", 2, 5, "🎉"), { text: "a 🎉 b", caret: 4 });
});

test("on send, known :shortcodes: become emoji; unknown ones and code stay as typed", () => {
  assert.equal(replaceShortcodes("great :+1: :tada:", table), "great 👍 🎉");
  assert.equal(replaceShortcodes(":Thumbsup::joy:", table), "👍😂");
  assert.equal(replaceShortcodes("keep :unknown: and : spaced :", table), "keep :unknown: and : spaced :");
  assert.equal(replaceShortcodes("at 10:30:00 ok", table), "at 10:30:00 ok");
  assert.equal(replaceShortcodes("`:tada:` but :tada:", table), "`:tada:` but 🎉");
  assert.equal(replaceShortcodes("```\n:joy:\n``` :joy:", table), "```\n:joy:\n``` 😂");
  assert.equal(replaceShortcodes("an open ` :joy:", table), "an open ` 😂", "a lone backtick is not code");
});

test("arrow keys move over groups laid out in rows", () => {
  // Two groups of 5 and 3 in rows of 4: [0 1 2 3] [4] [5 6 7].
  const sizes = [5, 3];
  assert.equal(gridMove(sizes, 0, "ArrowRight", 4), 1);
  assert.equal(gridMove(sizes, 7, "ArrowRight", 4), 7);
  assert.equal(gridMove(sizes, 0, "ArrowLeft", 4), 0);
  assert.equal(gridMove(sizes, 2, "ArrowDown", 4), 4, "to the short row's last item");
  assert.equal(gridMove(sizes, 4, "ArrowDown", 4), 5);
  assert.equal(gridMove(sizes, 7, "ArrowUp", 4), 4);
  assert.equal(gridMove(sizes, 4, "ArrowUp", 4), 0);
  assert.equal(gridMove(sizes, 1, "ArrowUp", 4), 1);
  assert.equal(gridMove(sizes, 6, "ArrowDown", 4), 6);
  assert.equal(gridMove(sizes, 3, "End", 4), 7);
  assert.equal(gridMove(sizes, 3, "Home", 4), 0);
  assert.equal(gridMove([], 0, "ArrowDown", 4), -1);
});

test("recently used emoji: newest first, no repeats, bounded", () => {
  let recent = pushRecent([], "👍");
  recent = pushRecent(recent, "🎉");
  recent = pushRecent(recent, "👍");
  assert.deepEqual(recent, ["👍", "🎉"]);
  assert.equal(pushRecent(["a", "b", "c"], "d", 3).join(""), "dab");
});
