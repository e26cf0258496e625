// The connection's reconnect and resume, against a stand-in WebSocket (no network).
import test from "node:test";
import assert from "node:assert/strict";
import { ChatModel } from "../model.js";
import { Session } from "../session.js";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  close() { this.readyState = 3; this.onclose?.(); }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const welcome = { type: "welcome", username: "alice", users: ["alice"], users_online: 1, rooms: [{ name: "general", topic: "", members: 1, last_seq: 3 }], history: [], resume_token: "a".repeat(64) };

test("after a drop it resumes with its token and cursors, then sends what was typed, once", async () => {
  FakeSocket.all = [];
  const model = new ChatModel();
  const session = new Session("ws://x/ws", model, { username: "alice" }, FakeSocket);
  session.start();
  await tick();
  const first = FakeSocket.all[0];
  assert.equal(first.sent[0].type, "join");
  assert.equal(first.sent[0].since, undefined, "a first join has no cursors");
  first.receive(welcome);
  first.receive({ type: "message", id: 9, seq: 4, room: "general", username: "bob", content: "hi" });

  first.close();
  assert.equal(session.state, "reconnecting");
  session.say("general", "typed while away");
  assert.equal(first.sent.filter((f) => f.type === "message").length, 0);

  session.nudge();
  await tick();
  const second = FakeSocket.all[1];
  const hello = second.sent[0];
  assert.equal(hello.type, "join");
  assert.equal(hello.resume_token, "a".repeat(64));
  assert.deepEqual(hello.since, { general: 4 });
  assert.deepEqual(hello.rooms, ["general"]);
  second.receive({ ...welcome, history: [] });
  assert.equal(second.sent.filter((f) => f.type === "message").length, 0, "not before the replay ends");
  second.receive({ type: "resumed", replayed: 0, complete: true });
  const sent = second.sent.filter((f) => f.type === "message");
  assert.deepEqual(sent.map((f) => f.content), ["typed while away"]);
  second.receive({ type: "ack", ref: sent[0].ref, id: 10, seq: 5 });
  assert.equal(model.outbox.length, 0);
  session.stop();
});

test("a refused first join stops and says why", async () => {
  FakeSocket.all = [];
  const session = new Session("ws://x/ws", new ChatModel(), { username: "bob" }, FakeSocket);
  let refused = null;
  session.addEventListener("refused", (e) => { refused = e.detail; });
  session.start();
  await tick();
  FakeSocket.all[0].receive({ type: "error", code: "username_taken", message: "taken", ref: "hello" });
  assert.equal(refused.code, "username_taken");
  assert.equal(session.state, "closed");
});

test("registering joins as a guest, registers, and later reconnects log in", async () => {
  FakeSocket.all = [];
  const session = new Session("ws://x/ws", new ChatModel(), { username: "carla", password: "a long secret", register: true }, FakeSocket);
  session.start();
  await tick();
  const first = FakeSocket.all[0];
  assert.equal(first.sent[0].type, "join", "not a login: the name has no account yet");
  assert.equal(first.sent[0].password, undefined);
  first.receive({ ...welcome, username: "carla" });
  assert.deepEqual(first.sent.find((f) => f.type === "register"), { type: "register", password: "a long secret" });
  first.receive({ type: "registered", username: "carla" });
  first.close();
  session.nudge();
  await tick();
  const hello = FakeSocket.all[1].sent[0];
  assert.equal(hello.type, "login");
  assert.equal(hello.password, "a long secret");
  session.stop();
});

test("changes to messages move the cursors a resume sends, like messages", async () => {
  FakeSocket.all = [];
  const model = new ChatModel();
  const session = new Session("ws://x/ws", model, { username: "alice" }, FakeSocket);
  session.start();
  await tick();
  const first = FakeSocket.all[0];
  first.receive(welcome);
  first.receive({ type: "message", id: 9, seq: 4, room: "general", username: "bob", content: "hi" });
  first.receive({ type: "private_message", id: 10, seq: 1, sender: "bob", target: "alice", content: "psst" });
  first.receive({ type: "reaction", id: 9, seq: 5, room: "general", username: "carol", emoji: "👍", added: true });
  first.receive({ type: "edited", id: 10, seq: 2, target: "alice", username: "bob", content: "psst!" });
  first.receive({ type: "deleted", id: 10, seq: 3, target: "alice", username: "bob" });
  first.close();
  session.nudge();
  await tick();
  const hello = FakeSocket.all[1].sent[0];
  assert.deepEqual(hello.since, { general: 5, "@bob": 3 });
  // The replay brings a change made while away; it applies and moves the cursor again.
  const second = FakeSocket.all[1];
  second.receive({ ...welcome, history: [] });
  second.receive({ type: "reaction", id: 9, seq: 6, room: "general", username: "dave", emoji: "🎉", added: true });
  second.receive({ type: "resumed", replayed: 1, complete: true });
  assert.deepEqual(model.conversation("general").message(9).reactions.map((r) => r.emoji), ["👍", "🎉"]);
  assert.deepEqual(model.cursors(), { general: 6, "@bob": 3 });
  session.stop();
});

test("a reply typed while away is sent after the resume with its reply_to", async () => {
  FakeSocket.all = [];
  const model = new ChatModel();
  const session = new Session("ws://x/ws", model, { username: "alice" }, FakeSocket);
  session.start();
  await tick();
  FakeSocket.all[0].receive(welcome);
  FakeSocket.all[0].close();
  session.say("general", "agreed", { replyTo: 9 });
  session.nudge();
  await tick();
  const second = FakeSocket.all[1];
  second.receive({ ...welcome, history: [] });
  second.receive({ type: "resumed", replayed: 0, complete: true });
  const sent = second.sent.filter((f) => f.type === "message");
  assert.deepEqual(sent.map((f) => [f.content, f.reply_to]), [["agreed", 9]]);
  session.stop();
});
