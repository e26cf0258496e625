// The web client's page: draws the model and turns what you do into requests. The chat's
// logic lives in model.js (conversations), commands.js (what you type) and session.js (the
// connection); this file only touches the DOM.

import { ChatModel, KIND, directKey, roomKey } from "./model.js";
import { COMMANDS, complete, hint, parse, Recall } from "./commands.js";
import { Session, socketUrl } from "./session.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;

const model = new ChatModel();
const recall = new Recall();
let session = null;
let lastShownKey = null;

// ----- theme -----

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}
const storedTheme = localStorage.getItem("palaver.theme");
applyTheme(storedTheme ?? (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
$("theme-button").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  applyTheme(next);
  localStorage.setItem("palaver.theme", next);
});

// ----- connecting -----

$("username").value = localStorage.getItem("palaver.username") ?? "";

function connect(register) {
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username) return;
  if (register && !password) {
    showConnectError("Choose a password to register your name.");
    return;
  }
  localStorage.setItem("palaver.username", username);
  showConnectError("");
  const credentials = register ? { username, password, register: true } : { username, password: password || null };
  session = new Session(socketUrl(location), model, credentials);
  session.addEventListener("frame", (e) => onFrame(e.detail));
  session.addEventListener("state", (e) => onState(e.detail));
  session.addEventListener("refused", (e) => {
    if (!session.everJoined) {
      showConnectError(e.detail.message);
      session = null;
    }
  });
  session.addEventListener("outbox", () => renderLog());
  session.addEventListener("resumed", () => renderAll());
  session.start();
  if ("Notification" in window && Notification.permission === "default") {
    // Asked once, in answer to the user's own click.
    Notification.requestPermission().catch(() => {});
  }
}

function showConnectError(text) {
  $("connect-error").textContent = text;
}

$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect(false);
});
$("register-button").addEventListener("click", () => connect(true));

function onState({ state, inMs }) {
  const status = $("status");
  status.dataset.state = state;
  if (state === "connected") status.textContent = "connected";
  else if (state === "reconnecting") {
    status.textContent = inMs ? `reconnecting in ${Math.ceil(inMs / 1000)} s…` : "reconnecting…";
  } else if (state === "closed") status.textContent = "disconnected";
  else status.textContent = "connecting…";
}

addEventListener("online", () => session?.nudge());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    session?.nudge();
    const c = model.conversation(model.active);
    if (c) model.activate(c.key);
    renderSidebar();
    updateTitle();
  }
});

// ----- frames -----

function onFrame({ frame, outcome }) {
  if (frame.type === "welcome") {
    $("connect").hidden = true;
    $("chat").hidden = false;
    renderAll();
    $("message").focus();
    return;
  }
  if (outcome?.notify && (document.hidden || outcome.notify.key !== model.active)) {
    notify(outcome.notify);
  }
  if (frame.type === "history") {
    renderLog({ keepBottom: false, prepended: outcome?.key === model.active });
    renderSidebar();
    return;
  }
  if (frame.type === "renamed" && frame.new) localStorage.setItem("palaver.username", frame.new);
  renderAll();
}

function notify({ title, body, key }) {
  if (!document.hidden && key === model.active) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const n = new Notification(title, { body: body.slice(0, 200), tag: key, icon: "/icon.svg" });
  n.onclick = () => {
    window.focus();
    show(key);
  };
}

// ----- drawing -----

function renderAll() {
  renderSidebar();
  renderHeader();
  renderLog();
  renderMembers();
  updateTitle();
}

function updateTitle() {
  const unread = model.totalUnread();
  document.title = unread > 0 ? `(${unread}) Palaver` : "Palaver";
}

function conversationItem(c) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.className = "conversation-button";
  button.dataset.key = c.key;
  if (c.key === model.active) button.setAttribute("aria-current", "true");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = c.isRoom ? `#${c.name}` : c.name;
  button.append(name);
  if (c.unread > 0) {
    const badge = document.createElement("span");
    badge.className = c.mentions > 0 ? "badge mention" : "badge";
    badge.textContent = String(c.unread);
    badge.setAttribute("aria-label", `${c.unread} unread${c.mentions ? `, ${c.mentions} for you` : ""}`);
    button.append(badge);
  }
  button.addEventListener("click", () => {
    show(c.key);
    closeDrawer();
  });
  li.append(button);
  return li;
}

function renderSidebar() {
  const rooms = $("rooms");
  rooms.replaceChildren(...model.rooms().filter((c) => !c.left).map(conversationItem));
  $("directs").replaceChildren(...model.directs().map(conversationItem));
}

function renderHeader() {
  const c = model.conversation(model.active);
  const modes = c?.modes && c.modes !== "+n" ? ` [${c.modes}]` : "";
  $("title").textContent = c ? (c.isRoom ? `#${c.name}${modes}` : c.name) : "";
  $("topic").textContent = c?.topic ?? "";
}

function colourOf(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `user-colour-${h % 8}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });

function lineElement(line) {
  const div = document.createElement("div");
  div.className = `line ${line.kind}`;
  if (line.mention) div.classList.add("mention");
  if (line.pending) div.classList.add("pending");
  const time = document.createElement("time");
  time.dateTime = line.time.toISOString();
  time.textContent = timeFormat.format(line.time);
  div.append(time);
  const body = document.createElement("span");
  body.className = "body";
  if (line.username && line.kind !== KIND.SYSTEM) {
    const who = document.createElement("span");
    who.className = `who ${colourOf(line.username)}`;
    who.textContent = line.action ? `* ${line.username} ` : `${line.username}: `;
    body.append(who);
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = line.text;
  body.append(text);
  if (line.pending) {
    const state = document.createElement("span");
    state.className = "pending-state";
    state.textContent = line.pending === "failed" ? " (not sent)" : " (sending…)";
    body.append(state);
  }
  div.append(body);
  return div;
}

function renderLog({ keepBottom = true, prepended = false } = {}) {
  const log = $("log");
  const c = model.conversation(model.active);
  if (!c) {
    log.replaceChildren();
    return;
  }
  const switched = lastShownKey !== c.key;
  lastShownKey = c.key;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const oldHeight = log.scrollHeight;
  const oldTop = log.scrollTop;
  const nodes = [];
  if (c.hasMore) {
    const more = document.createElement("div");
    more.className = "line system more";
    more.textContent = c.loading ? "Loading older messages…" : "Scroll up for older messages";
    nodes.push(more);
  }
  let day = null;
  const pending = model.pendingIn(c.key).map((e) => ({
    kind: c.isRoom ? KIND.OWN : KIND.PRIVATE_SENT,
    text: e.content.startsWith("/me ") ? e.content.slice(4) : e.content,
    action: e.content.startsWith("/me "),
    username: model.me,
    time: new Date(),
    pending: e.state,
  }));
  for (const line of c.lines.concat(pending)) {
    const d = line.time.toDateString();
    if (d !== day) {
      day = d;
      const sep = document.createElement("div");
      sep.className = "day";
      sep.setAttribute("role", "separator");
      sep.textContent = dayFormat.format(line.time);
      nodes.push(sep);
    }
    nodes.push(lineElement(line));
  }
  log.replaceChildren(...nodes);
  if (prepended) log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
  else if (switched || (keepBottom && atBottom)) log.scrollTop = log.scrollHeight;
  // Nothing to scroll yet: fetch older messages until there is (or there are no more).
  if (c.hasMore && !c.loading && log.scrollHeight <= log.clientHeight) queueMicrotask(loadOlder);
}

function memberButton(name) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.className = `member ${colourOf(name)}`;
  button.textContent = name;
  button.title = name === model.me ? "you" : `Write to ${name} privately`;
  button.addEventListener("click", () => {
    if (name === model.me) return;
    model.direct(name);
    show(directKey(name));
    closeDrawer();
    $("message").focus();
  });
  li.append(button);
  return li;
}

/** The member list: beside the conversation, and in the drawer on narrow screens. */
function renderMembers() {
  const c = model.conversation(model.active);
  const names = c?.isRoom ? [...c.members].sort((a, b) => a.localeCompare(b)) : [];
  const title = c?.isRoom ? `Members (${names.length})` : "Members";
  $("members-title").textContent = title;
  $("drawer-members-title").textContent = title;
  $("members").replaceChildren(...names.map(memberButton));
  $("drawer-members").replaceChildren(...names.map(memberButton));
}

function show(key) {
  model.activate(key);
  renderAll();
  const c = model.conversation(key);
  if (c && !c.isRoom && c.lines.length === 0 && c.hasMore) loadOlder();
}

// ----- older history -----

function loadOlder() {
  const c = model.conversation(model.active);
  if (!c || !c.hasMore || c.loading || !session?.joined) return;
  const frame = { type: "history", limit: PAGE };
  if (c.isRoom) frame.room = c.name;
  else frame.with = c.name;
  const oldest = c.oldestSeq();
  if (oldest) frame.before = oldest;
  c.loading = true;
  if (!session.request(frame)) c.loading = false;
  renderLog({ keepBottom: false });
}

$("log").addEventListener("scroll", () => {
  if ($("log").scrollTop < 60) loadOlder();
});

// ----- typing -----

const input = $("message");

input.addEventListener("input", () => {
  $("hint").textContent = hint(input.value);
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
});

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === "Tab" && input.value) {
    const c = model.conversation(model.active);
    const names = new Set([...(c?.members ?? []), ...model.users, ...model.directs().map((d) => d.name)]);
    names.delete(model.me);
    const done = complete(input.value, input.selectionStart, names);
    if (done) {
      e.preventDefault();
      input.value = done.text;
      input.setSelectionRange(done.caret, done.caret);
    }
  } else if (e.key === "ArrowUp" && !input.value.includes("\n") && input.selectionStart === 0) {
    const previous = recall.up();
    if (previous !== null) {
      e.preventDefault();
      input.value = previous;
    }
  } else if (e.key === "ArrowDown" && !input.value.includes("\n") && recall.index < recall.items.length) {
    e.preventDefault();
    input.value = recall.down();
  }
});

$("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});

function submit() {
  const text = input.value;
  const c = model.conversation(model.active);
  const result = parse(text, c);
  if (result.error === null) return;
  recall.push(text.trim());
  input.value = "";
  input.style.height = "auto";
  $("hint").textContent = "";
  if (result.error) return localLine(result.error, KIND.ERROR);
  if (result.help) {
    return localLine(COMMANDS.map(([n, a, w]) => `${n}${a ? " " + a : ""} — ${w}`).join("\n"), KIND.SYSTEM);
  }
  if (result.send !== undefined) {
    if (!c) return;
    session?.say(c.key, result.send);
    renderLog();
    return;
  }
  if (result.open?.direct) {
    model.direct(result.open.direct);
    show(directKey(result.open.direct));
    if (result.frame) session?.say(model.active, result.frame.content);
    return;
  }
  if (result.open?.room) {
    model.room(result.open.room).left = false;
    model.activate(roomKey(result.open.room));
  }
  if (result.frame && !session?.request(result.frame)) {
    localLine("Not connected: try again in a moment.", KIND.ERROR);
  }
  renderAll();
}

function localLine(text, kind) {
  const c = model.conversation(model.active);
  if (!c) return;
  model.add(c, { kind, text, username: null, id: null, seq: null, time: new Date(), action: false, mention: false, pending: null }, { count: false });
  renderLog();
}

$("join-room-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("join-room").value.trim().replace(/^#/, "");
  if (!name) return;
  $("join-room").value = "";
  model.room(name).left = false;
  model.activate(roomKey(name));
  session?.request({ type: "join_room", room: name });
  renderAll();
  closeDrawer();
});

// ----- the drawer (narrow screens) -----

function closeDrawer() {
  $("chat").classList.remove("drawer-open");
  $("drawer-button").setAttribute("aria-expanded", "false");
}
$("drawer-button").addEventListener("click", () => {
  const open = $("chat").classList.toggle("drawer-open");
  $("drawer-button").setAttribute("aria-expanded", String(open));
  if (open) $("sidebar").querySelector("button")?.focus();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") closeDrawer();
});
