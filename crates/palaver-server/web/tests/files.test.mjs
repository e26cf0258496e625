// Files (files.js): sizes, previews, links, and the upload of each file as a state machine,
// against a stand-in session and a stand-in HTTP transport (and a stand-in XMLHttpRequest).
import test from "node:test";
import assert from "node:assert/strict";
import {
  MAX_ATTACHMENTS, STATE, Uploads, attachmentsOf, fileLabel, filesSummary, humanSize, isPreviewable,
  isUploadRef, pastedName, quoteText, safeFileUrl, sizeRefusal, uploadAnswer, xhrTransport,
} from "../files.js";
import { ChatModel } from "../model.js";
import { Session } from "../session.js";

const tick = () => new Promise((r) => setTimeout(r, 0));

test("sizes are human, in binary units", () => {
  assert.equal(humanSize(0), "0 B");
  assert.equal(humanSize(512), "512 B");
  assert.equal(humanSize(1023), "1023 B");
  assert.equal(humanSize(1024), "1 KiB");
  assert.equal(humanSize(1536), "1.5 KiB");
  assert.equal(humanSize(12 * 1024 + 100), "12 KiB");
  assert.equal(humanSize(1.2 * 1024 * 1024), "1.2 MiB");
  assert.equal(humanSize(1024 * 1024 - 10), "1 MiB", "1023.99 KiB is shown as 1 MiB");
  assert.equal(humanSize(3 * 1024 ** 3), "3 GiB");
  assert.equal(humanSize(-1), "");
  assert.equal(fileLabel({ name: "report.pdf", size: 1.2 * 1024 * 1024 }), "report.pdf · 1.2 MiB");
});

test("only raster images are previewed", () => {
  for (const t of ["image/png", "image/jpeg", "image/gif", "image/webp", "IMAGE/PNG"]) assert.ok(isPreviewable(t), t);
  for (const t of ["image/svg+xml", "text/html", "application/pdf", "", null, undefined]) assert.ok(!isPreviewable(t), String(t));
});

test("links are paths on this origin only", () => {
  assert.equal(safeFileUrl("/files/abc/cat.png?e=1&s=x"), "/files/abc/cat.png?e=1&s=x");
  assert.equal(safeFileUrl("/uploads/tok.sig"), "/uploads/tok.sig");
  for (const bad of ["//evil.example/x", "/\\evil.example", "javascript:alert(1)", "https://x/files/1",
    "files/1", "/files/a b", "/files/\n", "", null, 42]) {
    assert.equal(safeFileUrl(bad), null, String(bad));
  }
});

test("a message's attachments are checked and kept in the model's shape", () => {
  const list = attachmentsOf([
    { id: "f1", name: "cat.png", size: 1234, content_type: "image/png", url: "/files/f1/cat.png?e=1&s=s" },
    { id: "f2", name: "x.pdf", size: 5, content_type: "application/pdf", url: "javascript:alert(1)" },
    { name: "no id" },
    null,
  ]);
  assert.deepEqual(list, [
    { id: "f1", name: "cat.png", size: 1234, contentType: "image/png", url: "/files/f1/cat.png?e=1&s=s" },
    { id: "f2", name: "x.pdf", size: 5, contentType: "application/pdf", url: null },
  ]);
  assert.deepEqual(attachmentsOf(undefined), []);
});

test("files stand for a message without text", () => {
  const files = [{ name: "cat.png" }, { name: "dog.png" }, { name: "a.pdf" }];
  assert.equal(filesSummary([]), "");
  assert.equal(filesSummary(files.slice(0, 1)), "📎 cat.png");
  assert.equal(filesSummary(files), "📎 cat.png + 2 more");
  assert.equal(quoteText("hello", files), "hello");
  assert.equal(quoteText("", files), "📎 cat.png + 2 more");
  assert.equal(quoteText("", []), "📎 file", "a reply's preview without text quotes files");
});

test("pasted images get a name of their own", () => {
  const at = new Date(2026, 10, 29, 10, 15, 2);
  assert.equal(pastedName({ name: "image.png", type: "image/png" }, at), "pasted-2026-11-29-101502.png");
  assert.equal(pastedName({ name: "", type: "image/jpeg" }, at), "pasted-2026-11-29-101502.jpg");
  assert.equal(pastedName({ name: "diagram.png", type: "image/png" }, at), "diagram.png");
});

test("too large is said before asking the server", () => {
  assert.equal(sizeRefusal("a.bin", 10, 10), null);
  assert.equal(sizeRefusal("a.bin", 11 * 1024 * 1024, 10 * 1024 * 1024), "a.bin is 11 MiB; files may be at most 10 MiB.");
  assert.match(sizeRefusal("a.bin", 1, 0), /does not take files/);
});

test("the HTTP answer: the file, or the server's sentence", () => {
  const ok = uploadAnswer({ status: 201, text: JSON.stringify({ id: "f9", name: "a.txt", size: 3, content_type: "text/plain" }) });
  assert.deepEqual(ok, { ok: true, file: { id: "f9", name: "a.txt", size: 3, content_type: "text/plain" } });
  assert.deepEqual(uploadAnswer({ status: 403, text: JSON.stringify({ code: "quota_exceeded", message: "Your files use all your space." }) }),
    { ok: false, code: "quota_exceeded", message: "Your files use all your space." });
  assert.equal(uploadAnswer({ status: 413, text: '{"code":"file_too_large","message":"More bytes than the upload was granted for."}' }).code, "file_too_large");
  assert.match(uploadAnswer({ status: 502, text: "<html>bad gateway</html>" }).message, /HTTP 502/);
  assert.equal(uploadAnswer({ status: 0, network: true }).code, "network");
});

// ----- the state machine -----

/** A stand-in for the chat connection: records frames; `online` says whether they go. */
function fakeSession() {
  const s = { online: true, sent: [] };
  s.send = (frame) => {
    if (!s.online) return false;
    s.sent.push(frame);
    return true;
  };
  s.asks = () => s.sent.filter((f) => f.type === "upload");
  return s;
}

/** A stand-in HTTP transport: each request waits until the test answers it. */
function fakeTransport() {
  const t = { requests: [] };
  t.send = (url, body, { contentType, onProgress }) => {
    let resolve;
    const done = new Promise((r) => { resolve = r; });
    const request = { url, body, contentType, onProgress, aborted: false };
    request.answer = (status, json) => resolve({ status, text: JSON.stringify(json) });
    request.cut = () => resolve({ status: 0, text: "", network: true });
    t.requests.push(request);
    return { done, abort: () => { request.aborted = true; resolve({ status: 0, aborted: true }); } };
  };
  return t;
}

const file = (name, size, type = "application/octet-stream") => ({ name, size, type });

function setup({ maxBytes = 1000, parallel } = {}) {
  const session = fakeSession();
  const transport = fakeTransport();
  const changes = [];
  const uploads = new Uploads({
    send: session.send, transport: transport.send, maxBytes, parallel,
    onChange: (u) => changes.push(u ? `${u.name}:${u.state}` : "list"),
  });
  return { session, transport, uploads, changes };
}

test("an upload asks, sends with progress, and is done with the server's id", async () => {
  const { session, transport, uploads, changes } = setup();
  const u = uploads.add(file("cat.png", 400, "image/png"));
  assert.equal(u.state, STATE.ASKING);
  const ask = session.asks()[0];
  assert.deepEqual({ ...ask, ref: undefined }, { type: "upload", name: "cat.png", size: 400, content_type: "image/png", ref: undefined });
  assert.ok(isUploadRef(ask.ref));
  assert.equal(uploads.blocker(), "Wait for cat.png to finish uploading (or remove it), then send.");

  assert.equal(uploads.handle({ type: "upload_ready", url: "/uploads/t.s", expires: "x", ref: ask.ref }), true);
  assert.equal(u.state, STATE.UPLOADING);
  const put = transport.requests[0];
  assert.equal(put.url, "/uploads/t.s");
  assert.equal(put.contentType, "image/png");
  put.onProgress(100, 400);
  assert.equal(u.loaded, 100);
  put.answer(201, { id: "f1", name: "cat.png", size: 400, content_type: "image/png" });
  await tick();
  assert.equal(u.state, STATE.DONE);
  assert.equal(u.fileId, "f1");
  assert.equal(uploads.blocker(), null);
  assert.deepEqual(changes.slice(-1), ["cat.png:done"]);

  assert.deepEqual(uploads.take(), [{ id: "f1", name: "cat.png", size: 400, contentType: "image/png" }]);
  assert.equal(uploads.list.length, 0, "sent files leave the composer");
  assert.deepEqual(uploads.take(), []);
});

test("a refusal (asking, or over HTTP) is the upload's, with the server's sentence", async () => {
  const { session, transport, uploads } = setup();
  const a = uploads.add(file("a.txt", 10));
  const b = uploads.add(file("b.txt", 10));
  // Not an upload's frame: left for the model.
  assert.equal(uploads.handle({ type: "error", code: "muted", message: "x", ref: "w1" }), false);
  assert.equal(uploads.handle({ type: "error", code: "rate_limited", message: "At most 10 uploads a minute; wait a moment.", ref: session.asks()[0].ref }), true);
  assert.equal(a.state, STATE.FAILED);
  assert.equal(a.error, "At most 10 uploads a minute; wait a moment.");
  assert.equal(a.retryable, true);

  uploads.handle({ type: "upload_ready", url: "/uploads/b", ref: session.asks()[1].ref });
  transport.requests[0].answer(403, { code: "quota_exceeded", message: "You have used all the space for your files." });
  await tick();
  assert.equal(b.state, STATE.FAILED);
  assert.equal(b.code, "quota_exceeded");
  assert.equal(uploads.blocker(), "2 files could not be uploaded: remove them (×) or try again, then send.");
  assert.deepEqual(uploads.take(), [], "nothing is taken while some failed");

  uploads.retry(a.key);
  assert.equal(a.state, STATE.ASKING);
  assert.equal(session.asks().length, 3);
  uploads.remove(b.key);
  assert.deepEqual(uploads.list.map((u) => u.name), ["a.txt"]);
});

test("a file over the limit is refused at once, without asking", () => {
  const { session, uploads } = setup({ maxBytes: 1024 * 1024 });
  const u = uploads.add(file("movie.mkv", 5 * 1024 * 1024));
  assert.equal(u.state, STATE.FAILED);
  assert.equal(u.error, "movie.mkv is 5 MiB; files may be at most 1 MiB.");
  assert.equal(u.retryable, false);
  uploads.retry(u.key);
  assert.equal(u.state, STATE.FAILED, "trying again cannot help");
  assert.equal(session.sent.length, 0);
});

test("removing a file stops its upload; a late answer is for nobody", async () => {
  const { session, transport, uploads } = setup();
  const u = uploads.add(file("big.zip", 900));
  uploads.handle({ type: "upload_ready", url: "/uploads/z", ref: session.asks()[0].ref });
  uploads.remove(u.key);
  assert.equal(transport.requests[0].aborted, true);
  await tick();
  assert.equal(uploads.list.length, 0);
  // Removed while asking: its answer is swallowed, and nothing is sent.
  const v = uploads.add(file("c.txt", 1));
  uploads.remove(v.key);
  assert.equal(uploads.handle({ type: "upload_ready", url: "/uploads/c", ref: session.asks()[1].ref }), true);
  assert.equal(transport.requests.length, 1);
});

test("a few at a time; the others wait their turn", async () => {
  const { session, transport, uploads } = setup({ parallel: 2 });
  const files = ["1", "2", "3"].map((n) => uploads.add(file(`${n}.txt`, 5)));
  assert.deepEqual(files.map((u) => u.state), [STATE.ASKING, STATE.ASKING, STATE.QUEUED]);
  uploads.handle({ type: "upload_ready", url: "/uploads/1", ref: session.asks()[0].ref });
  transport.requests[0].answer(201, { id: "i1", name: "1.txt", size: 5, content_type: "text/plain" });
  await tick();
  assert.equal(files[2].state, STATE.ASKING, "the third asks when the first is done");
  assert.match(uploads.blocker(), /Wait for 2 files/);
});

test("at most ten files go with a message", () => {
  const { uploads } = setup();
  for (let i = 0; i < MAX_ATTACHMENTS; i++) assert.ok(uploads.add(file(`${i}.txt`, 1)));
  assert.equal(uploads.add(file("eleven.txt", 1)), null);
  assert.equal(uploads.list.length, MAX_ATTACHMENTS);
});

test("without a connection an upload waits, and asks again after a drop", () => {
  const { session, uploads } = setup();
  session.online = false;
  const u = uploads.add(file("a.txt", 3));
  assert.equal(u.state, STATE.QUEUED);
  assert.equal(u.waiting, true);
  session.online = true;
  uploads.pump();
  assert.equal(u.state, STATE.ASKING);
  const first = session.asks()[0].ref;
  uploads.disconnected();
  assert.equal(u.state, STATE.QUEUED);
  // An answer on the old connection cannot come; if it did, it is nobody's.
  assert.equal(uploads.handle({ type: "upload_ready", url: "/uploads/a", ref: first }), true);
  assert.equal(u.state, STATE.QUEUED);
  uploads.pump();
  assert.notEqual(session.asks()[1].ref, first);
  assert.equal(u.state, STATE.ASKING);
});

test("a cut connection or an unusable link fails the upload, to be tried again", async () => {
  const { session, transport, uploads } = setup();
  const u = uploads.add(file("a.txt", 3));
  uploads.handle({ type: "upload_ready", url: "https://elsewhere.example/uploads/a", ref: session.asks()[0].ref });
  assert.equal(u.state, STATE.FAILED);
  assert.equal(transport.requests.length, 0, "nothing goes to another origin");
  uploads.retry(u.key);
  uploads.handle({ type: "upload_ready", url: "/uploads/a", ref: session.asks()[1].ref });
  transport.requests[0].cut();
  await tick();
  assert.equal(u.state, STATE.FAILED);
  assert.equal(u.code, "network");
  assert.ok(u.retryable);
});

test("the XMLHttpRequest transport PUTs the bytes and reports progress", async () => {
  class FakeXHR {
    static last = null;
    constructor() {
      this.upload = {};
      this.headers = {};
      FakeXHR.last = this;
    }
    open(method, url) { Object.assign(this, { method, url }); }
    setRequestHeader(n, v) { this.headers[n] = v; }
    send(body) { this.body = body; }
    abort() { this.onabort?.(); }
  }
  const progress = [];
  const { done } = xhrTransport(FakeXHR)("/uploads/t", "BYTES", { contentType: "text/plain", onProgress: (l, t) => progress.push([l, t]) });
  const xhr = FakeXHR.last;
  assert.equal(xhr.method, "PUT");
  assert.equal(xhr.url, "/uploads/t");
  assert.equal(xhr.headers["Content-Type"], "text/plain");
  assert.equal(xhr.body, "BYTES");
  xhr.upload.onprogress({ lengthComputable: true, loaded: 2, total: 5 });
  xhr.status = 201;
  xhr.responseText = '{"id":"f1"}';
  xhr.onload();
  assert.deepEqual(await done, { status: 201, text: '{"id":"f1"}' });
  assert.deepEqual(progress, [[2, 5]]);
  const second = xhrTransport(FakeXHR)("/uploads/u", "x", {});
  second.abort();
  assert.equal((await second.done).aborted, true);
});

// ----- with the session and the model -----

class FakeSocket {
  static all = [];
  constructor() {
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  close() { this.readyState = 3; this.onclose?.(); }
}

const welcome = {
  type: "welcome", username: "alice", users: ["alice"], users_online: 1,
  limits: { max_upload_bytes: 10000 }, rooms: [{ name: "general", topic: "", last_seq: 0 }], history: [],
};

test("through the session: asked, refused on the chip only, and sent with the message", async () => {
  FakeSocket.all = [];
  const model = new ChatModel();
  const session = new Session("ws://x/ws", model, { username: "alice" }, FakeSocket);
  const transport = fakeTransport();
  const uploads = new Uploads({ send: (f) => session.request(f), transport: transport.send });
  session.addEventListener("frame", (e) => {
    if (e.detail.frame.type === "welcome") uploads.setLimit(e.detail.frame.limits.max_upload_bytes);
    uploads.handle(e.detail.frame);
  });
  session.start();
  await tick();
  const socket = FakeSocket.all[0];
  socket.receive(welcome);
  assert.equal(uploads.maxBytes, 10000);

  const refused = uploads.add(file("a.txt", 5));
  const ask = socket.sent.find((f) => f.type === "upload");
  socket.receive({ type: "error", code: "muted", message: "You are muted for now.", ref: ask.ref });
  assert.equal(refused.error, "You are muted for now.");
  assert.equal(model.conversation("general").lines.length, 0, "the refusal is not a line of the conversation");
  uploads.remove(refused.key);

  const u = uploads.add(file("cat.png", 300, "image/png"));
  const ask2 = socket.sent.filter((f) => f.type === "upload").at(-1);
  socket.receive({ type: "upload_ready", url: "/uploads/tok.sig", expires: "2026-11-29T19:00:00Z", ref: ask2.ref });
  transport.requests[0].answer(201, { id: "F1", name: "cat.png", size: 300, content_type: "image/png" });
  await tick();
  assert.equal(u.state, STATE.DONE);
  const entry = session.say("general", "", { attachments: uploads.take() });
  const sent = socket.sent.filter((f) => f.type === "message").at(-1);
  assert.deepEqual(sent, { type: "message", room: "general", content: "", ref: entry.ref, attachments: ["F1"] });
  assert.equal(model.pendingIn("general")[0].attachments[0].name, "cat.png", "the pending line shows the file");
  socket.receive({
    type: "message", id: 5, seq: 1, room: "general", username: "alice", content: "", timestamp: "2026-11-29T18:00:00Z",
    attachments: [{ id: "F1", name: "cat.png", size: 300, content_type: "image/png", url: "/files/F1/cat.png?e=1&s=x" }],
  });
  assert.equal(model.outbox.length, 0, "the message came back: sent");
  assert.equal(model.conversation("general").lines[0].attachments[0].url, "/files/F1/cat.png?e=1&s=x");
  session.stop();
});
