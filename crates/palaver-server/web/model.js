// The chat as data: conversations, their lines, unread and mention counts, members and the
// cursors a reconnect resumes from. It applies the server's frames and knows nothing of the
// DOM, so it is tested without a browser (the desktop client's model.rs plays the same part).

export const KIND = Object.freeze({
  SYSTEM: "system",
  SERVER: "server",
  OWN: "own",
  OTHER: "other",
  PRIVATE_SENT: "private-sent",
  PRIVATE_RECEIVED: "private-received",
  ERROR: "error",
});

/** A conversation's key: a room's folded name, or "@" and the other user's folded name. */
export function roomKey(name) {
  return name.replace(/^#/, "").normalize("NFC").toLowerCase();
}
export function directKey(name) {
  return "@" + name.normalize("NFC").toLowerCase();
}

export class Conversation {
  constructor(key, name, isRoom) {
    this.key = key;
    this.name = name;
    this.isRoom = isRoom;
    this.topic = "";
    this.lines = [];
    this.ids = new Set();
    this.unread = 0;
    this.mentions = 0;
    this.members = new Set();
    // The highest seq received: where a resume starts.
    this.cursor = 0;
    // Older history: whether there is more, and the oldest seq shown.
    this.hasMore = isRoom;
    this.loading = false;
  }

  oldestSeq() {
    for (const line of this.lines) {
      if (line.seq) return line.seq;
    }
    return null;
  }
}

/** One line of a conversation. */
function line(kind, text, fields = {}) {
  return {
    kind,
    text,
    username: fields.username ?? null,
    id: fields.id ?? null,
    seq: fields.seq ?? null,
    time: fields.time ?? new Date(),
    action: fields.action ?? false,
    mention: fields.mention ?? false,
    pending: fields.pending ?? null,
  };
}

/** "/me waves" -> the action text, or null. */
export function actionText(content) {
  return content.startsWith("/me ") ? content.slice(4) : null;
}

/** Whether `content` mentions `name` (as a word, any case). */
export function mentions(content, name) {
  if (!name) return false;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escaped}($|[^\\p{L}\\p{N}_])`, "iu").test(content);
}

export class ChatModel {
  constructor() {
    this.me = null;
    this.conversations = new Map();
    this.active = "general";
    this.usersOnline = 0;
    this.users = new Set();
    // Messages typed and not yet stored: { ref, key, target, room, content, state }.
    this.outbox = [];
    this.nextRef = 1;
  }

  conversation(key) {
    return this.conversations.get(key) ?? null;
  }

  room(name) {
    const key = roomKey(name);
    let c = this.conversations.get(key);
    if (!c) {
      c = new Conversation(key, name.replace(/^#/, ""), true);
      this.conversations.set(key, c);
    }
    return c;
  }

  direct(name) {
    const key = directKey(name);
    let c = this.conversations.get(key);
    if (!c) {
      c = new Conversation(key, name, false);
      c.hasMore = true;
      this.conversations.set(key, c);
    }
    return c;
  }

  rooms() {
    return [...this.conversations.values()].filter((c) => c.isRoom);
  }

  directs() {
    return [...this.conversations.values()].filter((c) => !c.isRoom);
  }

  /** Cursors for a resume: {"general": 12, "@bob": 3}. */
  cursors() {
    const since = {};
    for (const c of this.conversations.values()) {
      if (c.cursor > 0) since[c.isRoom ? c.key : c.key] = c.cursor;
    }
    return since;
  }

  roomNames() {
    return this.rooms().map((c) => c.name);
  }

  totalUnread() {
    let n = 0;
    for (const c of this.conversations.values()) n += c.unread;
    return n;
  }

  /** Makes `key` the conversation shown: its unread counts are cleared. */
  activate(key) {
    const c = this.conversations.get(key);
    if (!c) return;
    this.active = key;
    c.unread = 0;
    c.mentions = 0;
  }

  /** Adds a line unless its id is already there; counts it as unread when not shown. */
  add(c, entry, { count = true, visible = true } = {}) {
    if (entry.id != null) {
      if (c.ids.has(entry.id)) return false;
      c.ids.add(entry.id);
    }
    if (entry.seq != null && entry.seq > c.cursor) c.cursor = entry.seq;
    c.lines.push(entry);
    if (count && !(visible && this.active === c.key)) {
      c.unread += 1;
      if (entry.mention || !c.isRoom) c.mentions += 1;
    }
    return true;
  }

  /** Older messages, oldest first, put before what is shown. */
  prepend(c, entries, hasMore) {
    const fresh = entries.filter((e) => e.id == null || !c.ids.has(e.id));
    for (const e of fresh) if (e.id != null) c.ids.add(e.id);
    c.lines = fresh.concat(c.lines);
    c.hasMore = hasMore;
    c.loading = false;
    return fresh.length;
  }

  // ----- what the server says -----

  /**
   * Applies a frame; returns what the view should know: {changed, notify} where notify is
   * {title, body, key} for a mention or private message.
   */
  apply(frame, { visible = true } = {}) {
    const at = frame.timestamp ? new Date(frame.timestamp) : new Date();
    switch (frame.type) {
      case "welcome":
        return this.welcomed(frame);
      case "joined_room": {
        const c = this.room(frame.room.name);
        c.topic = frame.room.topic ?? "";
        c.modes = frame.room.modes ?? "";
        c.cursor = Math.max(c.cursor, frame.room.last_seq ?? 0);
        for (const m of frame.history ?? []) this.add(c, this.fromChat(m), { count: false });
        for (const name of frame.members ?? []) c.members.add(name);
        return { changed: true };
      }
      case "left_room": {
        const key = roomKey(frame.room);
        const c = this.conversations.get(key);
        if (c) {
          const why = frame.by ? ` (${frame.by}: ${frame.reason ?? "no reason"})` : "";
          this.add(c, line(KIND.SYSTEM, `You left #${c.name}${why}`, { time: at }), { count: false });
          c.left = true;
          c.members.clear();
        }
        return { changed: true };
      }
      case "message": {
        const c = this.room(frame.room);
        const entry = this.fromChat(frame);
        if (frame.username === this.me) this.confirm(frame);
        const added = this.add(c, entry, { count: frame.username !== this.me, visible });
        c.members.add(frame.username);
        const notify = added && entry.mention && frame.username !== this.me
          ? { title: `${frame.username} in #${c.name}`, body: frame.content, key: c.key }
          : null;
        return { changed: added, notify };
      }
      case "private_message": {
        if (frame.sender === this.me) {
          // Our own, replayed after a reconnect.
          this.confirm(frame);
          const c = this.direct(frame.target);
          return { changed: this.add(c, this.fromChat(frame), { count: false }) };
        }
        const c = this.direct(frame.sender);
        const added = this.add(c, this.fromChat(frame), { visible });
        const notify = added ? { title: `${frame.sender} (private)`, body: frame.content, key: c.key } : null;
        return { changed: added, notify };
      }
      case "private_confirmation": {
        if (!frame.delivered) {
          this.settle(frame.ref, "failed");
          return { changed: true };
        }
        const c = this.direct(frame.target);
        this.settle(frame.ref, "stored");
        const added = this.add(c, this.fromChat({ ...frame, sender: this.me }), { count: false });
        return { changed: added };
      }
      case "ack":
        this.settle(frame.ref, "stored");
        return { changed: true };
      case "system": {
        const c = frame.room ? this.room(frame.room) : this.conversation(this.active);
        if (!c) return { changed: false };
        if (frame.username) {
          if (frame.event === "joined") c.members.add(frame.username);
          if (frame.event === "left" || frame.event === "disconnected" || frame.event === "kicked") {
            c.members.delete(frame.username);
          }
          if (frame.event === "renamed" && frame.new_username) {
            c.members.delete(frame.username);
            c.members.add(frame.new_username);
          }
        }
        if (frame.event === "topic") {
          // The topic frame itself carries the new topic.
        }
        this.add(c, line(KIND.SYSTEM, frame.message, { time: at }), { count: false });
        return { changed: true };
      }
      case "topic": {
        const c = this.room(frame.room);
        c.topic = frame.topic;
        return { changed: true };
      }
      case "search_results": {
        const c = this.conversation(this.active);
        if (!c) return { changed: false };
        const more = frame.has_more ? ", the newest shown" : "";
        this.add(c, line(KIND.SYSTEM, `Search for "${frame.query}": ${frame.messages.length} found${more}`, { time: at }), { count: false });
        for (const m of frame.messages) {
          const place = m.type === "message" ? `#${m.room} <${m.username}>` : `<${m.sender} → ${m.target}>`;
          this.add(c, line(KIND.SYSTEM, `  ${m.timestamp.slice(0, 16).replace("T", " ")} ${place} ${m.content}`, { time: at }), { count: false });
        }
        return { changed: true };
      }
      case "mode_changed": {
        const c = this.room(frame.room);
        c.modes = lettersAfter(c.modes ?? "", frame.modes);
        const text = `${frame.username} sets mode ${[frame.modes, ...(frame.params ?? [])].join(" ")}`;
        this.add(c, line(KIND.SYSTEM, text, { time: at }), { count: false });
        return { changed: true };
      }
      case "room_modes": {
        const c = this.room(frame.room);
        c.modes = frame.modes;
        let text = `#${frame.room} has modes ${[frame.modes, ...(frame.params ?? [])].join(" ")}`;
        if (frame.bans?.length) text += `; bans: ${frame.bans.map((b) => b.mask).join(", ")}`;
        this.add(c, line(KIND.SYSTEM, text, { time: at }), { count: false });
        return { changed: true };
      }
      case "invited": {
        const mine = frame.username === this.me;
        const c = mine ? this.conversation(this.active) : this.room(frame.room);
        const text = mine
          ? `${frame.by} invites you to #${frame.room}: /join #${frame.room}`
          : frame.ref != null
            ? `You invited ${frame.username} to #${frame.room}.`
            : `${frame.by} invited ${frame.username} to #${frame.room}.`;
        if (c) this.add(c, line(KIND.SYSTEM, text, { time: at }), { count: false });
        return { changed: true };
      }
      case "server": {
        for (const c of this.conversations.values()) {
          if (c.isRoom && !c.left) this.add(c, line(KIND.SERVER, frame.message, { time: at }), { count: false });
        }
        return { changed: true, notify: { title: "Announcement", body: frame.message, key: this.active } };
      }
      case "history":
        return this.historyPage(frame);
      case "who": {
        if (frame.room) {
          const c = this.room(frame.room);
          c.members = new Set((frame.users ?? []).map((u) => u.username ?? u.name ?? u));
        }
        return { changed: true };
      }
      case "users":
        if (frame.room) this.room(frame.room).members = new Set(frame.users ?? []);
        else this.users = new Set(frame.users ?? []);
        return { changed: true };
      case "renamed":
        if (frame.old === this.me) this.me = frame.new;
        return { changed: true };
      case "error": {
        if (frame.ref != null) this.settle(frame.ref, "failed");
        const c = this.conversation(this.active);
        if (c) this.add(c, line(KIND.ERROR, frame.message, { time: at }), { count: false });
        return { changed: true };
      }
      case "registered": {
        const c = this.conversation(this.active);
        const text = `${frame.username} is now an account: log in with its password next time.`;
        if (c) this.add(c, line(KIND.SYSTEM, text, { time: at }), { count: false });
        return { changed: true };
      }
      case "done": {
        const c = this.conversation(this.active);
        if (c) this.add(c, line(KIND.SYSTEM, frame.message, { time: at }), { count: false });
        return { changed: true };
      }
      default:
        return { changed: false };
    }
  }

  welcomed(w) {
    this.me = w.username;
    this.usersOnline = w.users_online ?? 0;
    this.users = new Set(w.users ?? []);
    for (const info of w.rooms ?? []) {
      const c = this.room(info.name);
      c.left = false;
      c.topic = info.topic ?? "";
      // Shown the recent window: what is older is history, not missed.
      if (c.cursor === 0) c.cursor = info.last_seq ?? 0;
    }
    const general = this.room("general");
    for (const m of w.history ?? []) this.add(general, this.fromChat(m), { count: false });
    if (!this.conversations.has(this.active)) this.active = "general";
    return { changed: true };
  }

  historyPage(frame) {
    const c = frame.room ? this.room(frame.room) : frame.with ? this.direct(frame.with) : null;
    if (!c) return { changed: false };
    const entries = (frame.messages ?? []).map((m) => this.fromChat(m));
    const added = this.prepend(c, entries, frame.has_more);
    return { changed: true, prepended: added, key: c.key };
  }

  /** A stored chat message (live, replayed or from history) as a line. */
  fromChat(m) {
    const time = m.timestamp ? new Date(m.timestamp) : new Date();
    const action = actionText(m.content) !== null;
    const text = action ? actionText(m.content) : m.content;
    if (m.type === "private_message" || m.sender !== undefined) {
      const mine = m.sender === this.me;
      return line(mine ? KIND.PRIVATE_SENT : KIND.PRIVATE_RECEIVED, text, {
        username: m.sender, id: m.id, seq: m.seq, time, action,
      });
    }
    const mine = m.username === this.me;
    return line(mine ? KIND.OWN : KIND.OTHER, text, {
      username: m.username, id: m.id, seq: m.seq, time, action,
      mention: !mine && mentions(m.content, this.me),
    });
  }

  // ----- what you send -----

  /** Queues a message typed by the user; returns the entry (sent by the session when it can). */
  queue(key, content) {
    const c = this.conversations.get(key);
    if (!c) return null;
    const ref = `w${this.nextRef++}`;
    const entry = {
      ref, key, content,
      room: c.isRoom ? c.name : null,
      target: c.isRoom ? null : c.name,
      state: "waiting",
    };
    this.outbox.push(entry);
    return entry;
  }

  /** The frame that sends an outbox entry. */
  static frameOf(entry) {
    return entry.room !== null
      ? { type: "message", room: entry.room, content: entry.content, ref: entry.ref }
      : { type: "private_message", target: entry.target, content: entry.content, ref: entry.ref };
  }

  /** Entries waiting to be sent (typed while disconnected, or unconfirmed when it dropped). */
  unsent() {
    return this.outbox.filter((e) => e.state === "waiting");
  }

  markSent(ref) {
    const e = this.outbox.find((x) => x.ref === ref);
    if (e) e.state = "sent";
  }

  settle(ref, state) {
    const i = this.outbox.findIndex((x) => x.ref === ref);
    if (i < 0) return;
    if (state === "stored") this.outbox.splice(i, 1);
    else this.outbox[i].state = state;
  }

  /** A message of ours came back (live or replayed): the matching sent entry is stored. */
  confirm(frame) {
    const inFlight = (e) => e.state === "sent" || e.state === "unconfirmed";
    const same = frame.room !== undefined
      ? (e) => e.room !== null && roomKey(e.room) === roomKey(frame.room)
      : (e) => e.target !== null && directKey(e.target) === directKey(frame.target);
    const i = this.outbox.findIndex((e) => inFlight(e) && same(e) && e.content === frame.content);
    if (i >= 0) this.outbox.splice(i, 1);
  }

  /**
   * The connection dropped: sent messages whose fate is unknown wait for the resume. After it,
   * those the replay did not bring back are sent again (`afterResume`).
   */
  disconnected() {
    for (const e of this.outbox) if (e.state === "sent") e.state = "unconfirmed";
  }

  afterResume() {
    for (const e of this.outbox) if (e.state === "unconfirmed") e.state = "waiting";
  }

  /** Outbox entries of a conversation, to show as pending lines. */
  pendingIn(key) {
    return this.outbox.filter((e) => e.key === key);
  }
}

/** A room's mode letters (`+nt`) after a change (`-t+m`), as the server's `letters_after`. */
export function lettersAfter(current, change) {
  let letters = [...current].filter((c) => /[a-z]/i.test(c));
  let on = true;
  for (const c of change) {
    if (c === "+") on = true;
    else if (c === "-") on = false;
    else if (!"bov".includes(c) && /[a-z]/i.test(c)) {
      letters = letters.filter((l) => l !== c);
      if (on) letters.push(c);
    }
  }
  if (!letters.includes("n")) letters.unshift("n");
  const order = "nimstkl";
  letters.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  return "+" + letters.join("");
}
