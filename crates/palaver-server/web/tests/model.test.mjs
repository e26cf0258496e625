// The web client's logic without a browser: node --test (run by `cargo test`, tests/web_logic.rs).
import test from "node:test";
import assert from "node:assert/strict";
import { ChatModel, KIND, mentions } from "../model.js";
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

test("/search asks the server and its results are listed where you are", () => {
  const here = { key: "general", name: "general", isRoom: true };
  assert.deepEqual(parse("/search deploy tonight", here).frame, { type: "search", query: "deploy tonight" });
  assert.ok(parse("/search", here).error);
  const m = new ChatModel();
  m.apply(welcome());
  m.apply({
    type: "search_results", query: "deploy", has_more: false,
    messages: [{ type: "message", id: 9, seq: 9, room: "rust", username: "bob", content: "deploy it", timestamp: "2026-11-29T10:05:00Z" }],
  });
  const lines = m.conversation("general").lines.map((l) => l.text);
  assert.match(lines.at(-2), /Search for "deploy": 1 found/);
  assert.match(lines.at(-1), /#rust <bob> deploy it/);
});
