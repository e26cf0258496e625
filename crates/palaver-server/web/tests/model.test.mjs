// The web client's logic without a browser: node --test (run by `cargo test`, tests/web_logic.rs).
import test from "node:test";
import assert from "node:assert/strict";
import { ChatModel, KIND, excerpt, highlight, mentions, queryWords } from "../model.js";
import { complete, hint, parse, Recall } from "../commands.js";

const welcome = (extra = {}) => ({
  type: "welcome", username: "alice", users: ["alice", "bob"], users_online: 2,
  rooms: [{ name: "general", topic: "hi", members: 2, last_seq: 4 }],
  history: [{ type: "message", id: 4, seq: 4, room: "general", username: "bob", content: "before", timestamp: "2026-11-29T10:00:00Z" }],
  resume_token: "t".repeat(64), ...extra,
});
const msg = (id, seq, username, content, room = "general") =>
  ({ type: "message", id, seq, room, username, content, timestamp: "2026-11-29T10:01:00Z" });

test("a welcome opens general with its window and starts its cursor there", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const general = m.conversation("general");
  assert.equal(general.lines.length, 1);
  assert.equal(general.cursor, 4);
  assert.equal(general.topic, "hi");
  assert.deepEqual(m.cursors(), { general: 4 });
});

test("unread and mention counts, and nothing twice", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.room("rust");
  m.apply(msg(5, 1, "bob", "hello alice, look", "rust"));
  m.apply(msg(6, 2, "bob", "anyone?", "rust"));
  m.apply(msg(6, 2, "bob", "anyone?", "rust"));
  const rust = m.conversation("rust");
  assert.equal(rust.lines.length, 2, "the same id is shown once");
  assert.equal(rust.unread, 2);
  assert.equal(rust.mentions, 1);
  assert.equal(rust.lines[0].mention, true);
  assert.equal(m.totalUnread(), 2);
  m.activate("rust");
  assert.equal(rust.unread, 0);
  assert.deepEqual(m.cursors(), { general: 4, rust: 2 });
});

test("kinds: own, others, private sent and received, actions", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply(msg(7, 5, "alice", "/me waves"));
  const own = m.conversation("general").lines.at(-1);
  assert.equal(own.kind, KIND.OWN);
  assert.equal(own.action, true);
  assert.equal(own.text, "waves");
  m.apply({ type: "private_message", id: 8, seq: 1, sender: "bob", target: "alice", content: "psst" });
  const dm = m.conversation("@bob");
  assert.equal(dm.lines[0].kind, KIND.PRIVATE_RECEIVED);
  assert.equal(dm.mentions, 1, "a private message counts as for you");
  m.apply({ type: "private_confirmation", id: 9, seq: 2, target: "bob", content: "back", delivered: true });
  assert.equal(dm.lines[1].kind, KIND.PRIVATE_SENT);
  assert.equal(dm.cursor, 2);
});

test("a message typed while disconnected is sent once, and an unconfirmed one only if the replay did not bring it", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const first = m.queue("general", "sent before the drop");
  m.markSent(first.ref);
  m.disconnected();
  const typed = m.queue("general", "typed while away");
  assert.deepEqual(m.unsent().map((e) => e.content), ["typed while away"]);
  // The replay carries the first one: it is confirmed, not sent again.
  m.apply(msg(10, 5, "alice", "sent before the drop"));
  m.afterResume();
  assert.deepEqual(m.unsent().map((e) => e.content), ["typed while away"]);
  m.markSent(typed.ref);
  m.apply({ type: "ack", ref: typed.ref, id: 11, seq: 6 });
  assert.equal(m.outbox.length, 0);
});

test("older pages go before what is shown, without repeats", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply({ type: "history", room: "general", has_more: false, messages: [msg(2, 2, "bob", "older"), msg(4, 4, "bob", "before")] });
  const general = m.conversation("general");
  assert.deepEqual(general.lines.map((l) => l.text), ["older", "before"]);
  assert.equal(general.hasMore, false);
  assert.equal(general.oldestSeq(), 2);
});

test("mentions are whole words in any case", () => {
  assert.ok(mentions("hey Alice!", "alice"));
  assert.ok(mentions("@alice look", "alice"));
  assert.ok(!mentions("malice aforethought", "alice"));
});

test("commands become requests; plain text is a message", () => {
  const room = { key: "general", name: "general", isRoom: true };
  assert.deepEqual(parse("hello", room), { send: "hello" });
  assert.deepEqual(parse("/me waves", room), { send: "/me waves" });
  assert.deepEqual(parse("/join #rust", room).frame, { type: "join_room", room: "rust" });
  assert.deepEqual(parse("/msg bob hi there", room).frame, { type: "private_message", target: "bob", content: "hi there" });
  assert.deepEqual(parse("/topic New topic", room).frame, { type: "topic", room: "general", topic: "New topic" });
  assert.ok(parse("/nope", room).error.includes("Unknown command"));
  assert.ok(parse("/leave", { key: "@bob", name: "bob", isRoom: false }).error);
  assert.ok(hint("/jo").startsWith("/join #room"));
});

test("Tab completes names and Up recalls", () => {
  const done = complete("bo", 2, new Set(["bob", "carol"]));
  assert.deepEqual(done, { text: "bob: ", caret: 5 });
  assert.equal(complete("hi ca", 5, ["carol"]).text, "hi carol ");
  const r = new Recall();
  r.push("one");
  r.push("two");
  assert.equal(r.up(), "two");
  assert.equal(r.up(), "one");
  assert.equal(r.down(), "two");
});

test("mode changes show as lines and keep the room's mode letters", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply({ type: "mode_changed", room: "general", username: "bob", modes: "+mk", params: ["pw"], timestamp: "2026-11-29T10:02:00Z" });
  const general = m.conversation("general");
  assert.equal(general.modes, "+nmk");
  assert.match(general.lines.at(-1).text, /bob sets mode \+mk pw/);
  m.apply({ type: "mode_changed", room: "general", username: "bob", modes: "-m+v", params: ["alice"], timestamp: "2026-11-29T10:03:00Z" });
  assert.equal(general.modes, "+nk");
  m.apply({ type: "invited", room: "den", username: "alice", by: "bob" });
  assert.match(general.lines.at(-1).text, /bob invites you to #den/);
});

test("/mode, /op, /voice and /invite become mode and invite requests", () => {
  const here = { key: "general", name: "general", isRoom: true };
  assert.deepEqual(parse("/mode +kl secret 5", here).frame, { type: "mode", room: "general", modes: "+kl", params: ["secret", "5"] });
  assert.deepEqual(parse("/mode", here).frame, { type: "mode", room: "general" });
  assert.deepEqual(parse("/mode #den +m", here).frame, { type: "mode", room: "den", modes: "+m" });
  assert.deepEqual(parse("/voice bob", here).frame, { type: "mode", room: "general", modes: "+v", params: ["bob"] });
  assert.deepEqual(parse("/invite bob", here).frame, { type: "invite", room: "general", username: "bob" });
  assert.deepEqual(parse("/join #den pw", here).frame, { type: "join_room", room: "den", key: "pw" });
});

test("/search asks the server; results fill the search panel, newest first, paged with before_id", () => {
  const here = { key: "general", name: "general", isRoom: true };
  assert.deepEqual(parse("/search deploy tonight", here).frame, { type: "search", query: "deploy tonight" });
  assert.ok(parse("/search", here).error);
  const m = new ChatModel();
  m.apply(welcome());
  // A result without a ref (as the /search command's) still opens the list.
  m.apply({
    type: "search_results", query: "deploy", has_more: false,
    messages: [{ type: "message", id: 9, seq: 9, room: "rust", username: "bob", content: "deploy it", timestamp: "2026-11-29T10:05:00Z" }],
  });
  assert.equal(m.search.query, "deploy");
  assert.deepEqual(m.search.results.map((r) => [r.id, r.key, r.where, r.username, r.content]), [[9, "rust", "#rust", "bob", "deploy it"]]);

  const frame = m.searchRequest("deploy", { room: "general" });
  assert.deepEqual(frame, { type: "search", query: "deploy", room: "general", ref: frame.ref });
  assert.equal(m.search.loading, true);
  assert.equal(m.moreSearchRequest(), null, "no next page before the first");
  m.apply({
    type: "search_results", query: "deploy", has_more: true, ref: frame.ref,
    messages: [
      { type: "message", id: 30, seq: 12, room: "general", username: "bob", content: "deploy now", timestamp: "2026-11-29T11:00:00Z" },
      { type: "private_message", id: 20, seq: 3, sender: "alice", target: "Carol", content: "deployed?", timestamp: "2026-11-29T10:00:00Z" },
    ],
  });
  assert.equal(m.search.results.length, 2, "a new search starts a new list");
  assert.deepEqual(m.search.results[1], {
    id: 20, seq: 3, key: "@carol", room: null, with: "Carol", where: "@Carol", username: "alice",
    content: "deployed?", time: new Date("2026-11-29T10:00:00Z"),
  });
  const more = m.moreSearchRequest();
  assert.deepEqual(more, { type: "search", query: "deploy", room: "general", before_id: 20, ref: more.ref });
  assert.equal(m.moreSearchRequest(), null, "one page at a time");
  // A late page of an older search is dropped.
  m.apply({ type: "search_results", query: "x", has_more: false, ref: frame.ref, messages: [msg(99, 1, "bob", "x")] });
  assert.equal(m.search.results.length, 2);
  m.apply({ type: "search_results", query: "deploy", has_more: false, ref: more.ref, messages: [msg(10, 2, "bob", "deploy old")] });
  assert.deepEqual(m.search.results.map((r) => r.id), [30, 20, 10]);
  assert.equal(m.search.hasMore, false);
  // An error answering a search ends its loading.
  const failing = m.searchRequest("x", { room: "nowhere" });
  m.apply({ type: "error", code: "not_in_room", message: "You are not in #nowhere.", ref: failing.ref });
  assert.equal(m.search.loading, false);
  assert.equal(m.search.error, "You are not in #nowhere.");
});

test("the query's words are highlighted as the server matches: word prefixes, any case or accent", () => {
  const marked = (text, query) => highlight(text, query).map((p) => (p.mark ? `[${p.text}]` : p.text)).join("");
  assert.equal(marked("Deploying tonight, redeploy later", "deploy"), "[Deploy]ing tonight, redeploy later");
  assert.equal(marked("Café au lait", "cafe LAIT"), "[Café] au [lait]");
  assert.equal(marked("Cafe\u0301 ok", "cafe"), "[Cafe\u0301] ok", "a combining accent stays with its letter");
  assert.equal(marked("no match here", "zzz"), "no match here");
  assert.deepEqual(highlight("plain", ""), [{ text: "plain", mark: false }]);
  assert.deepEqual(queryWords("  deploy,  To-night "), ["deploy", "to", "night"]);
});

// ----- reactions, replies, edits and deletions -----

const change = (type, fields) => ({ type, timestamp: "2026-11-29T10:09:00Z", ...fields });

test("history shows messages as they are now: replies, edits, deletions, reactions", () => {
  const m = new ChatModel();
  m.apply(welcome({
    history: [
      { ...msg(4, 4, "bob", "first"), reactions: [{ emoji: "👍", users: ["carol", "alice"] }, { emoji: "x", users: [] }] },
      { ...msg(5, 5, "alice", "answer"), reply_to: 4, reply_preview: { username: "bob", content: "first" }, edited: "2026-11-29T10:02:00Z" },
      { ...msg(6, 6, "bob", ""), deleted: true, reactions: [{ emoji: "👍", users: ["bob"] }] },
      { ...msg(7, 7, "carol", "to the deleted one"), reply_to: 3 },
    ],
  }));
  const general = m.conversation("general");
  const [first, answer, gone, orphan] = general.lines;
  assert.deepEqual(first.reactions, [{ emoji: "👍", users: ["carol", "alice"] }], "reactions without users are dropped");
  assert.equal(m.reacted(first, "👍"), true);
  assert.equal(answer.replyTo, 4);
  assert.deepEqual(answer.replyPreview, { username: "bob", content: "first" });
  assert.deepEqual(answer.edited, new Date("2026-11-29T10:02:00Z"));
  assert.equal(gone.deleted, true);
  assert.deepEqual(gone.reactions, []);
  assert.deepEqual(m.replyPreviewOf(general, answer), { username: "bob", content: "first" });
  assert.deepEqual(m.replyPreviewOf(general, orphan), { deleted: true }, "no preview: that message was deleted");
  assert.equal(m.replyPreviewOf(general, first), null);
});

test("reactions: who and whether, idempotent, in the order first given; they move the cursor", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const general = m.conversation("general");
  const target = general.message(4);
  m.apply(change("reaction", { id: 4, seq: 5, room: "general", username: "bob", emoji: "👍", added: true }));
  m.apply(change("reaction", { id: 4, seq: 5, room: "general", username: "bob", emoji: "👍", added: true }));
  m.apply(change("reaction", { id: 4, seq: 6, room: "General", username: "alice", emoji: "🎉", added: true }));
  m.apply(change("reaction", { id: 4, seq: 7, room: "general", username: "ALICE", emoji: "👍", added: true }));
  assert.deepEqual(target.reactions, [{ emoji: "👍", users: ["bob", "ALICE"] }, { emoji: "🎉", users: ["alice"] }]);
  assert.equal(m.reacted(target, "👍"), true, "names are compared without case");
  assert.equal(general.cursor, 7);
  assert.deepEqual(m.cursors(), { general: 7 });
  m.apply(change("reaction", { id: 4, seq: 8, room: "general", username: "alice", emoji: "🎉", added: false }));
  m.apply(change("reaction", { id: 4, seq: 8, room: "general", username: "alice", emoji: "🎉", added: false }));
  assert.deepEqual(target.reactions, [{ emoji: "👍", users: ["bob", "ALICE"] }], "an emoji nobody gives any more goes");
  assert.equal(general.unread, 0, "changes are not unread messages");
  // A change to a message never loaded is ignored, but still moves the cursor.
  const outcome = m.apply(change("reaction", { id: 1234, seq: 9, room: "general", username: "bob", emoji: "👍", added: true }));
  assert.equal(outcome.changed, false);
  assert.equal(general.cursor, 9);
  // A change in a conversation we do not have is ignored.
  assert.equal(m.apply(change("reaction", { id: 4, seq: 1, room: "elsewhere", username: "bob", emoji: "👍", added: true })).changed, false);
  assert.equal(m.conversation("elsewhere"), null);
});

test("edits replace the text and mark the time; deletions blank it; a deleted message takes no more changes", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply(msg(5, 5, "alice", "helo"));
  m.apply({ ...msg(6, 6, "bob", "reply"), reply_to: 5, reply_preview: { username: "alice", content: "helo" } });
  const general = m.conversation("general");
  const mine = general.message(5);
  m.apply(change("edited", { id: 5, seq: 7, room: "general", username: "alice", content: "/me says hello" }));
  assert.equal(mine.content, "/me says hello");
  assert.equal(mine.text, "says hello");
  assert.equal(mine.action, true);
  assert.deepEqual(mine.edited, new Date("2026-11-29T10:09:00Z"));
  assert.deepEqual(general.message(6).replyPreview, { username: "alice", content: "/me says hello" }, "replies quote the new text");
  assert.equal(general.cursor, 7);

  const other = general.message(4);
  m.apply(change("edited", { id: 4, seq: 8, room: "general", username: "bob", content: "now for alice" }));
  assert.equal(other.mention, true, "an edit can mention you");

  m.apply(change("reaction", { id: 5, seq: 9, room: "general", username: "bob", emoji: "👍", added: true }));
  m.apply(change("deleted", { id: 5, seq: 10, room: "general", username: "alice" }));
  assert.equal(mine.deleted, true);
  assert.equal(mine.text, "");
  assert.deepEqual(mine.reactions, []);
  assert.equal(general.message(6).replyPreview, null);
  assert.deepEqual(m.replyPreviewOf(general, general.message(6)), { deleted: true });
  m.apply(change("edited", { id: 5, seq: 11, room: "general", username: "alice", content: "back?" }));
  m.apply(change("reaction", { id: 5, seq: 12, room: "general", username: "bob", emoji: "👍", added: true }));
  assert.equal(mine.text, "", "an edit of a deleted message is ignored");
  assert.deepEqual(mine.reactions, []);
  assert.equal(general.cursor, 12);
  m.apply(change("deleted", { id: 5, seq: 10, room: "general", username: "alice" }));
  assert.equal(mine.deleted, true, "applying it again changes nothing");
});

test("a private change belongs to target when we made it, to username otherwise", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply({ type: "private_message", id: 8, seq: 1, sender: "bob", target: "alice", content: "psst" });
  m.apply({ type: "private_confirmation", id: 9, seq: 2, target: "bob", content: "yes?", delivered: true });
  const dm = m.conversation("@bob");
  m.apply(change("reaction", { id: 8, seq: 3, target: "bob", username: "alice", emoji: "👀", added: true }));
  m.apply(change("edited", { id: 9, seq: 4, target: "bob", username: "Alice", content: "yes!" }));
  m.apply(change("reaction", { id: 9, seq: 5, target: "alice", username: "Bob", emoji: "❤️", added: true }));
  assert.deepEqual(dm.message(8).reactions, [{ emoji: "👀", users: ["alice"] }]);
  assert.equal(dm.message(9).text, "yes!");
  assert.deepEqual(dm.message(9).reactions, [{ emoji: "❤️", users: ["Bob"] }]);
  assert.deepEqual(m.cursors(), { general: 4, "@bob": 5 });
});

test("a reply carries reply_to; Up edits our newest message still there", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const entry = m.queue("general", "indeed", { replyTo: 4 });
  assert.deepEqual(ChatModel.frameOf(entry), { type: "message", room: "general", content: "indeed", ref: entry.ref, reply_to: 4 });
  assert.equal(ChatModel.frameOf(m.queue("general", "plain")).reply_to, undefined);
  m.apply({ type: "private_message", id: 8, seq: 1, sender: "bob", target: "alice", content: "psst" });
  const dm = m.queue("@bob", "sure", { replyTo: 8 });
  assert.deepEqual(ChatModel.frameOf(dm), { type: "private_message", target: "bob", content: "sure", ref: dm.ref, reply_to: 8 });

  assert.equal(m.lastOwnMessage("general"), null);
  m.apply(msg(5, 5, "alice", "one"));
  m.apply(msg(6, 6, "alice", "two"));
  m.apply(msg(7, 7, "bob", "three"));
  assert.equal(m.lastOwnMessage("general").id, 6);
  m.apply(change("deleted", { id: 6, seq: 8, room: "general", username: "alice" }));
  assert.equal(m.lastOwnMessage("general").id, 5);
  assert.equal(excerpt("a long line\nand more", 8), "a long …");
  assert.equal(excerpt("short"), "short");
});

test("a jump to a message not loaded shows a window around it, then fills the gap up to the newest", () => {
  const m = new ChatModel();
  m.apply(welcome({ history: [msg(100, 100, "bob", "newest a"), msg(101, 101, "bob", "newest b")] }));
  const general = m.conversation("general");
  const around = m.aroundRequest("general", 50, 3);
  assert.deepEqual(around, { type: "history", room: "general", around_id: 50, limit: 3, ref: around.ref });
  m.apply({ type: "history", room: "general", ref: around.ref, has_more: true, messages: [msg(49, 49, "bob", "a"), msg(50, 50, "bob", "b"), msg(51, 51, "bob", "c")] });
  assert.deepEqual(general.lines.map((l) => l.kind === KIND.GAP ? "gap" : l.id), [49, 50, 51, "gap", 100, 101]);
  assert.ok(general.message(50));
  assert.equal(general.cursor, 101, "history does not move the cursor");
  // Older pages still go before everything.
  const older = m.olderRequest("general", 2);
  assert.equal(older.before, 49);
  m.apply({ type: "history", room: "general", ref: older.ref, has_more: true, messages: [msg(47, 47, "bob", "y"), msg(48, 48, "bob", "z")] });
  assert.deepEqual(general.lines.map((l) => l.kind === KIND.GAP ? "gap" : l.id), [47, 48, 49, 50, 51, "gap", 100, 101]);
  // The gap fills forwards, one page at a time, until it meets the newest.
  const newer = m.newerRequest("general", 2);
  assert.deepEqual(newer, { type: "history", room: "general", after_id: 51, oldest_first: true, limit: 2, ref: newer.ref });
  assert.equal(m.newerRequest("general", 2), null, "one at a time");
  m.apply({ type: "history", room: "general", ref: newer.ref, has_more: true, messages: [msg(60, 60, "bob", "d"), msg(70, 70, "bob", "e")] });
  assert.deepEqual(general.lines.map((l) => l.kind === KIND.GAP ? "gap" : l.id), [47, 48, 49, 50, 51, 60, 70, "gap", 100, 101]);
  const last = m.newerRequest("general", 2);
  assert.equal(last.after_id, 70);
  m.apply({ type: "history", room: "general", ref: last.ref, has_more: true, messages: [msg(90, 90, "bob", "f"), msg(100, 100, "bob", "newest a")] });
  assert.deepEqual(general.lines.map((l) => l.id), [47, 48, 49, 50, 51, 60, 70, 90, 100, 101]);
  assert.equal(general.gap(), null);
});

test("a window that meets what is shown joins it; a new jump drops an old window", () => {
  const m = new ChatModel();
  m.apply(welcome({ history: [msg(10, 10, "bob", "j"), msg(11, 11, "bob", "k")] }));
  const general = m.conversation("general");
  const around = m.aroundRequest("general", 8, 6);
  m.apply({ type: "history", room: "general", ref: around.ref, has_more: true, messages: [msg(7, 7, "bob", "g"), msg(8, 8, "bob", "h"), msg(9, 9, "bob", "i"), msg(10, 10, "bob", "j")] });
  assert.deepEqual(general.lines.map((l) => l.id), [7, 8, 9, 10, 11]);
  const far = m.aroundRequest("general", 2, 2);
  m.apply({ type: "history", room: "general", ref: far.ref, has_more: true, messages: [msg(2, 2, "bob", "b"), msg(3, 3, "bob", "c")] });
  assert.deepEqual(general.lines.map((l) => l.kind === KIND.GAP ? "gap" : l.id), [2, 3, "gap", 7, 8, 9, 10, 11]);
  // Leaving the window while a page of the gap is on its way: the page is dropped.
  const newer = m.newerRequest("general", 2);
  m.dropWindow(general);
  m.apply({ type: "history", room: "general", ref: newer.ref, has_more: true, messages: [msg(4, 4, "bob", "d"), msg(5, 5, "bob", "e")] });
  assert.deepEqual(general.lines.map((l) => l.id), [7, 8, 9, 10, 11]);
  const again = m.aroundRequest("general", 2, 2);
  m.apply({ type: "history", room: "general", ref: again.ref, has_more: true, messages: [msg(2, 2, "bob", "b"), msg(3, 3, "bob", "c")] });
  assert.ok(general.gap());
  m.aroundRequest("general", 1, 2);
  assert.deepEqual(general.lines.map((l) => l.id), [7, 8, 9, 10, 11], "the old window goes");
  assert.equal(general.message(2), null);
  // A dropped connection forgets the requests: nothing stays loading.
  assert.ok(m.olderRequest("general"));
  assert.equal(general.loading, true);
  m.disconnected();
  assert.equal(general.loading, false);
  assert.equal(m.historyRequests.size, 0);
  assert.ok(m.olderRequest("general"), "it can be asked again");
});

test("attachments: live, in history and search; a deletion drops them; quotes and notices name them", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const cat = { id: "F1", name: "cat.png", size: 1234, content_type: "image/png", url: "/files/F1/cat.png?e=9&s=x" };
  const pdf = { id: "F2", name: "report.pdf", size: 99, content_type: "application/pdf", url: "/files/F2/report.pdf?e=9&s=y" };
  m.apply({ ...msg(10, 5, "bob", ""), attachments: [cat] });
  const general = m.conversation("general");
  const line = general.message(10);
  assert.deepEqual(line.attachments, [{ id: "F1", name: "cat.png", size: 1234, contentType: "image/png", url: cat.url }]);
  m.apply({ type: "history", room: "general", has_more: false, messages: [{ ...msg(2, 2, "bob", "older"), attachments: [pdf] }] });
  assert.equal(general.message(2).attachments[0].name, "report.pdf");

  // A reply quotes the files of a message without text.
  m.apply({ ...msg(11, 6, "carol", "nice", "general"), reply_to: 10, reply_preview: { username: "bob", content: "" } });
  assert.deepEqual(m.replyPreviewOf(general, general.message(11)).attachments.map((a) => a.name), ["cat.png"]);

  m.apply({ type: "deleted", id: 10, room: "general", username: "bob", seq: 7 });
  assert.deepEqual(line.attachments, [], "a deleted message keeps no files");
  assert.deepEqual(m.replyPreviewOf(general, general.message(11)), { deleted: true });
  m.apply({ ...msg(12, 8, "bob", "", "general"), attachments: [pdf], deleted: true });
  assert.deepEqual(general.message(12).attachments, []);

  const frame = m.searchRequest("report");
  m.apply({ type: "search_results", ref: frame.ref, has_more: false, messages: [{ ...msg(2, 2, "bob", "older"), attachments: [pdf] }] });
  assert.equal(m.search.results[0].attachments[0].name, "report.pdf");

  const out = m.apply({ type: "private_message", id: 20, seq: 1, sender: "bob", target: "alice", content: "", attachments: [pdf] });
  assert.equal(out.notify.body, "📎 report.pdf");
});

test("a message queued with files sends their ids; a refused upload is no line", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const entry = m.queue("general", "look", { attachments: [{ id: "F1", name: "a.txt", size: 1, contentType: "text/plain" }] });
  assert.deepEqual(ChatModel.frameOf(entry).attachments, ["F1"]);
  assert.equal(ChatModel.frameOf(m.queue("general", "plain")).attachments, undefined);
  const before = m.conversation("general").lines.length;
  m.apply({ type: "error", code: "file_too_large", message: "too big", ref: "upload-f1-2" });
  assert.equal(m.conversation("general").lines.length, before);
});

test("a reply to one of my messages notifies me, a reply to someone else's does not", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply(msg(5, 5, "alice", "who is in?"));
  const mine = m.apply({ ...msg(6, 6, "bob", "me!"), reply_to: 5, reply_preview: { username: "alice", content: "who is in?" } });
  assert.equal(mine.notify?.title, "bob replied to you in #general");
  const theirs = m.apply({ ...msg(7, 7, "carol", "me too"), reply_to: 4, reply_preview: { username: "bob", content: "before" } });
  assert.equal(theirs.notify ?? null, null);
  const unknown = m.apply({ ...msg(8, 8, "dave", "late"), reply_to: 1, reply_preview: { username: "Alice", content: "old" } });
  assert.equal(unknown.notify?.title, "dave replied to you in #general", "known only by its preview");
});
