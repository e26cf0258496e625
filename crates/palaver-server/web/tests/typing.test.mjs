// Typing notifications (typing.js, and the model's handling of `typing` frames): what we send
// as we type, who is shown typing and when they expire, on a clock the tests move by hand.
import test from "node:test";
import assert from "node:assert/strict";
import { TYPING, TYPING_REF, TypingSender, TypingTracker, typingSentence } from "../typing.js";
import { ChatModel } from "../model.js";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t, advance: (ms) => (c.t += ms) };
  return c;
}
const general = { key: "general", name: "general", isRoom: true };
const bob = { key: "@bob", name: "bob", isRoom: false };
const states = (frames) => frames.map((f) => f.state);

test("typing sends active at once, then at most every 3 s while it goes on", () => {
  const c = clock();
  const s = new TypingSender(c.now);
  assert.deepEqual(s.typed(general, "h"), [{ type: "typing", room: "general", state: "active", ref: TYPING_REF }]);
  c.advance(1000);
  assert.deepEqual(s.typed(general, "he"), []);
  c.advance(1999);
  assert.deepEqual(s.typed(general, "hel"), []);
  c.advance(1);
  assert.deepEqual(states(s.typed(general, "hell")), ["active"]);
  assert.deepEqual(s.typed(bob, "x").map((f) => [f.target, f.room, f.state]), [
    [undefined, "general", "done"], ["bob", undefined, "active"],
  ], "another conversation: done here, active there");
});

test("paused after 5 s without a key; typing again is active at once", () => {
  const c = clock();
  const s = new TypingSender(c.now);
  s.typed(general, "a");
  assert.equal(s.nextTick(), TYPING.PAUSE_AFTER_MS);
  c.advance(4000);
  assert.deepEqual(s.tick(), []);
  assert.equal(s.nextTick(), 1000);
  c.advance(1000);
  assert.deepEqual(states(s.tick()), ["paused"]);
  assert.deepEqual(s.tick(), [], "once");
  assert.equal(s.nextTick(), null);
  c.advance(100);
  assert.deepEqual(states(s.typed(general, "ab")), ["active"]);
});

test("done when sent or cleared, once; nothing when nothing was said", () => {
  const c = clock();
  const s = new TypingSender(c.now);
  assert.deepEqual(s.finished(), []);
  s.typed(general, "hello");
  assert.deepEqual(states(s.finished()), ["done"]);
  assert.deepEqual(s.finished(), []);
  s.typed(general, "hello");
  c.advance(500);
  assert.deepEqual(states(s.typed(general, "")), ["done"], "cleared");
  assert.deepEqual(s.typed(general, "   "), [], "blank is not typing");
  s.typed(general, "x");
  c.advance(6000);
  s.tick();
  assert.deepEqual(states(s.finished()), ["done"], "after a pause too");
});

test("commands are not typing", () => {
  const c = clock();
  const s = new TypingSender(c.now);
  assert.deepEqual(s.typed(general, "/"), []);
  assert.deepEqual(s.typed(general, "/join #rust"), []);
  assert.deepEqual(s.typed(general, "  /me waves"), []);
  s.typed(general, "hi");
  assert.deepEqual(states(s.typed(general, "/nick")), ["done"], "turning into a command");
  s.reset();
  assert.deepEqual(s.finished(), [], "a reset forgets");
});

test("who is typing: active lasts 30 s, paused 6 s, done ends it", () => {
  const c = clock();
  const t = new TypingTracker(c.now);
  t.update("general", "bob", "active");
  t.update("general", "carol", "active");
  assert.deepEqual(t.names("general"), ["bob", "carol"]);
  assert.deepEqual(t.names("rust"), []);
  t.update("general", "carol", "done");
  assert.deepEqual(t.names("general"), ["bob"]);
  c.advance(TYPING.ACTIVE_TTL_MS - 1);
  assert.deepEqual(t.names("general"), ["bob"]);
  t.update("general", "bob", "active");
  c.advance(TYPING.ACTIVE_TTL_MS - 1);
  assert.deepEqual(t.names("general"), ["bob"], "a new active starts the 30 s again");
  t.update("general", "bob", "paused");
  c.advance(TYPING.PAUSED_TTL_MS - 1);
  assert.deepEqual(t.names("general"), ["bob"]);
  assert.equal(t.nextExpiry(), 1);
  c.advance(1);
  assert.deepEqual(t.names("general"), []);
  assert.equal(t.nextExpiry(), null);
});

test("names compare case-insensitively; odd states and names are ignored", () => {
  const c = clock();
  const t = new TypingTracker(c.now);
  t.update("general", "Bob", "active");
  t.update("general", "bob", "active");
  assert.deepEqual(t.names("general"), ["bob"]);
  assert.equal(t.stopped("general", "BOB"), true);
  assert.deepEqual(t.names("general"), []);
  assert.equal(t.update("general", "bob", "dancing"), false);
  assert.equal(t.update("general", "", "active"), false);
  assert.deepEqual(t.names("general"), []);
});

test("nextExpiry looks at every conversation and forgets what expired", () => {
  const c = clock();
  const t = new TypingTracker(c.now);
  t.update("rust", "dan", "paused");
  t.update("general", "bob", "active");
  assert.equal(t.nextExpiry(), TYPING.PAUSED_TTL_MS);
  c.advance(TYPING.PAUSED_TTL_MS);
  assert.equal(t.nextExpiry(), TYPING.ACTIVE_TTL_MS - TYPING.PAUSED_TTL_MS);
  t.clear();
  assert.equal(t.nextExpiry(), null);
});

test("the sentence under the log", () => {
  assert.equal(typingSentence([]), "");
  assert.equal(typingSentence(["bob"]), "bob is typing…");
  assert.equal(typingSentence(["bob", "carol"]), "bob and carol are typing…");
  assert.equal(typingSentence(["bob", "carol", "dan"]), "several people are typing…");
});

test("the model keeps typing frames per conversation, not ours, and drops them on a message", () => {
  const c = clock();
  const m = new ChatModel();
  m.typing = new TypingTracker(c.now);
  m.apply({ type: "welcome", username: "alice", users: ["alice", "bob"], rooms: [{ name: "general" }], history: [] });
  const out = m.apply({ type: "typing", room: "General", username: "bob", state: "active" });
  assert.equal(out.typing, true);
  assert.equal(out.key, "general");
  m.apply({ type: "typing", room: "general", username: "ALICE", state: "active" });
  assert.deepEqual(m.typing.names("general"), ["bob"], "our own name is ignored");
  m.apply({ type: "typing", target: "alice", username: "carol", state: "paused" });
  assert.deepEqual(m.typing.names("@carol"), ["carol"], "private: the sender's conversation");
  m.apply({ type: "message", id: 1, seq: 1, room: "general", username: "bob", content: "hi" });
  assert.deepEqual(m.typing.names("general"), [], "the message is what was typed");
  m.apply({ type: "private_message", id: 2, seq: 1, sender: "carol", target: "alice", content: "psst" });
  assert.deepEqual(m.typing.names("@carol"), []);
  m.apply({ type: "typing", room: "general", username: "bob", state: "active" });
  m.disconnected();
  assert.deepEqual(m.typing.names("general"), [], "nothing survives a disconnect");
});

test("a refused typing frame is not an error line", () => {
  const m = new ChatModel();
  m.apply({ type: "welcome", username: "alice", users: ["alice"], rooms: [{ name: "general" }], history: [] });
  const before = m.conversation("general").lines.length;
  m.apply({ type: "error", code: "rate_limited", message: "Slow down.", ref: TYPING_REF });
  assert.equal(m.conversation("general").lines.length, before);
  m.apply({ type: "error", code: "rate_limited", message: "Slow down.", ref: "w9" });
  assert.equal(m.conversation("general").lines.length, before + 1);
});
