// Typing notifications (docs/protocol.md, "typing"), both ways, without the DOM: when to tell
// the server that we type (TypingSender), who is typing in each conversation and for how long
// (TypingTracker), and the sentence under the log. Time comes from an injectable clock, so the
// tests need no timers.

export const TYPING = Object.freeze({
  // While typing goes on, "active" again this often.
  RESEND_MS: 3000,
  // No keystroke for this long: "paused".
  PAUSE_AFTER_MS: 5000,
  // Someone else's "paused" is dropped after this, their "active" after this without another.
  PAUSED_TTL_MS: 6000,
  ACTIVE_TTL_MS: 30000,
});

// Typing frames carry this ref, so that a refusal (rate_limited, unknown_user to someone gone)
// is not shown as an error in the conversation: nothing was lost.
export const TYPING_REF = "typing";

const STATES = new Set(["active", "paused", "done"]);

/**
 * What we tell the server about our own typing. Each method returns the typing frames to send
 * now (usually none): the app sends them and calls `tick` when `nextTick()` says.
 */
export class TypingSender {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.reset();
  }

  /** Forgets what was sent (the connection dropped, or a frame could not go). */
  reset() {
    // {key, to: {room} | {target}}: the conversation told, or null.
    this.conversation = null;
    this.state = "idle";
    this.sentAt = 0;
    this.typedAt = 0;
  }

  /**
   * The composer now holds `text` in conversation `c` ({key, name, isRoom}). Empty text (cleared)
   * and commands (starting with "/") are not typing.
   */
  typed(c, text) {
    const frames = this.conversation && this.conversation.key !== c?.key ? this.finished() : [];
    if (!c || !text.trim() || text.trimStart().startsWith("/")) return frames.concat(this.finished());
    const now = this.now();
    this.conversation = { key: c.key, to: c.isRoom ? { room: c.name } : { target: c.name } };
    this.typedAt = now;
    if (this.state !== "active" || now - this.sentAt >= TYPING.RESEND_MS) {
      this.state = "active";
      this.sentAt = now;
      frames.push(this.frame("active"));
    }
    return frames;
  }

  /** Time passed: "paused" once no key was pressed for a while. */
  tick() {
    if (this.state !== "active" || this.now() - this.typedAt < TYPING.PAUSE_AFTER_MS) return [];
    this.state = "paused";
    return [this.frame("paused")];
  }

  /** The message was sent, the composer cleared, or we went elsewhere: "done" if we said more. */
  finished() {
    if (this.state === "idle") return [];
    const frame = this.frame("done");
    this.reset();
    return [frame];
  }

  /** In how many ms `tick` may have something to send, or null. */
  nextTick() {
    if (this.state !== "active") return null;
    return Math.max(0, this.typedAt + TYPING.PAUSE_AFTER_MS - this.now());
  }

  frame(state) {
    return { type: "typing", ...this.conversation.to, state, ref: TYPING_REF };
  }
}

/** Who is typing in each conversation (by key), each until their notice expires. */
export class TypingTracker {
  constructor(now = () => Date.now()) {
    this.now = now;
    // key -> Map(folded name -> {name, state, until}), in the order they started.
    this.byKey = new Map();
  }

  /** Someone's typing frame in conversation `key`; true if what is shown may have changed. */
  update(key, username, state) {
    if (!username || !STATES.has(state)) return false;
    const folded = username.normalize("NFC").toLowerCase();
    let people = this.byKey.get(key);
    if (state === "done") {
      const had = people?.delete(folded) ?? false;
      if (people?.size === 0) this.byKey.delete(key);
      return had;
    }
    if (!people) this.byKey.set(key, (people = new Map()));
    const had = people.has(folded);
    const ttl = state === "active" ? TYPING.ACTIVE_TTL_MS : TYPING.PAUSED_TTL_MS;
    people.set(folded, { name: username, state, until: this.now() + ttl });
    return !had;
  }

  /** Someone's message arrived: they are done typing it. */
  stopped(key, username) {
    return username ? this.update(key, username, "done") : false;
  }

  /** The names typing in `key` now, in the order they started. */
  names(key) {
    const people = this.byKey.get(key);
    if (!people) return [];
    const now = this.now();
    for (const [folded, p] of people) if (p.until <= now) people.delete(folded);
    if (people.size === 0) this.byKey.delete(key);
    return [...people.values()].map((p) => p.name);
  }

  /** In how many ms the next notice expires (in any conversation), or null if none is left. */
  nextExpiry() {
    const now = this.now();
    let soonest = Infinity;
    for (const key of [...this.byKey.keys()]) {
      this.names(key);
      for (const p of this.byKey.get(key)?.values() ?? []) soonest = Math.min(soonest, p.until);
    }
    return soonest === Infinity ? null : soonest - now;
  }

  /** Forgets everyone (the connection dropped: nobody says "done" across it). */
  clear() {
    this.byKey.clear();
  }
}

/** "bob is typing…", "bob and carol are typing…", "several people are typing…", or "". */
export function typingSentence(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "several people are typing…";
}
