// The chat as data: conversations, their lines, unread and mention counts, members and the
// cursors a reconnect resumes from; reactions, replies, edits and deletions of messages; the
// files they carry (files.js); the search panel's results; who is typing where (typing.js). It
// applies the server's frames and knows nothing of the DOM, so it is tested without a browser
// (the desktop client's model.rs plays the same part).
//
// Read markers (`mark_read` and `read_marker` frames): how far the user has read each conversation,
// kept by the server per account and told to every device. A marker only moves forward; the
// unread count of a conversation is then its messages from others after the marker, so reading
// a room on the phone clears its badge on the laptop. What the client has read goes back as
// `mark_read` (markReadDue, markReadFrame; ReadThrottle says when). A conversation opened with
// unread messages shows a "New" line above the first of them (dividerLine): it is placed when
// the conversation is opened and does not move while it stays open.

import { attachmentsOf, filesSummary, isUploadRef } from "./files.js";
import { TYPING_REF, TypingTracker } from "./typing.js";

export const KIND = Object.freeze({
  SYSTEM: "system",
  SERVER: "server",
  OWN: "own",
  OTHER: "other",
  PRIVATE_SENT: "private-sent",
  PRIVATE_RECEIVED: "private-received",
  ERROR: "error",
  // Where a window of older messages (a jump to a reply or a search result) ends and the
  // newest messages begin: the messages between are not loaded yet.
  GAP: "gap",
});

/** A conversation's key: a room's folded name, or "@" and the other user's folded name. */
export function roomKey(name) {
  return name.replace(/^#/, "").normalize("NFC").toLowerCase();
}
export function directKey(name) {
  return "@" + name.normalize("NFC").toLowerCase();
}
/** A username as compared: names are unique case-insensitively. */
export function sameName(a, b) {
  return a != null && b != null && a.normalize("NFC").toLowerCase() === b.normalize("NFC").toLowerCase();
}

/** The first line of `content`, at most `max` characters, with an ellipsis when cut. */
export function excerpt(content, max = 80) {
  const first = (content ?? "").trim().split("\n", 1)[0];
  const chars = [...first];
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : first;
}

export class Conversation {
  constructor(key, name, isRoom) {
    this.key = key;
    this.name = name;
    this.isRoom = isRoom;
    this.topic = "";
    this.lines = [];
    // Message lines by id: de-duplication, and where changes (reactions, edits) apply.
    this.byId = new Map();
    this.unread = 0;
    this.mentions = 0;
    // Where the "New" line goes, placed when the conversation was opened: above the first
    // message of others with after < seq <= upTo. {after, upTo}, or null.
    this.newDivider = null;
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

  /** The loaded message with that id, or null. */
  message(id) {
    return this.byId.get(id) ?? null;
  }

  /** Whether a window of older messages is shown apart from the newest (after a jump). */
  gap() {
    return this.lines.find((l) => l.kind === KIND.GAP) ?? null;
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
    // Messages only: the text as sent (with "/me "), what it answers, its changes.
    content: fields.content ?? text,
    replyTo: fields.replyTo ?? null,
    replyPreview: fields.replyPreview ?? null,
    edited: fields.edited ?? null,
    deleted: fields.deleted ?? false,
    reactions: fields.reactions ?? [],
    // Files sent with it: [{id, name, size, contentType, url}] (see files.js).
    attachments: fields.attachments ?? [],
  };
}

/** Whether a line is a message of ours (one we may edit or delete). */
export function isOwn(line) {
  return line.kind === KIND.OWN || line.kind === KIND.PRIVATE_SENT;
}

/** Whether a line is a message that can be unread: someone else's, stored, not deleted. */
export function isUnreadable(line) {
  return (line.kind === KIND.OTHER || line.kind === KIND.PRIVATE_RECEIVED) && line.seq != null && !line.deleted;
}

// mark_read frames carry this ref and the conversation's key, so that a refusal is no error
// line (nothing was lost: the marker is sent again when next due).
export const READ_REF_PREFIX = "read:";
export function isReadRef(ref) {
  return typeof ref === "string" && ref.startsWith(READ_REF_PREFIX);
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
    // History requests in flight, by ref: {key, kind: "older" | "around" | "newer", limit, id}.
    this.historyRequests = new Map();
    // The search panel: {query, scope, results, hasMore, loading, error, ref}, or null.
    this.search = null;
    // Who is typing in each conversation (others only).
    this.typing = new TypingTracker();
    // Read markers by conversation key (the server's, only ever moved forward); kept apart
    // from the conversations, so that one told before its conversation exists still applies.
    this.markers = new Map();
    // The seq of the mark_read sent on this connection and not answered yet, by key.
    this.readSent = new Map();
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

  /**
   * Makes `key` the conversation shown: its unread counts are cleared. Opened (or shown again)
   * with unread messages, it gets a "New" line above the first; the one it leaves loses its.
   */
  activate(key) {
    const c = this.conversations.get(key);
    if (!c) return;
    if (key !== this.active) {
      const left = this.conversations.get(this.active);
      if (left) left.newDivider = null;
      c.newDivider = this.dividerAt(c);
    } else if (c.unread > 0) {
      c.newDivider = this.dividerAt(c);
    }
    this.active = key;
    c.unread = 0;
    c.mentions = 0;
  }

  /** Adds a line unless its id is already there; counts it as unread when not shown. */
  add(c, entry, { count = true, visible = true } = {}) {
    if (entry.id != null) {
      if (c.byId.has(entry.id)) return false;
      c.byId.set(entry.id, entry);
    }
    if (entry.seq != null && entry.seq > c.cursor) c.cursor = entry.seq;
    c.lines.push(entry);
    // Read already (on another device, say): no count.
    const read = entry.seq != null && entry.seq <= this.readMarker(c.key);
    if (count && !read && !(visible && this.active === c.key)) {
      c.unread += 1;
      if (entry.mention || !c.isRoom) c.mentions += 1;
    }
    return true;
  }

  /** Older messages, oldest first, put before what is shown. */
  prepend(c, entries, hasMore) {
    const fresh = entries.filter((e) => e.id == null || !c.byId.has(e.id));
    for (const e of fresh) if (e.id != null) c.byId.set(e.id, e);
    // Anything newer than what is shown (a page that crossed a jump's window) goes in its place.
    const oldest = c.oldestSeq();
    const older = fresh.filter((e) => oldest == null || e.seq == null || e.seq < oldest);
    for (const e of fresh) if (!older.includes(e)) insertBySeq(c.lines, e);
    c.lines = older.concat(c.lines);
    c.hasMore = hasMore;
    c.loading = false;
    return fresh.length;
  }

  /**
   * A window of messages around one (a jump): joined to what is shown when they meet, else
   * shown before it with a gap between, filled later by `newerRequest` pages.
   */
  insertWindow(c, entries) {
    const meets = entries.some((e) => e.id != null && c.byId.has(e.id));
    const fresh = entries.filter((e) => e.id == null || !c.byId.has(e.id));
    for (const e of fresh) if (e.id != null) c.byId.set(e.id, e);
    if (meets || c.lines.every((l) => l.seq == null)) {
      for (const e of fresh) insertBySeq(c.lines, e);
    } else {
      const newest = fresh.filter((e) => e.id != null).at(-1);
      const gap = line(KIND.GAP, "", { time: newest?.time ?? new Date() });
      gap.afterId = newest?.id ?? null;
      c.lines = fresh.concat([gap], c.lines);
    }
    // Whether anything is older than the window is not known until asked.
    c.hasMore = true;
    return fresh.length;
  }

  /** A page after the window's newest message: it goes in the gap, which closes when met. */
  fillGap(c, entries, { hasMore, limit }) {
    const gap = c.gap();
    // The window was left meanwhile ("jump to the newest"): nothing to fill.
    if (!gap) return 0;
    const meets = entries.some((e) => e.id != null && c.byId.has(e.id));
    const fresh = entries.filter((e) => e.id == null || !c.byId.has(e.id));
    for (const e of fresh) if (e.id != null) c.byId.set(e.id, e);
    const at = c.lines.indexOf(gap);
    c.lines.splice(at, 0, ...fresh);
    const newest = fresh.filter((e) => e.id != null).at(-1);
    if (meets || hasMore === false || entries.length < limit || !newest) {
      c.lines.splice(c.lines.indexOf(gap), 1);
    } else {
      gap.afterId = newest.id;
      gap.time = newest.time;
    }
    gap.loading = false;
    return fresh.length;
  }

  /** Forgets a window shown apart (before a new jump): only the newest messages stay. */
  dropWindow(c) {
    const gap = c.gap();
    if (!gap) return;
    const at = c.lines.indexOf(gap);
    for (const l of c.lines.slice(0, at)) if (l.id != null) c.byId.delete(l.id);
    c.lines = c.lines.slice(at + 1);
    c.hasMore = true;
  }

  // ----- read markers -----

  /** How far the user has read conversation `key` (the seq of the newest message read; 0: none). */
  readMarker(key) {
    return this.markers.get(key) ?? 0;
  }

  /**
   * The server's marker for `key`: kept when it is ahead of the one known (a marker never goes
   * back), and then the conversation's unread counts are counted again. Whether it moved.
   */
  setReadMarker(key, seq) {
    if (!(seq > this.readMarker(key))) return false;
    this.markers.set(key, seq);
    if ((this.readSent.get(key) ?? 0) <= seq) this.readSent.delete(key);
    const c = this.conversations.get(key);
    if (c) this.recountUnread(c);
    return true;
  }

  /** Unread and mention counts from the marker: the loaded messages of others after it. */
  recountUnread(c) {
    const marker = this.readMarker(c.key);
    let unread = 0;
    let mentioned = 0;
    for (const l of c.lines) {
      if (!isUnreadable(l) || l.seq <= marker) continue;
      unread += 1;
      if (l.mention || !c.isRoom) mentioned += 1;
    }
    c.unread = unread;
    c.mentions = mentioned;
  }

  /** The seq of a conversation's newest loaded message (0 if none). */
  newestSeq(c) {
    for (let i = c.lines.length - 1; i >= 0; i--) {
      const l = c.lines[i];
      if (l.id != null && l.seq != null) return l.seq;
    }
    return 0;
  }

  /** Read up to where: the marker, or a mark_read sent past it and not answered yet. */
  readUpTo(key) {
    return Math.max(this.readMarker(key), this.readSent.get(key) ?? 0);
  }

  /**
   * The seq to send in `mark_read` for conversation `key` now that it is read (shown to the
   * user): its newest message's, when that is past the marker (and past what was sent); else null.
   */
  markReadDue(key) {
    const c = this.conversations.get(key);
    if (!c || c.left) return null;
    const seq = this.newestSeq(c);
    return seq > this.readUpTo(key) ? seq : null;
  }

  /** The `mark_read` frame saying `key` is read up to `seq`; null when that is known already. */
  markReadFrame(key, seq) {
    const c = this.conversations.get(key);
    if (!c || c.left || !(seq > this.readUpTo(key))) return null;
    const where = c.isRoom ? { room: c.name } : { with: c.name };
    return { type: "mark_read", ...where, seq, ref: READ_REF_PREFIX + key };
  }

  /** A mark_read went: until its answer (or a drop), nothing at or below `seq` is due. */
  markReadSent(key, seq) {
    if (seq > (this.readSent.get(key) ?? 0)) this.readSent.set(key, seq);
  }

  /** A `read_marker` frame: {changed, key}; the conversation shown is read here as well. */
  readMarkerFrame(frame, { visible }) {
    const key = frame.room != null ? roomKey(frame.room) : frame.with != null ? directKey(frame.with) : null;
    const seq = Number(frame.seq);
    if (key === null || !Number.isSafeInteger(seq)) return { changed: false };
    if (!this.setReadMarker(key, seq)) return { changed: false, key };
    // Shown here: nothing to count, but a "New" line above what this device had not seen.
    if (visible && this.active === key) this.activate(key);
    return { changed: true, key };
  }

  /**
   * Where the "New" line of a conversation being opened goes: after what is read (the marker,
   * or the messages counted here when more are), up to the newest seq now; null if nothing.
   */
  dividerAt(c) {
    let after = this.readUpTo(c.key);
    if (c.unread > 0) {
      // Counted here: the last `unread` messages of others (after the marker) are the new ones.
      const others = c.lines.filter((l) => isUnreadable(l) && l.seq > after);
      const first = others[Math.max(0, others.length - c.unread)];
      if (first) after = Math.max(after, first.seq - 1);
    } else if (!this.markers.has(c.key)) {
      return null;
    }
    return c.cursor > after ? { after, upTo: c.cursor } : null;
  }

  /** The line the "New" line goes above (the first unread message when opened), or null. */
  dividerLine(c) {
    const d = c?.newDivider;
    if (!d) return null;
    return c.lines.find((l) => isUnreadable(l) && l.seq > d.after && l.seq <= d.upTo) ?? null;
  }

  // ----- asking for history (the frames carry a ref, so their pages go where they belong) -----

  historyFrame(c, fields, kind) {
    const ref = `h${this.nextRef++}`;
    const frame = { type: "history", ...(c.isRoom ? { room: c.name } : { with: c.name }), ...fields, ref };
    this.historyRequests.set(ref, { key: c.key, kind, limit: fields.limit, id: fields.around_id ?? null });
    return frame;
  }

  /** The request for the page before what is shown, or null if none is needed now. */
  olderRequest(key, limit = 100) {
    const c = this.conversations.get(key);
    if (!c || !c.hasMore || c.loading) return null;
    const fields = { limit };
    const oldest = c.oldestSeq();
    if (oldest) fields.before = oldest;
    c.loading = true;
    return this.historyFrame(c, fields, "older");
  }

  /** The request for the messages around message `id` (a jump to one not loaded). */
  aroundRequest(key, id, limit = 50) {
    const c = this.conversations.get(key);
    if (!c) return null;
    this.dropWindow(c);
    return this.historyFrame(c, { around_id: id, limit }, "around");
  }

  /** The request for the messages in the gap after a window, or null. */
  newerRequest(key, limit = 100) {
    const c = this.conversations.get(key);
    const gap = c?.gap();
    if (!gap || gap.loading || gap.afterId == null) return null;
    gap.loading = true;
    return this.historyFrame(c, { after_id: gap.afterId, oldest_first: true, limit }, "newer");
  }

  /** A request went unanswered (it could not be sent, or the connection dropped). */
  forgetRequest(ref) {
    const r = this.historyRequests.get(ref);
    this.historyRequests.delete(ref);
    const c = r && this.conversations.get(r.key);
    if (!c) return;
    if (r.kind === "older") c.loading = false;
    const gap = c.gap();
    if (r.kind === "newer" && gap) gap.loading = false;
  }

  // ----- changes to messages -----

  /**
   * The conversation a change frame (`reaction`, `edited`, `deleted`) belongs to: its room, or
   * in private `target` when we made the change and `username` otherwise. Null if not known.
   */
  changeConversation(frame) {
    if (frame.room != null) return this.conversation(roomKey(frame.room));
    const other = sameName(frame.username, this.me) ? frame.target : frame.username;
    return other != null ? this.conversation(directKey(other)) : null;
  }

  /** Applies a change frame: idempotent, and moves the cursor like a message does. */
  change(frame) {
    const c = this.changeConversation(frame);
    if (!c) return { changed: false };
    if (frame.seq != null && frame.seq > c.cursor) c.cursor = frame.seq;
    const target = c.message(frame.id);
    if (!target) return { changed: false, key: c.key };
    if (target.deleted) return { changed: false, key: c.key };
    const at = frame.timestamp ? new Date(frame.timestamp) : new Date();
    if (frame.type === "reaction") {
      setReaction(target, frame.emoji, frame.username, frame.added !== false);
    } else if (frame.type === "edited") {
      const action = actionText(frame.content ?? "");
      target.content = frame.content ?? "";
      target.text = action ?? target.content;
      target.action = action !== null;
      target.edited = at;
      if (target.kind === KIND.OTHER) target.mention = mentions(target.content, this.me);
      this.refreshPreviews(c, target);
    } else if (frame.type === "deleted") {
      target.deleted = true;
      target.content = "";
      target.text = "";
      target.action = false;
      target.mention = false;
      target.reactions = [];
      target.attachments = [];
      target.replyPreview = null;
      target.deletedBy = frame.username ?? null;
      this.refreshPreviews(c, target);
    }
    return { changed: true, key: c.key, id: frame.id };
  }

  /** Loaded replies to a changed message quote it as it is now. */
  refreshPreviews(c, target) {
    for (const l of c.lines) {
      if (l.replyTo !== target.id) continue;
      l.replyPreview = target.deleted
        ? null
        : withFiles({ username: target.username, content: target.content.slice(0, 200) }, target.attachments);
    }
  }

  /**
   * What a reply quotes: the message it answers as loaded, else the server's preview.
   * {username, content, attachments?} or {deleted: true}; null if the line answers nothing.
   * (The server's preview has no files: a preview without text quotes a message of files.)
   */
  replyPreviewOf(c, l) {
    if (l.replyTo == null) return null;
    const original = c?.message(l.replyTo);
    if (original) {
      return original.deleted
        ? { deleted: true }
        : withFiles({ username: original.username, content: original.content }, original.attachments);
    }
    return l.replyPreview ? { ...l.replyPreview } : { deleted: true };
  }

  /** Our newest message in a conversation that can still be edited (Up in an empty composer). */
  lastOwnMessage(key) {
    const c = this.conversations.get(key);
    if (!c) return null;
    for (let i = c.lines.length - 1; i >= 0; i--) {
      const l = c.lines[i];
      if (l.id != null && isOwn(l) && !l.deleted) return l;
    }
    return null;
  }

  /** Whether we reacted to a message with an emoji. */
  reacted(l, emoji) {
    return l.reactions.some((r) => r.emoji === emoji && r.users.some((u) => sameName(u, this.me)));
  }

  // ----- the search panel -----

  /** Starts a search ({room} or {with} scope, or everywhere); returns its frame. */
  searchRequest(query, scope = {}) {
    const ref = `s${this.nextRef++}`;
    this.search = { query, scope, results: [], hasMore: false, loading: true, error: null, ref };
    return { type: "search", query, ...scope, ref };
  }

  /** The next (older) page of the current search, or null. */
  moreSearchRequest() {
    const s = this.search;
    if (!s || !s.hasMore || s.loading || s.results.length === 0) return null;
    s.ref = `s${this.nextRef++}`;
    s.loading = true;
    return { type: "search", query: s.query, ...s.scope, before_id: s.results.at(-1).id, ref: s.ref };
  }

  searchResults(frame) {
    let s = this.search;
    if (!s || (frame.ref != null && frame.ref !== s.ref)) {
      // A stale page (a newer search was started) is dropped; one without a ref starts a list.
      if (frame.ref != null) return { changed: false };
      s = this.search = { query: frame.query ?? "", scope: {}, results: [], hasMore: false, loading: false, error: null, ref: null };
    }
    const seen = new Set(s.results.map((r) => r.id));
    for (const m of frame.messages ?? []) {
      if (m.id != null && seen.has(m.id)) continue;
      s.results.push(this.searchResult(m));
    }
    s.hasMore = Boolean(frame.has_more);
    s.loading = false;
    return { changed: true, search: true };
  }

  /** A search result: the message, and the conversation it is in. */
  searchResult(m) {
    const isPrivate = m.type === "private_message" || m.sender !== undefined;
    const other = isPrivate ? (sameName(m.sender, this.me) ? m.target : m.sender) : null;
    return withFiles({
      id: m.id,
      seq: m.seq ?? null,
      key: isPrivate ? directKey(other) : roomKey(m.room),
      room: isPrivate ? null : m.room,
      with: other,
      where: isPrivate ? `@${other}` : `#${m.room}`,
      username: isPrivate ? m.sender : m.username,
      content: m.content ?? "",
      time: m.timestamp ? new Date(m.timestamp) : new Date(),
    }, m.deleted ? [] : attachmentsOf(m.attachments));
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
        // How far this account read the room (on any device).
        const seq = Number(frame.read_marker?.seq);
        if (Number.isSafeInteger(seq) && seq > 0) this.setReadMarker(c.key, seq);
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
        this.typing.stopped(c.key, frame.username);
        // A mention, or a reply to one of my messages.
        const answered = frame.reply_to != null
          && sameName(c.message(frame.reply_to)?.username ?? frame.reply_preview?.username ?? "", this.me);
        const title = answered ? `${frame.username} replied to you in #${c.name}` : `${frame.username} in #${c.name}`;
        const notify = added && (entry.mention || answered) && frame.username !== this.me
          ? { title, body: entry.content || filesSummary(entry.attachments), key: c.key }
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
        const entry = this.fromChat(frame);
        const added = this.add(c, entry, { visible });
        this.typing.stopped(c.key, frame.sender);
        const body = entry.content || filesSummary(entry.attachments);
        const notify = added ? { title: `${frame.sender} (private)`, body, key: c.key } : null;
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
      case "search_results":
        return this.searchResults(frame);
      case "reaction":
      case "edited":
      case "deleted":
        return this.change(frame);
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
      case "typing":
        return this.typingFrame(frame);
      case "read_marker":
        return this.readMarkerFrame(frame, { visible });
      case "error": {
        // A typing notice refused (too fast, its target gone) is nothing to show.
        if (frame.ref === TYPING_REF) return { changed: false };
        // Nor is a mark_read refused: it is sent again when next due.
        if (isReadRef(frame.ref)) {
          this.readSent.delete(frame.ref.slice(READ_REF_PREFIX.length));
          return { changed: false };
        }
        // An upload refused is said on its file's chip (files.js), not in the conversation.
        if (isUploadRef(frame.ref)) return { changed: false, upload: true };
        if (frame.ref != null) {
          this.settle(frame.ref, "failed");
          this.forgetRequest(frame.ref);
          if (this.search && this.search.ref === frame.ref) {
            this.search.loading = false;
            this.search.error = frame.message;
          }
        }
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

  /** Someone else typing: {typing: true, key} when the conversation's typing line may change. */
  typingFrame(frame) {
    if (!frame.username || sameName(frame.username, this.me)) return { changed: false };
    // In private, `target` is us: the conversation is the sender's.
    const key = frame.room != null ? roomKey(frame.room) : directKey(frame.username);
    this.typing.update(key, frame.username, frame.state);
    return { changed: false, typing: true, key };
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
    const request = frame.ref != null ? this.historyRequests.get(frame.ref) : null;
    if (request) this.historyRequests.delete(frame.ref);
    const c = request
      ? this.conversations.get(request.key)
      : frame.room ? this.room(frame.room) : frame.with ? this.direct(frame.with) : null;
    if (!c) return { changed: false };
    const entries = (frame.messages ?? []).map((m) => this.fromChat(m));
    let added;
    if (request?.kind === "around") added = this.insertWindow(c, entries);
    else if (request?.kind === "newer") added = this.fillGap(c, entries, { hasMore: frame.has_more, limit: request.limit ?? 100 });
    else added = this.prepend(c, entries, frame.has_more);
    return { changed: true, prepended: added, key: c.key, kind: request?.kind ?? "older", ref: frame.ref ?? null };
  }

  /** A stored chat message (live, replayed, from history or search) as a line. */
  fromChat(m) {
    const time = m.timestamp ? new Date(m.timestamp) : new Date();
    const content = m.deleted ? "" : (m.content ?? "");
    const action = actionText(content) !== null;
    const text = action ? actionText(content) : content;
    const changes = {
      content,
      replyTo: m.reply_to ?? null,
      replyPreview: m.reply_preview && !m.deleted
        ? { username: m.reply_preview.username ?? "", content: m.reply_preview.content ?? "" }
        : null,
      edited: m.edited ? new Date(m.edited) : null,
      deleted: m.deleted === true,
      reactions: m.deleted ? [] : (m.reactions ?? [])
        .filter((r) => r && r.emoji && Array.isArray(r.users) && r.users.length > 0)
        .map((r) => ({ emoji: r.emoji, users: [...r.users] })),
      attachments: m.deleted ? [] : attachmentsOf(m.attachments),
    };
    if (m.type === "private_message" || m.sender !== undefined) {
      const mine = sameName(m.sender, this.me);
      return line(mine ? KIND.PRIVATE_SENT : KIND.PRIVATE_RECEIVED, text, {
        username: m.sender, id: m.id, seq: m.seq, time, action, ...changes,
      });
    }
    const mine = sameName(m.username, this.me);
    return line(mine ? KIND.OWN : KIND.OTHER, text, {
      username: m.username, id: m.id, seq: m.seq, time, action,
      mention: !mine && !m.deleted && mentions(content, this.me), ...changes,
    });
  }

  // ----- what you send -----

  /**
   * Queues a message typed by the user (`replyTo`: the id of the message it answers;
   * `attachments`: uploaded files, [{id, name, size, contentType}]); returns the entry (sent by
   * the session when it can).
   */
  queue(key, content, { replyTo = null, attachments = [] } = {}) {
    const c = this.conversations.get(key);
    if (!c) return null;
    const ref = `w${this.nextRef++}`;
    const entry = {
      ref, key, content,
      room: c.isRoom ? c.name : null,
      target: c.isRoom ? null : c.name,
      replyTo,
      attachments,
      state: "waiting",
    };
    this.outbox.push(entry);
    return entry;
  }

  /** The frame that sends an outbox entry. */
  static frameOf(entry) {
    const frame = entry.room !== null
      ? { type: "message", room: entry.room, content: entry.content, ref: entry.ref }
      : { type: "private_message", target: entry.target, content: entry.content, ref: entry.ref };
    if (entry.replyTo != null) frame.reply_to = entry.replyTo;
    if (entry.attachments?.length) frame.attachments = entry.attachments.map((a) => a.id);
    return frame;
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
    // Requests in flight are not answered on a new connection.
    for (const ref of [...this.historyRequests.keys()]) this.forgetRequest(ref);
    for (const c of this.conversations.values()) c.loading = false;
    if (this.search?.loading) this.search.loading = false;
    this.typing.clear();
    // A mark_read unanswered is sent again on the next connection if still due.
    this.readSent.clear();
  }

  afterResume() {
    for (const e of this.outbox) if (e.state === "unconfirmed") e.state = "waiting";
  }

  /** Outbox entries of a conversation, to show as pending lines. */
  pendingIn(key) {
    return this.outbox.filter((e) => e.key === key);
  }
}

// A conversation's mark_read goes at most this often; the newest seq offered meanwhile goes
// when the wait is over.
export const READ_THROTTLE_MS = 1000;

/**
 * When mark_read frames go, per conversation: at once when its last went long enough ago, else
 * once the wait is over, with the newest seq offered meanwhile (the latest wins). Time comes from
 * an injectable clock, so the tests need no timers; the app keeps the timer.
 */
export class ReadThrottle {
  constructor(now = () => Date.now(), intervalMs = READ_THROTTLE_MS) {
    this.now = now;
    this.intervalMs = intervalMs;
    this.sentAt = new Map();
    this.waiting = new Map();
    this.heldUntil = 0;
  }

  /**
   * Nothing goes for one interval (after a `welcome`: the server's markers follow it, and a
   * conversation is not marked read before its marker has placed the "New" line).
   */
  hold() {
    this.heldUntil = this.now() + this.intervalMs;
  }

  /** `seq` of `key` is due: the ms to wait before `take(key)` (0: take it now). */
  offer(key, seq) {
    this.waiting.set(key, Math.max(this.waiting.get(key) ?? 0, seq));
    const last = this.sentAt.get(key);
    const next = Math.max(last === undefined ? 0 : last + this.intervalMs, this.heldUntil);
    return Math.max(0, next - this.now());
  }

  /** The seq to send for `key` now (null if none waits); the next wait counts from now. */
  take(key) {
    const seq = this.waiting.get(key) ?? null;
    this.waiting.delete(key);
    if (seq !== null) this.sentAt.set(key, this.now());
    return seq;
  }
}

/** `object` with its `attachments` when it has some (without the field otherwise). */
function withFiles(object, attachments) {
  if (attachments?.length) object.attachments = attachments;
  return object;
}

/** Puts a message line among others by seq (before the first newer one; last if none is). */
function insertBySeq(lines, entry) {
  if (entry.seq == null) {
    lines.push(entry);
    return;
  }
  const at = lines.findIndex((l) => l.seq != null && l.seq > entry.seq);
  if (at < 0) lines.push(entry);
  else lines.splice(at, 0, entry);
}

/** Adds or takes back `username`'s reaction `emoji` (idempotent); chips keep their first order. */
export function setReaction(l, emoji, username, added) {
  let r = l.reactions.find((x) => x.emoji === emoji);
  const has = r ? r.users.some((u) => sameName(u, username)) : false;
  if (added && !has) {
    if (!r) {
      r = { emoji, users: [] };
      l.reactions.push(r);
    }
    r.users.push(username);
  } else if (!added && has) {
    r.users = r.users.filter((u) => !sameName(u, username));
    if (r.users.length === 0) l.reactions = l.reactions.filter((x) => x !== r);
  }
}

/** Text folded for matching (no accents, lower case), with where each folded char came from. */
function fold(text) {
  let folded = "";
  const from = [];
  const to = [];
  let i = 0;
  for (const ch of text) {
    const f = ch.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
    // A lone combining mark belongs to the letter before it.
    if (f === "" && to.length > 0) to[to.length - 1] = i + ch.length;
    for (let k = 0; k < f.length; k++) {
      from.push(i);
      to.push(i + ch.length);
    }
    folded += f;
    i += ch.length;
  }
  return { folded, from, to };
}

/** The words of a search query, folded: each matches the start of a word. */
export function queryWords(query) {
  return fold(query ?? "").folded.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/**
 * `text` cut into parts, [{text, mark}], where `mark` parts are what matched the query's
 * words (as the server matches: word prefixes, case and accents ignored). For <mark> elements.
 */
export function highlight(text, query) {
  const words = queryWords(query);
  if (!text || words.length === 0) return text ? [{ text, mark: false }] : [];
  const { folded, from, to } = fold(text);
  const marked = new Array(text.length).fill(false);
  const wordChar = /[\p{L}\p{N}]/u;
  for (const w of words) {
    let at = folded.indexOf(w);
    while (at >= 0) {
      if (at === 0 || !wordChar.test(folded[at - 1])) {
        for (let k = from[at]; k < to[at + w.length - 1]; k++) marked[k] = true;
      }
      at = folded.indexOf(w, at + 1);
    }
  }
  const parts = [];
  let start = 0;
  for (let k = 1; k <= text.length; k++) {
    if (k === text.length || marked[k] !== marked[start]) {
      parts.push({ text: text.slice(start, k), mark: marked[start] });
      start = k;
    }
  }
  return parts;
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
