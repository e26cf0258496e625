// Read markers without a browser: the server's markers set unread and mention counts (so that
// reading on one device clears the badges on the others), mark_read goes only past the marker
// and at most once a second per conversation, and the "New" line sits above the first unread.
import test from "node:test";
import assert from "node:assert/strict";
import { ChatModel, ReadThrottle } from "../model.js";

const welcome = () => ({
  type: "welcome", username: "alice", users: ["alice", "bob"], users_online: 2,
  rooms: [{ name: "general", topic: "", members: 2, last_seq: 0 }, { name: "Rust", topic: "", members: 2, last_seq: 0 }],
  history: [], resume_token: "t".repeat(64),
});
const msg = (id, seq, username, content, room = "rust") =>
  ({ type: "message", id, seq, room, username, content, timestamp: "2026-11-29T10:01:00Z" });
const pm = (id, seq, sender, target, content) =>
  ({ type: "private_message", id, seq, sender, target, content, timestamp: "2026-11-29T10:01:00Z" });
const marker = (seq, where = { room: "rust" }) =>
  ({ type: "read_marker", ...where, seq, timestamp: "2026-11-29T12:00:00.000Z" });

/** A model with general shown and #rust holding messages 1..4 from bob (2 mentions alice). */
function withUnread() {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply(msg(1, 1, "bob", "hello"));
  m.apply(msg(2, 2, "bob", "alice, look"));
  m.apply(msg(3, 3, "bob", "anyone?"));
  m.apply(msg(4, 4, "bob", "@alice please"));
  return m;
}

test("a read_marker at the newest message clears the conversation's unread and mentions", () => {
  const m = withUnread();
  const rust = m.conversation("rust");
  assert.equal(rust.unread, 4);
  assert.equal(rust.mentions, 2);
  // Read on another device; the room's name comes back in another case.
  const outcome = m.apply(marker(4, { room: "RUST" }));
  assert.equal(outcome.changed, true);
  assert.equal(outcome.key, "rust");
  assert.equal(m.readMarker("rust"), 4);
  assert.equal(rust.unread, 0);
  assert.equal(rust.mentions, 0);
  assert.equal(m.totalUnread(), 0);
  // Past the newest (a reaction's seq): nothing unread either.
  m.apply({ type: "reaction", room: "rust", id: 4, seq: 5, emoji: "👍", username: "bob", added: true });
  m.apply(marker(5));
  assert.equal(rust.unread, 0);
});

test("a marker below the newest message leaves the later ones unread, and counts them", () => {
  const m = withUnread();
  const rust = m.conversation("rust");
  m.apply(marker(2));
  assert.equal(rust.unread, 2, "messages 3 and 4");
  assert.equal(rust.mentions, 1, "message 4 mentions alice");
  assert.equal(m.totalUnread(), 2);
  // A message read already (replayed after a reconnect) is not counted; a newer one is.
  m.apply(marker(5));
  m.apply(msg(5, 5, "bob", "replayed"));
  m.apply(msg(6, 6, "bob", "new"));
  assert.equal(rust.unread, 1);
});

test("a marker never goes back", () => {
  const m = withUnread();
  const rust = m.conversation("rust");
  m.apply(marker(3));
  assert.equal(rust.unread, 1);
  const outcome = m.apply(marker(1));
  assert.equal(outcome.changed, false);
  assert.equal(m.readMarker("rust"), 3);
  assert.equal(rust.unread, 1);
  assert.equal(m.setReadMarker("rust", 3), false);
  assert.equal(m.setReadMarker("rust", 4), true);
  assert.equal(rust.unread, 0);
});

test("our own messages never count as unread, in rooms or in private", () => {
  const m = withUnread();
  m.apply(msg(5, 5, "alice", "I'm here, bob"));
  m.apply(msg(6, 6, "Alice", "(from my phone)"));
  const rust = m.conversation("rust");
  m.apply(marker(2));
  assert.equal(rust.unread, 2, "bob's 3 and 4 only");
  m.apply(pm(10, 1, "bob", "alice", "psst"));
  m.apply(pm(11, 2, "alice", "bob", "yes?"));
  m.apply(pm(12, 3, "bob", "alice", "later"));
  const dm = m.conversation("@bob");
  // A private conversation is named by the other user (in any case); each message is for us.
  m.apply(marker(1, { with: "BOB" }));
  assert.equal(dm.unread, 1);
  assert.equal(dm.mentions, 1);
  m.apply(marker(3, { with: "bob" }));
  assert.equal(dm.unread, 0);
});

test("a marker told before its conversation exists applies once it does", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.apply(marker(2, { with: "carol" }));
  m.apply(pm(1, 2, "carol", "alice", "old, read on the phone"));
  m.apply(pm(2, 3, "carol", "alice", "new"));
  assert.equal(m.conversation("@carol").unread, 1);
});

test("mark_read is due only past the known marker, and not again while one is answered", () => {
  const m = withUnread();
  assert.equal(m.markReadDue("nowhere"), null);
  assert.equal(m.markReadDue("rust"), 4);
  assert.deepEqual(m.markReadFrame("rust", 4), { type: "mark_read", room: "Rust", seq: 4, ref: "read:rust" });
  m.markReadSent("rust", 4);
  assert.equal(m.markReadDue("rust"), null, "sent, not answered yet");
  assert.equal(m.markReadFrame("rust", 4), null);
  m.apply({ ...marker(4), ref: "read:rust" });
  assert.equal(m.markReadDue("rust"), null, "at the marker");
  assert.equal(m.markReadFrame("rust", 3), null, "below the marker");
  m.apply(msg(5, 5, "bob", "more"));
  assert.equal(m.markReadDue("rust"), 5);
  // Sent and dropped with the connection: due again on the next one.
  m.markReadSent("rust", 5);
  m.disconnected();
  assert.equal(m.markReadDue("rust"), 5);
  // Refused: no error line, and due again.
  m.markReadSent("rust", 5);
  const lines = m.conversation("general").lines.length;
  assert.equal(m.apply({ type: "error", code: "storage_failed", message: "x", ref: "read:rust" }).changed, false);
  assert.equal(m.conversation("general").lines.length, lines);
  assert.equal(m.markReadDue("rust"), 5);
  // Private: with whom; a room left is not marked.
  m.apply(pm(10, 7, "bob", "alice", "psst"));
  assert.deepEqual(m.markReadFrame("@bob", 7), { type: "mark_read", with: "bob", seq: 7, ref: "read:@bob" });
  m.apply({ type: "left_room", room: "Rust" });
  assert.equal(m.markReadDue("rust"), null);
});

test("mark_read goes at most once a second per conversation, the latest seq winning", () => {
  let now = 10_000;
  const t = new ReadThrottle(() => now);
  assert.equal(t.offer("rust", 4), 0, "the first goes at once");
  assert.equal(t.take("rust"), 4);
  now += 200;
  assert.equal(t.offer("rust", 5), 800);
  now += 100;
  assert.equal(t.offer("rust", 7), 700);
  assert.equal(t.offer("rust", 6), 700, "an older seq does not replace a newer");
  assert.equal(t.offer("general", 2), 0, "another conversation has its own pace");
  assert.equal(t.take("general"), 2);
  now += 700;
  assert.equal(t.take("rust"), 7);
  assert.equal(t.take("rust"), null, "nothing waits any more");
  // After a welcome, nothing goes until the markers have come.
  now += 5000;
  t.hold();
  assert.equal(t.offer("rust", 8), 1000);
});

test("a conversation opened with unread messages has a New line above the first; it does not move", () => {
  const m = withUnread();
  const rust = m.conversation("rust");
  m.apply(marker(2));
  m.activate("rust");
  assert.equal(rust.unread, 0);
  assert.equal(m.dividerLine(rust).id, 3, "above the first message after the marker");
  // Read (the marker passes it) and more coming while it is shown: it stays where it was.
  m.apply(marker(4));
  m.apply(msg(5, 5, "bob", "live"));
  assert.equal(m.dividerLine(rust).id, 3);
  // Left and opened again with nothing new: no line.
  m.activate("general");
  assert.equal(rust.newDivider, null);
  m.apply(marker(5));
  m.activate("rust");
  assert.equal(m.dividerLine(rust), null);
});

test("the New line: own messages are not its place, and counts without a marker place it too", () => {
  const m = withUnread();
  const rust = m.conversation("rust");
  m.apply(marker(2));
  m.apply(msg(5, 5, "alice", "mine"));
  m.activate("rust");
  assert.equal(m.dividerLine(rust).id, 3);
  // No marker known: the messages counted here are the new ones.
  const dm = m.direct("bob");
  m.apply(pm(10, 1, "alice", "bob", "hi"));
  m.apply(pm(11, 2, "bob", "alice", "hey"));
  m.apply(pm(12, 3, "bob", "alice", "you there?"));
  assert.equal(dm.unread, 2);
  m.activate("@bob");
  assert.equal(m.dividerLine(dm).id, 11);
});

test("a marker for the conversation shown places the New line and leaves no count", () => {
  const m = new ChatModel();
  m.apply(welcome());
  m.activate("rust");
  for (let seq = 1; seq <= 4; seq++) m.apply(msg(seq, seq, "bob", `n${seq}`), { visible: true });
  const rust = m.conversation("rust");
  assert.equal(rust.unread, 0);
  // A new device: its marker comes after the welcome, while the room is shown.
  m.apply(marker(2), { visible: true });
  assert.equal(rust.unread, 0);
  assert.equal(m.dividerLine(rust).id, 3);
  // The page hidden: counted until it is shown again.
  m.apply(marker(3), { visible: false });
  assert.equal(rust.unread, 1);
  assert.equal(m.totalUnread(), 1);
});

test("a joined_room carries the room's marker: its history up to there is read", () => {
  const m = new ChatModel();
  m.apply(welcome());
  const history = [1, 2, 3].map((n) => ({ ...msg(n, n, "bob", `m${n}`, "ops") }));
  m.apply({
    type: "joined_room",
    room: { name: "ops", topic: "", members: 2, last_seq: 3 },
    members: ["alice", "bob"],
    history,
    read_marker: { room: "ops", seq: 2, timestamp: "2026-11-29T12:00:00.000Z" },
  });
  assert.equal(m.readMarker("ops"), 2);
  // Unread: the window's third message (after the marker) and the one arriving now.
  m.apply(msg(4, 4, "bob", "new here", "ops"));
  assert.equal(m.conversation("ops").unread, 2);
});
