// The connection to the server: one WebSocket to /ws speaking the native protocol, kept alive
// by itself. It joins (or logs in), and after any drop reconnects with backoff and resumes with
// the session's resume token and the model's cursors, so nothing is missed and nothing comes
// twice. Messages typed while it is down wait in the model's outbox and are sent once, after
// the resume. Changes to messages (reactions, edits, deletions) move the cursors like messages
// do, in the model. No DOM here: the app listens to its events.

import { ChatModel } from "./model.js";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;

export class Session extends EventTarget {
  /**
   * `url`: the WebSocket URL; `model`: a ChatModel; `credentials`: {username, password?,
   * register?}. `WebSocketImpl` is the WebSocket class (a stand-in in tests).
   */
  constructor(url, model, credentials, WebSocketImpl = globalThis.WebSocket) {
    super();
    this.url = url;
    this.model = model;
    this.credentials = credentials;
    this.WebSocketImpl = WebSocketImpl;
    this.socket = null;
    this.state = "connecting";
    this.resumeToken = null;
    this.joined = false;
    this.resuming = false;
    this.attempt = 0;
    this.timer = null;
    this.closedByUser = false;
    this.everJoined = false;
  }

  start() {
    this.closedByUser = false;
    this.open();
  }

  stop() {
    this.closedByUser = true;
    clearTimeout(this.timer);
    if (this.socket) {
      try {
        this.send({ type: "quit" });
      } catch (_) { /* already closed */ }
      this.socket.close();
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, detail) {
    this.state = state;
    this.emit("state", { state, ...detail });
  }

  open() {
    this.setState(this.everJoined ? "reconnecting" : "connecting", { attempt: this.attempt });
    let socket;
    try {
      socket = new this.WebSocketImpl(this.url);
    } catch (e) {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.hello();
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = () => this.dropped(socket);
    socket.onerror = () => { /* a close follows */ };
  }

  send(frame) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a request once joined; false when it cannot go now. */
  request(frame) {
    return this.joined && this.send(frame);
  }

  hello() {
    const { username, password, register } = this.credentials;
    // A name being registered joins as a guest first, then registers (see `received`).
    const frame = password && !register
      ? { type: "login", username, password }
      : { type: "join", username };
    if (this.everJoined) {
      frame.rooms = this.model.rooms().filter((c) => !c.left).map((c) => c.name);
      frame.since = this.model.cursors();
      if (this.resumeToken) frame.resume_token = this.resumeToken;
      this.resuming = true;
    }
    frame.ref = "hello";
    this.send(frame);
  }

  received(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (frame.type === "ping") {
      this.send({ type: "pong" });
      return;
    }
    if (frame.type === "welcome") {
      this.joined = true;
      this.attempt = 0;
      this.resumeToken = frame.resume_token ?? this.resumeToken;
      const first = !this.everJoined;
      this.everJoined = true;
      if (this.credentials.register && first) {
        this.send({ type: "register", password: this.credentials.password ?? "" });
      }
      this.emitFrame(frame);
      for (const c of this.model.rooms()) {
        if (!c.left) this.send({ type: "users", room: c.name });
      }
      if (!this.resuming) this.flush();
      this.setState("connected");
      return;
    }
    if (frame.type === "registered") {
      // From now on the name needs its password: reconnects log in.
      this.credentials.register = false;
    }
    if (frame.type === "resumed") {
      this.resuming = false;
      this.model.afterResume();
      this.flush();
      this.emit("resumed", frame);
      return;
    }
    if (frame.type === "error" && !this.joined && frame.ref === "hello") {
      // The join was refused: say why; a name taken by our own dead connection is retried.
      this.emit("refused", frame);
      if (!this.everJoined || frame.code !== "username_taken") {
        this.closedByUser = true;
        this.socket.close();
      }
      return;
    }
    this.emitFrame(frame);
  }

  emitFrame(frame) {
    const outcome = this.model.apply(frame, { visible: !globalThis.document?.hidden });
    this.emit("frame", { frame, outcome });
  }

  /** Sends what waits in the outbox, in order, each exactly once. */
  flush() {
    for (const entry of this.model.unsent()) {
      if (!this.send(ChatModel.frameOf(entry))) return;
      this.model.markSent(entry.ref);
    }
    this.emit("outbox");
  }

  /**
   * Queues a message (`options.replyTo`: the id it answers); it goes now if connected, else
   * after the reconnect.
   */
  say(key, content, options = {}) {
    const entry = this.model.queue(key, content, options);
    if (entry && this.joined && !this.resuming) this.flush();
    else this.emit("outbox");
    return entry;
  }

  dropped(socket) {
    if (socket !== this.socket) return;
    this.joined = false;
    this.resuming = false;
    this.model.disconnected();
    this.emit("outbox");
    if (this.closedByUser) {
      this.setState("closed");
      return;
    }
    this.retry();
  }

  retry() {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    // A little jitter, so that a restarted server is not met by everyone at once.
    const wait = delay / 2 + Math.random() * (delay / 2);
    this.attempt += 1;
    this.setState("reconnecting", { inMs: wait, attempt: this.attempt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), wait);
  }

  /** Reconnects now (the network came back, the tab became visible). */
  nudge() {
    if (this.state === "reconnecting" && !this.closedByUser) {
      clearTimeout(this.timer);
      this.open();
    }
  }
}

/** The WebSocket URL of this page's server. */
export function socketUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
