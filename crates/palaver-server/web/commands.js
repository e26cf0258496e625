// Slash commands, their inline hints, Tab completion and input recall: pure functions over
// text, shared by nothing but tested on their own (the desktop's commands.rs does the same).

export const COMMANDS = [
  ["/join", "#room [key]", "enter a room (created if new); its key if it has one"],
  ["/leave", "[reason]", "leave this room"],
  ["/msg", "name text", "write privately to someone"],
  ["/me", "action", "say what you do: * you wave"],
  ["/topic", "text", "set this room's topic"],
  ["/nick", "name", "change your name"],
  ["/who", "", "who is in this room"],
  ["/away", "[message]", "set or clear your away message"],
  ["/search", "words", "find messages in your rooms and private conversations"],
  ["/kick", "name [reason]", "remove someone from this room (operators)"],
  ["/mode", "[+tsimkl-b ...]", "show or change this room's modes (operators)"],
  ["/invite", "name", "invite someone into this room"],
  ["/op", "name", "make someone an operator of this room (operators)"],
  ["/voice", "name", "let someone speak in a moderated room (operators)"],
  ["/mute", "name [minutes]", "mute someone here (moderators)"],
  ["/unmute", "name", "let someone speak again (moderators)"],
  ["/ban", "name [minutes] [reason]", "ban a name from the server (admins)"],
  ["/unban", "name", "lift a ban (admins)"],
  ["/lock", "", "only moderators may enter this room (moderators)"],
  ["/unlock", "", "anyone may enter again (moderators)"],
  ["/announce", "text", "tell everyone (admins)"],
  ["/register", "password", "make your name an account"],
  ["/help", "", "list the commands"],
];

/** The hint for what is being typed: the commands it could be, with their arguments. */
export function hint(text) {
  if (!text.startsWith("/")) return "";
  const word = text.split(/\s/, 1)[0].toLowerCase();
  const matches = COMMANDS.filter(([name]) => name.startsWith(word));
  if (matches.length === 0) return `Unknown command ${word}: /help lists them.`;
  return matches
    .slice(0, 4)
    .map(([name, args, what]) => `${name}${args ? " " + args : ""} — ${what}`)
    .join(" · ");
}

/**
 * What a line typed into conversation `active` ({key, name, isRoom}) means:
 * {send: content} (a message), {frame} (a request), {open: name} (a direct conversation),
 * {help: true}, or {error: sentence}.
 */
export function parse(text, active) {
  const trimmed = text.trim();
  if (!trimmed) return { error: null };
  if (!trimmed.startsWith("/") || trimmed.startsWith("//")) {
    return { send: trimmed.startsWith("//") ? trimmed.slice(1) : text.replace(/\s+$/, "") };
  }
  const [command, ...rest] = trimmed.split(/\s+/);
  const args = rest;
  const tail = trimmed.slice(command.length).trim();
  const room = active && active.isRoom ? active.name : null;
  const needRoom = () => ({ error: `${command} works in a room.` });
  switch (command.toLowerCase()) {
    case "/me":
      return tail ? { send: `/me ${tail}` } : { error: "Usage: /me action" };
    case "/join": {
      if (!args[0]) return { error: "Usage: /join #room [key]" };
      const name = args[0].replace(/^#/, "");
      return { frame: { type: "join_room", room: name, ...(args[1] ? { key: args[1] } : {}) }, open: { room: name } };
    }
    case "/leave":
    case "/part":
      if (!room) return needRoom();
      return { frame: { type: "leave_room", room, ...(tail ? { reason: tail } : {}) } };
    case "/msg":
    case "/query": {
      if (!args[0]) return { error: "Usage: /msg name text" };
      const body = tail.slice(args[0].length).trim();
      return body
        ? { frame: { type: "private_message", target: args[0], content: body }, open: { direct: args[0] } }
        : { open: { direct: args[0] } };
    }
    case "/topic":
      if (!room) return needRoom();
      return { frame: { type: "topic", room, topic: tail } };
    case "/nick":
      return args[0] ? { frame: { type: "rename", username: args[0] } } : { error: "Usage: /nick name" };
    case "/who":
      if (!room) return needRoom();
      return { frame: { type: "who", room } };
    case "/search":
    case "/find":
      return tail ? { frame: { type: "search", query: tail } } : { error: "Usage: /search words" };
    case "/away":
      return { frame: { type: "away", ...(tail ? { message: tail } : {}) } };
    case "/kick":
      if (!room) return needRoom();
      if (!args[0]) return { error: "Usage: /kick name [reason]" };
      return { frame: { type: "kick", room, username: args[0], ...(args.length > 1 ? { reason: args.slice(1).join(" ") } : {}) } };
    case "/mode": {
      const target = args[0] && args[0].startsWith("#") ? args.shift().slice(1) : room;
      if (!target) return needRoom();
      const frame = { type: "mode", room: target };
      if (args[0]) frame.modes = args[0];
      if (args.length > 1) frame.params = args.slice(1);
      return { frame };
    }
    case "/op":
    case "/deop":
    case "/voice":
    case "/devoice": {
      if (!room) return needRoom();
      if (!args[0]) return { error: `Usage: ${command} name` };
      const modes = { "/op": "+o", "/deop": "-o", "/voice": "+v", "/devoice": "-v" }[command.toLowerCase()];
      return { frame: { type: "mode", room, modes, params: [args[0]] } };
    }
    case "/invite": {
      const target = args[1] ? args[1].replace(/^#/, "") : room;
      if (!target) return needRoom();
      if (!args[0]) return { error: "Usage: /invite name [#room]" };
      return { frame: { type: "invite", room: target, username: args[0] } };
    }
    case "/mute":
    case "/unmute": {
      if (!args[0]) return { error: `Usage: ${command} name` };
      const frame = { type: command.slice(1), username: args[0] };
      if (room) frame.room = room;
      const minutes = Number.parseInt(args[1], 10);
      if (command === "/mute" && Number.isFinite(minutes)) frame.minutes = minutes;
      return { frame };
    }
    case "/ban": {
      if (!args[0]) return { error: "Usage: /ban name [minutes] [reason]" };
      const frame = { type: "ban", username: args[0] };
      const minutes = Number.parseInt(args[1], 10);
      const reasonFrom = Number.isFinite(minutes) ? 2 : 1;
      if (Number.isFinite(minutes)) frame.minutes = minutes;
      if (args.length > reasonFrom) frame.reason = args.slice(reasonFrom).join(" ");
      return { frame };
    }
    case "/unban":
      return args[0] ? { frame: { type: "unban", username: args[0] } } : { error: "Usage: /unban name" };
    case "/lock":
    case "/unlock":
      if (!room) return needRoom();
      return { frame: { type: "lock_room", room, locked: command === "/lock" } };
    case "/announce":
      return tail ? { frame: { type: "announce", message: tail } } : { error: "Usage: /announce text" };
    case "/register":
      return args[0] ? { frame: { type: "register", password: args[0] } } : { error: "Usage: /register password" };
    case "/help":
      return { help: true };
    default:
      return { error: `Unknown command ${command}: /help lists them.` };
  }
}

/** Completes the word before the caret with a name from `names`; null if none fits. */
export function complete(text, caret, names) {
  const before = text.slice(0, caret);
  const match = before.match(/(^|\s)@?([\p{L}\p{N}_.-]*)$/u);
  if (!match || !match[2]) return null;
  const partial = match[2].toLowerCase();
  const found = [...names].sort().find((n) => n.toLowerCase().startsWith(partial));
  if (!found) return null;
  const start = caret - match[2].length;
  const atStart = start === 0 || (start === 1 && text[0] === "@");
  const insert = found + (atStart ? ": " : " ");
  return { text: text.slice(0, start) + insert + text.slice(caret), caret: start + insert.length };
}

/** What was sent, for Up and Down. */
export class Recall {
  constructor(limit = 100) {
    this.items = [];
    this.index = 0;
    this.limit = limit;
  }
  push(text) {
    if (text && this.items[this.items.length - 1] !== text) this.items.push(text);
    if (this.items.length > this.limit) this.items.shift();
    this.index = this.items.length;
  }
  up() {
    if (this.index > 0) this.index -= 1;
    return this.items[this.index] ?? null;
  }
  down() {
    if (this.index < this.items.length) this.index += 1;
    return this.items[this.index] ?? "";
  }
}
