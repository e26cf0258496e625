// The web client's page: draws the model and turns what you do into requests. The chat's
// logic lives in model.js (conversations), commands.js (what you type), emoji.js (the emoji
// table, picker filtering and :shortcode: completion), markdown.js (rich text, parsed into a
// tree drawn here), typing.js (typing notifications), files.js (uploads and attachments) and
// session.js (the connection); this file only touches the DOM. Server text only ever goes in through textContent (and link
// targets through href, checked to be http or https).
//
// Stable selectors (for the browser tests; the log is redrawn on every change, so find elements
// again after an action rather than keeping them):
//   message line          #log .line[data-id="42"]   (own: .line.own / .line.private-sent;
//                         .line.deleted once deleted; .line.flash while highlighted by a jump)
//   its text              .line[data-id="42"] .text       "(edited)" mark: .edited (title: when)
//   rich text in it       .text strong, .text em, .text s, .text code (inline),
//                         .text pre.code-block > code (data-lang: the fence's language),
//                         .text blockquote, .text a[href] (rel="noopener noreferrer nofollow",
//                         target="_blank"); textContent is the text without the markers
//   reply quote           .line[data-id="42"] .reply-preview[data-reply-to="41"] (click: jump)
//   attachments           .line[data-id="42"] .attachments: images a.image-link > img.preview
//                         (opens the full image in a new tab), other files a.file[download]
//                         ("report.pdf · 1.2 MiB": .file-name, .file-size); a message still
//                         being sent shows span.file.unavailable (no link yet)
//   reaction chips        .line[data-id="42"] .reactions .chip[data-emoji="👍"]
//                         (.chip.mine / aria-pressed="true" when yours; .count; click toggles)
//                         .reactions .chip.add-reaction  opens the picker to react
//   actions (on hover or focus)  .line[data-id="42"] .actions button[data-action="reply"|"react"|"edit"|"delete"]
//                         (edit and delete on your own messages only; delete asks confirm())
//   composer              #message, #send-button, #emoji-button (opens the picker)
//   files                 #attach-button (hidden when the server takes no files) opens #file-input
//                         (hidden, multiple); files dropped on the conversation (section.conversation:
//                         #compose.dragging while files are dragged over it) or pasted into #message
//                         become chips: #pending-files li.pending-file[data-key][data-state]
//                         (.queued / .asking / .uploading / .done / .failed, as data-state), with
//                         .file-name, .file-size, progress.progress (while not done), .file-status,
//                         .file-error (role=alert, the server's sentence), button.retry, button.remove.
//                         Enter / Send with files refuses (saying why in #hint, the text kept)
//                         while one is unfinished or failed; files alone (no text) may be sent.
//   who is typing         #typing (under the log, aria-live="polite"): "bob is typing…"
//   reply / edit bar      #compose-context (.replying / .editing), #compose-cancel
//   :shortcode: list      #emoji-complete li.emoji-option[data-emoji]  (aria-selected="true": the one Enter takes)
//   emoji picker          #emoji-picker, #emoji-filter, #emoji-list button.emoji-item[data-emoji="😀"]
//   search                #search (Enter searches), #search-scope ("here" | "all"),
//                         #search-panel, #search-status, #search-results .search-result[data-id][data-key],
//                         #search-results mark, #search-more, #search-close
//   gap after a jump      #log .line.gap .gap-button (loads the newer messages), .newest-button
//   new messages line     #log .new-divider (role="separator", aria-label="New messages"): above
//                         the first unread message when the conversation was opened with some

import { ChatModel, KIND, ReadThrottle, directKey, excerpt, highlight, isOwn, roomKey } from "./model.js";
import { COMMANDS, complete, hint, parse, Recall } from "./commands.js";
import {
  EmojiTable, QUICK, applyCompletion, completions, filterEmoji, gridMove, groupEmoji, insertAt,
  pushRecent, replaceShortcodes, shortcodeQuery,
} from "./emoji.js";
import {
  MAX_ATTACHMENTS, STATE, Uploads, fileLabel, humanSize, isPreviewable, pastedName, quoteText,
} from "./files.js";
import { parse as parseRichText, plainText, safeHref } from "./markdown.js";
import { Session, socketUrl } from "./session.js";
import { TypingSender, typingSentence } from "./typing.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;
const FLASH_MS = 2000;

const model = new ChatModel();
const recall = new Recall();
let session = null;
let lastShownKey = null;
// Replying to or editing a message: {kind: "reply" | "edit", key, id, username, content}.
let composing = null;
// A jump waiting for its history page: {key, id, ref}.
let pendingJump = null;
// The message highlighted by a jump: {id (as in data-id), until}.
let flash = null;

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
    pendingJump = null;
  } else if (state === "closed") status.textContent = "disconnected";
  else status.textContent = "connecting…";
  if (state !== "connected") {
    renderSearch();
    // Nobody's typing notices (ours included) outlive the connection.
    typingSender.reset();
    renderTyping();
    // Nor do questions for upload links: asked again after the reconnect.
    uploads.disconnected();
  }
}

addEventListener("online", () => session?.nudge());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    session?.nudge();
    attend();
  }
});
addEventListener("focus", () => attend());

/** The user is back (the tab shown, the window focused): the conversation shown is read. */
function attend() {
  const c = model.conversation(model.active);
  if (c) {
    const divider = c.newDivider;
    model.activate(c.key);
    if (c.newDivider !== divider) renderLog();
  }
  renderSidebar();
  updateTitle();
  markShownRead();
}

/** Sends a request; says so in the conversation when it cannot go now. */
function request(frame) {
  if (session?.request(frame)) return true;
  localLine("Not connected: try again in a moment.", KIND.ERROR);
  return false;
}

// ----- read markers: what is read here goes to the server (and so to the user's other devices) -----

// Whether the user is looking at the page: it is shown and its window has the focus.
function attended() {
  return document.visibilityState === "visible" && document.hasFocus();
}

const readThrottle = new ReadThrottle();
// The timer of the mark_read waiting for its conversation's throttle, by key.
const readTimers = new Map();

/** The conversation shown is read while the user looks: mark_read its newest message, throttled. */
function markShownRead() {
  if (!session?.joined || !attended()) return;
  const key = model.active;
  const seq = model.markReadDue(key);
  if (seq === null) return;
  // The seq is taken now, while it is seen: the one that goes later is no newer than this.
  const wait = readThrottle.offer(key, seq);
  if (wait === 0) sendMarkRead(key);
  else if (!readTimers.has(key)) {
    readTimers.set(key, setTimeout(() => {
      readTimers.delete(key);
      sendMarkRead(key);
    }, wait));
  }
}

function sendMarkRead(key) {
  const seq = readThrottle.take(key);
  const frame = seq === null ? null : model.markReadFrame(key, seq);
  if (frame && session?.request(frame)) model.markReadSent(key, seq);
}

// ----- frames -----

function onFrame(detail) {
  handleFrame(detail);
  markShownRead();
}

function handleFrame({ frame, outcome }) {
  if (uploads.handle(frame)) return;
  if (frame.type === "welcome") {
    $("connect").hidden = true;
    $("chat").hidden = false;
    setUploadLimit(frame.limits?.max_upload_bytes ?? 0);
    readThrottle.hold();
    // Files added while the connection was down ask for their links now.
    uploads.pump();
    renderAll();
    $("message").focus();
    return;
  }
  if (outcome?.notify && (document.hidden || outcome.notify.key !== model.active)) {
    notify(outcome.notify);
  }
  if (frame.type === "search_results") {
    renderSearch();
    return;
  }
  if (frame.type === "typing") {
    if (outcome?.key === model.active) renderTyping();
    scheduleTypingExpiry();
    return;
  }
  if (frame.type === "history") {
    const here = outcome?.key === model.active;
    renderLog({ keepBottom: false, prepended: here && outcome?.kind === "older" });
    renderSidebar();
    if (pendingJump && frame.ref != null && frame.ref === pendingJump.ref) {
      const { id } = pendingJump;
      pendingJump = null;
      if (!scrollToMessage(id)) localLine("That message could not be found.", KIND.ERROR);
    }
    return;
  }
  if (frame.type === "reaction" || frame.type === "edited" || frame.type === "deleted") {
    if (frame.type === "deleted" && composing && String(composing.id) === String(frame.id)) cancelComposing();
    if (outcome?.key === model.active) renderLog();
    return;
  }
  if (frame.type === "error" && pendingJump && frame.ref === pendingJump.ref) pendingJump = null;
  if (frame.type === "error" && model.search?.error) renderSearch();
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
  renderTyping();
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
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A small element with a class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ----- rich text -----

// Deeper nesting than this (only hostile text nests so deep) is drawn as its plain text.
const RICH_DEPTH_MAX = 24;
const LINK_REL = "noopener noreferrer nofollow";

/** A message's text drawn from markdown.js's tree: DOM nodes only, never HTML. */
function richText(text) {
  const span = el("span", "text");
  span.append(...richNodes(parseRichText(text), 0));
  return span;
}

function richNodes(nodes, depth) {
  return nodes.map((n) => richNode(n, depth));
}

function richNode(n, depth) {
  if (n.type === "text") return document.createTextNode(n.text);
  if (depth >= RICH_DEPTH_MAX) return document.createTextNode(plainText([n]));
  switch (n.type) {
    case "strong":
    case "em":
    case "s": {
      const node = document.createElement(n.type);
      node.append(...richNodes(n.children, depth + 1));
      return node;
    }
    case "code":
      return el("code", "", n.text);
    case "codeblock": {
      const pre = el("pre", "code-block");
      const code = el("code", "", n.text);
      if (n.lang) code.dataset.lang = n.lang;
      pre.append(code);
      return pre;
    }
    case "quote": {
      const quote = el("blockquote");
      quote.append(...richNodes(n.children, depth + 1));
      return quote;
    }
    case "link": {
      const href = safeHref(n.href);
      if (!href) return document.createTextNode(plainText(n.children));
      const a = el("a");
      a.href = href;
      a.rel = LINK_REL;
      a.target = "_blank";
      // In the tab order only while its message is focused, as the message's buttons are.
      a.tabIndex = -1;
      // A link whose text is not its address says where it goes.
      const shown = plainText(n.children);
      if (shown !== n.href) a.title = href;
      a.append(...richNodes(n.children, depth + 1));
      return a;
    }
    default:
      return document.createTextNode(plainText([n]));
  }
}

/** Whether a line is someone's message (drawn as rich text), not a notice. */
function isChat(line) {
  return line.kind === KIND.OWN || line.kind === KIND.OTHER
    || line.kind === KIND.PRIVATE_SENT || line.kind === KIND.PRIVATE_RECEIVED;
}

/** A button with an icon-like label, a tooltip and an accessible name. */
function actionButton(action, label, name) {
  const button = el("button", "action", label);
  button.type = "button";
  button.dataset.action = action;
  button.title = name;
  button.setAttribute("aria-label", name);
  button.tabIndex = -1;
  return button;
}

/** "↪ bob: the first line" above a reply: a button that jumps to what it answers. */
function replyPreviewElement(c, line) {
  const preview = model.replyPreviewOf(c, line);
  const button = el("button", "reply-preview");
  button.type = "button";
  button.tabIndex = -1;
  button.dataset.replyTo = String(line.replyTo);
  button.append(el("span", "reply-arrow", "↪ "));
  if (preview.deleted) {
    button.append(el("span", "reply-text placeholder", "message deleted"));
    button.title = "The message this answered was deleted";
  } else {
    button.append(el("span", `reply-who ${colourOf(preview.username)}`, `${preview.username}: `));
    button.append(el("span", "reply-text", excerpt(quoteText(preview.content, preview.attachments), 120)));
    button.title = `Show ${preview.username}'s message`;
  }
  return button;
}

/** The reactions under a message: a chip per emoji with its count; yours highlighted. */
function reactionsElement(line) {
  const box = el("div", "reactions");
  for (const r of line.reactions) {
    const mine = model.reacted(line, r.emoji);
    const chip = el("button", mine ? "chip mine" : "chip");
    chip.type = "button";
    chip.tabIndex = -1;
    chip.dataset.emoji = r.emoji;
    chip.setAttribute("aria-pressed", String(mine));
    const label = emojiTable?.label(r.emoji);
    chip.title = `${r.users.join(", ")} reacted with ${label || r.emoji}`;
    chip.setAttribute("aria-label", `${r.emoji} ${r.users.length}: ${r.users.join(", ")}${mine ? " (you; click to take back)" : ""}`);
    chip.append(el("span", "emoji", r.emoji), el("span", "count", String(r.users.length)));
    box.append(chip);
  }
  const add = el("button", "chip add-reaction", "+");
  add.type = "button";
  add.tabIndex = -1;
  add.dataset.action = "add-reaction";
  add.title = "Add a reaction";
  add.setAttribute("aria-label", "Add a reaction");
  box.append(add);
  return box;
}

// The previews drawn, by link: a redraw moves them into the new lines rather than loading
// (and laying out) the image again, so that the log does not jump.
let previews = new Map();
let previewsUsed = new Map();

/** The files of a message: images as previews that open the full image, others as downloads. */
function attachmentsElement(line) {
  const box = el("div", "attachments");
  box.append(...line.attachments.map(attachmentElement));
  return box;
}

function attachmentElement(a) {
  if (!a.url) {
    // Not sent yet (or no usable link): the name only.
    const span = el("span", "file unavailable");
    span.append(el("span", "file-name", a.name), el("span", "file-size", ` · ${humanSize(a.size)}`));
    return span;
  }
  if (isPreviewable(a.contentType)) return imagePreview(a);
  const link = el("a", "file");
  link.href = a.url;
  link.download = a.name;
  link.rel = "noopener";
  link.tabIndex = -1;
  link.title = `Download ${fileLabel(a)}`;
  link.append(el("span", "file-name", a.name), el("span", "file-size", ` · ${humanSize(a.size)}`));
  return link;
}

function imagePreview(a) {
  const kept = previews.get(a.url);
  if (kept && !previewsUsed.has(a.url)) {
    kept.tabIndex = -1;
    previewsUsed.set(a.url, kept);
    return kept;
  }
  const link = el("a", "image-link");
  link.href = a.url;
  link.target = "_blank";
  link.rel = "noopener";
  link.tabIndex = -1;
  link.title = `${fileLabel(a)} (opens the full image)`;
  const img = document.createElement("img");
  img.className = "preview";
  img.alt = a.name;
  img.loading = "lazy";
  img.decoding = "async";
  img.addEventListener("load", keepLogBottom);
  img.addEventListener("error", () => {
    // Gone, or its link expired: the name stays, as a link.
    link.classList.add("broken");
    img.replaceWith(el("span", "file-name", `🖼 ${fileLabel(a)}`));
  });
  img.src = a.url;
  link.append(img);
  previewsUsed.set(a.url, link);
  return link;
}

/** Reply, React, and for our own messages Edit and Delete: shown on hover and focus. */
function actionsElement(line) {
  const bar = el("div", "actions");
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Message actions");
  bar.append(actionButton("reply", "↩", "Reply"), actionButton("react", "☺", "React"));
  if (isOwn(line)) bar.append(actionButton("edit", "✎", "Edit"), actionButton("delete", "🗑", "Delete"));
  return bar;
}

/** Between a jump's window and the newest messages: load what is between, or go to the newest. */
function gapElement(line) {
  const div = el("div", "line gap");
  const more = el("button", "gap-button", line.loading ? "Loading newer messages…" : "Load newer messages");
  more.type = "button";
  const newest = el("button", "newest-button", "Jump to the newest ↓");
  newest.type = "button";
  div.append(more, newest);
  return div;
}

/** "New": above the first message unread when the conversation was opened. */
function newDividerElement() {
  const div = el("div", "new-divider");
  div.setAttribute("role", "separator");
  div.setAttribute("aria-label", "New messages");
  div.append(el("span", "new-label", "New"));
  return div;
}

function lineElement(line, c) {
  if (line.kind === KIND.GAP) return gapElement(line);
  const div = document.createElement("div");
  div.className = `line ${line.kind}`;
  if (line.mention) div.classList.add("mention");
  if (line.pending) div.classList.add("pending");
  if (line.deleted) div.classList.add("deleted");
  const message = line.id != null;
  if (message) {
    div.dataset.id = String(line.id);
    div.tabIndex = -1;
    if (flash && flash.id === String(line.id) && Date.now() < flash.until) div.classList.add("flash");
  }
  const time = document.createElement("time");
  time.dateTime = line.time.toISOString();
  time.textContent = timeFormat.format(line.time);
  time.title = fullFormat.format(line.time);
  div.append(time);
  const main = el("div", "main");
  if (line.replyTo != null && !line.deleted) main.append(replyPreviewElement(c, line));
  const body = el("span", "body");
  if (line.username && line.kind !== KIND.SYSTEM) {
    const who = el("span", `who ${colourOf(line.username)}`, line.action ? `* ${line.username} ` : `${line.username}: `);
    body.append(who);
  }
  if (line.deleted) {
    body.append(el("span", "text placeholder", "message deleted"));
  } else {
    body.append(isChat(line) ? richText(line.text) : el("span", "text", line.text));
    if (line.edited) {
      const edited = el("span", "edited", " (edited)");
      edited.title = `Edited ${fullFormat.format(line.edited)}`;
      body.append(edited);
    }
  }
  if (line.pending) {
    body.append(el("span", "pending-state", line.pending === "failed" ? " (not sent)" : " (sending…)"));
  }
  main.append(body);
  if (!line.deleted && line.attachments?.length) main.append(attachmentsElement(line));
  if (!line.deleted && line.reactions?.length) main.append(reactionsElement(line));
  div.append(main);
  if (message && !line.deleted && !line.pending) div.append(actionsElement(line));
  return div;
}

/** What has focus in the log, so that a redraw can give it back. */
function focusInLog() {
  const active = document.activeElement;
  const log = $("log");
  if (!active || active === log || !log.contains(active)) return null;
  const lineEl = active.closest(".line[data-id]");
  if (!lineEl) return null;
  if (active === lineEl) return { id: lineEl.dataset.id, selector: null };
  if (active.dataset.action) return { id: lineEl.dataset.id, selector: `[data-action="${active.dataset.action}"]` };
  if (active.dataset.emoji) return { id: lineEl.dataset.id, selector: `.chip[data-emoji="${CSS.escape(active.dataset.emoji)}"]` };
  if (active.classList.contains("reply-preview")) return { id: lineEl.dataset.id, selector: ".reply-preview" };
  return { id: lineEl.dataset.id, selector: null };
}

function restoreFocus(focus) {
  if (!focus) return;
  const lineEl = lineNode(focus.id);
  if (!lineEl) return;
  const target = (focus.selector && lineEl.querySelector(focus.selector)) || lineEl;
  target.focus({ preventScroll: true });
}

/** The element of a message line, by id (a number or its data-id text), or null. */
function lineNode(id) {
  return $("log").querySelector(`.line[data-id="${CSS.escape(String(id))}"]`);
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
  const focus = switched ? null : focusInLog();
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
    id: null,
    time: new Date(),
    pending: e.state,
    replyTo: e.replyTo ?? null,
    reactions: [],
    attachments: e.attachments ?? [],
  }));
  const firstNew = model.dividerLine(c);
  let divider = null;
  for (const line of c.lines.concat(pending)) {
    if (line.kind !== KIND.GAP) {
      const d = line.time.toDateString();
      if (d !== day) {
        day = d;
        const sep = document.createElement("div");
        sep.className = "day";
        sep.setAttribute("role", "separator");
        sep.textContent = dayFormat.format(line.time);
        nodes.push(sep);
      }
    } else {
      day = null;
    }
    if (line === firstNew) {
      divider = newDividerElement();
      nodes.push(divider);
    }
    nodes.push(lineElement(line, c));
  }
  log.replaceChildren(...nodes);
  // Only the previews of this drawing are kept for the next.
  previews = previewsUsed;
  previewsUsed = new Map();
  if (prepended) log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
  else if (switched || (keepBottom && atBottom)) log.scrollTop = log.scrollHeight;
  // Opened with more unread than fit: from the first of them.
  if (switched && divider) {
    const above = divider.getBoundingClientRect().top - log.getBoundingClientRect().top;
    if (above < 0) log.scrollTop += above - 8;
  }
  logAtBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  restoreFocus(focus);
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
  if (composing && composing.key !== key) cancelComposing();
  if (key !== model.active) sendTyping(typingSender.finished());
  model.activate(key);
  renderAll();
  markShownRead();
  const c = model.conversation(key);
  if (c && !c.isRoom && c.lines.length === 0 && c.hasMore) loadOlder();
}

// ----- older and newer history, and jumps to a message -----

function loadOlder() {
  if (!session?.joined) return;
  const frame = model.olderRequest(model.active, PAGE);
  if (!frame) return;
  if (!session.request(frame)) model.forgetRequest(frame.ref);
  renderLog({ keepBottom: false });
}

/** The messages in the gap after a jump's window. */
function loadNewer() {
  if (!session?.joined) return;
  const frame = model.newerRequest(model.active, PAGE);
  if (!frame) return;
  if (!session.request(frame)) model.forgetRequest(frame.ref);
  renderLog({ keepBottom: false });
}

// Whether the log was scrolled to its end when last scrolled: an image that loads there keeps
// it at the end (loading does not scroll, so this still tells where the reader was).
let logAtBottom = true;

function keepLogBottom() {
  const log = $("log");
  if (logAtBottom) log.scrollTop = log.scrollHeight;
}

$("log").addEventListener("scroll", () => {
  const log = $("log");
  logAtBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  if (log.scrollTop < 60) loadOlder();
  // A jump's gap coming into view: fill it.
  const gap = log.querySelector(".line.gap");
  if (gap) {
    const g = gap.getBoundingClientRect();
    const view = log.getBoundingClientRect();
    if (g.top < view.bottom + 200 && g.bottom > view.top) loadNewer();
  }
});

/** Shows message `id` of conversation `key`: scrolled to and highlighted, loaded first if need be. */
function jumpTo(key, id) {
  const c = model.conversation(key);
  if (!c) return;
  if (model.active !== key) show(key);
  if (c.message(id) && scrollToMessage(id)) return;
  const frame = model.aroundRequest(key, id);
  if (!frame) return;
  if (!session?.request(frame)) {
    model.forgetRequest(frame.ref);
    localLine("Not connected: try again in a moment.", KIND.ERROR);
    return;
  }
  pendingJump = { key, id, ref: frame.ref };
  renderLog({ keepBottom: false });
}

/** Leaves a jump's window for the newest messages. */
function jumpToNewest() {
  const c = model.conversation(model.active);
  if (!c) return;
  model.dropWindow(c);
  renderLog({ keepBottom: false });
  $("log").scrollTop = $("log").scrollHeight;
}

function scrollToMessage(id) {
  const node = lineNode(id);
  if (!node) return false;
  node.scrollIntoView({ block: "center" });
  flash = { id: String(id), until: Date.now() + FLASH_MS };
  node.classList.add("flash");
  node.focus({ preventScroll: true });
  setTimeout(() => {
    if (flash && flash.id === String(id) && Date.now() >= flash.until) {
      flash = null;
      lineNode(id)?.classList.remove("flash");
    }
  }, FLASH_MS + 50);
  return true;
}

// ----- what you do to a message -----

/** Turns data-id text back into the id the model has (a number when it is one). */
function idOf(text) {
  const n = Number(text);
  return Number.isSafeInteger(n) && String(n) === text ? n : text;
}

function react(id, emoji) {
  if (request({ type: "react", id, emoji })) rememberEmoji(emoji);
}

function startReply(line) {
  setComposing({
    kind: "reply", key: model.active, id: line.id, username: line.username, content: line.content,
    attachments: line.attachments,
  });
  input.focus();
}

function startEdit(line) {
  // The message being typed (if any) gives way to the edit: we are not typing it any more.
  sendTyping(typingSender.finished());
  setComposing({ kind: "edit", key: model.active, id: line.id, username: line.username, content: line.content });
  input.value = line.content;
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  resizeInput();
}

function deleteMessage(line) {
  if (!confirm("Delete this message? It is removed for everyone.")) return;
  request({ type: "delete", id: line.id });
  if (composing && composing.id === line.id) cancelComposing();
}

$("log").addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (!button || !$("log").contains(button)) return;
  if (button.classList.contains("gap-button")) return loadNewer();
  if (button.classList.contains("newest-button")) return jumpToNewest();
  const lineEl = button.closest(".line[data-id]");
  if (!lineEl) return;
  const c = model.conversation(model.active);
  const line = c?.message(idOf(lineEl.dataset.id));
  if (!line) return;
  if (button.classList.contains("reply-preview")) return jumpTo(c.key, line.replyTo);
  if (button.classList.contains("chip") && button.dataset.emoji) return react(line.id, button.dataset.emoji);
  switch (button.dataset.action) {
    case "reply":
      return startReply(line);
    case "react":
    case "add-reaction":
      return openPicker({ mode: "react", id: line.id, anchor: button });
    case "edit":
      return startEdit(line);
    case "delete":
      return deleteMessage(line);
    default:
  }
});

// Keyboard: Up and Down move between messages; a focused message's links and buttons are in
// the tab order (and only its own), so Tab goes from a message to them and on to the composer.
$("log").addEventListener("keydown", (e) => {
  if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
  const log = $("log");
  const current = e.target === log ? null : e.target.closest(".line[data-id]");
  if (e.target !== log && e.target !== current) return;
  const lines = [...log.querySelectorAll(".line[data-id]")];
  if (lines.length === 0) return;
  e.preventDefault();
  const at = current ? lines.indexOf(current) : lines.length;
  const next = lines[Math.min(Math.max(at + (e.key === "ArrowUp" ? -1 : 1), 0), lines.length - 1)];
  next.focus();
  next.scrollIntoView({ block: "nearest" });
});
$("log").addEventListener("focusin", (e) => {
  const lineEl = e.target.closest?.(".line[data-id]");
  if (!lineEl) return;
  for (const b of lineEl.querySelectorAll("button, a[href]")) b.tabIndex = 0;
});
$("log").addEventListener("focusout", (e) => {
  const lineEl = e.target.closest?.(".line[data-id]");
  if (!lineEl || lineEl.contains(e.relatedTarget)) return;
  for (const b of lineEl.querySelectorAll("button, a[href]")) b.tabIndex = -1;
});

// ----- the reply and edit bar -----

function setComposing(next) {
  if (composing?.kind === "edit" && next?.kind !== "edit") input.value = "";
  composing = next;
  const bar = $("compose-context");
  bar.hidden = !next;
  bar.classList.toggle("replying", next?.kind === "reply");
  bar.classList.toggle("editing", next?.kind === "edit");
  const text = $("compose-context-text");
  text.replaceChildren();
  if (next?.kind === "reply") {
    text.append("Replying to ", el("strong", "", next.username ?? ""), `: ${excerpt(quoteText(next.content, next.attachments), 80)}`);
  } else if (next?.kind === "edit") {
    text.append(el("strong", "", "Editing message"), " — Enter saves, Escape cancels");
  }
  $("compose").classList.toggle("is-editing", next?.kind === "edit");
}

function cancelComposing() {
  const wasEdit = composing?.kind === "edit";
  setComposing(null);
  if (wasEdit) {
    input.value = "";
    resizeInput();
  }
}

$("compose-cancel").addEventListener("click", () => {
  cancelComposing();
  input.focus();
});

// ----- typing -----

const input = $("message");

function resizeInput() {
  input.style.height = "auto";
  const borders = input.offsetHeight - input.clientHeight;
  input.style.height = `${Math.min(input.scrollHeight + borders, 160)}px`;
}

input.addEventListener("input", () => {
  $("hint").textContent = hint(input.value);
  resizeInput();
  updateCompletion();
  noteTyping();
});

// ----- typing notifications: ours to the server, and who else is typing here -----

const typingSender = new TypingSender();
let typingTimer = null;
let typingExpiryTimer = null;

/** Tells the conversation that we type (or stopped): not for commands, nor while editing. */
function noteTyping() {
  const c = model.conversation(model.active);
  const editing = composing?.kind === "edit";
  sendTyping(editing || !c || c.left ? typingSender.finished() : typingSender.typed(c, input.value));
}

/** Sends our typing frames; "paused" follows by itself when the keys stop. */
function sendTyping(frames) {
  for (const frame of frames) {
    if (!session?.request(frame)) {
      // Not sent (not connected): say it again with the next key.
      typingSender.reset();
      break;
    }
  }
  clearTimeout(typingTimer);
  const wait = typingSender.nextTick();
  if (wait !== null) typingTimer = setTimeout(() => sendTyping(typingSender.tick()), wait + 20);
}

/** "bob is typing…" under the log, for the conversation shown. */
function renderTyping() {
  const text = typingSentence(model.typing.names(model.active));
  const line = $("typing");
  // Unchanged text is left alone, so that screen readers do not hear it again.
  if (line.textContent !== text) line.textContent = text;
}

/** Redraws the typing line when the next notice expires. */
function scheduleTypingExpiry() {
  clearTimeout(typingExpiryTimer);
  const wait = model.typing.nextExpiry();
  if (wait === null) return;
  typingExpiryTimer = setTimeout(() => {
    renderTyping();
    scheduleTypingExpiry();
  }, wait + 20);
}

input.addEventListener("keydown", (e) => {
  if (completion && handleCompletionKey(e)) return;
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === "Escape" && composing) {
    e.preventDefault();
    cancelComposing();
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
  } else if (e.key === "ArrowUp" && !e.altKey && !e.ctrlKey && !e.metaKey && input.value === "" && !composing) {
    // Slack's way: Up in an empty composer edits our newest message here.
    const own = model.lastOwnMessage(model.active);
    if (own) {
      e.preventDefault();
      startEdit(own);
    } else {
      recallUp(e);
    }
  } else if (e.key === "ArrowUp" && !input.value.includes("\n") && input.selectionStart === 0
      && !composing && (e.altKey || e.ctrlKey || recall.index < recall.items.length)) {
    // Earlier lines: Alt+Up (or Ctrl+Up), and Up again once recalling.
    recallUp(e);
  } else if (e.key === "ArrowDown" && !input.value.includes("\n") && recall.index < recall.items.length && !composing) {
    e.preventDefault();
    input.value = recall.down();
  }
});

function recallUp(e) {
  const previous = recall.up();
  if (previous !== null) {
    e.preventDefault();
    input.value = previous;
  }
}

$("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});

/** Known `:shortcode:`s become emoji (the table is fetched the first time one is typed). */
function emojify(text) {
  return emojiTable ? replaceShortcodes(text, emojiTable) : text;
}
const MAYBE_SHORTCODE = /:[a-z0-9_+-]+:/i;
let submitting = false;

async function submit() {
  if (submitting) return;
  if (!emojiTable && MAYBE_SHORTCODE.test(input.value)) {
    submitting = true;
    await loadEmoji();
    submitting = false;
  }
  hideCompletion();
  if (composing?.kind === "edit") return submitEdit();
  const text = input.value;
  const c = model.conversation(model.active);
  const result = parse(text, c);
  // The files go with a message (or alone, with no text); commands leave them waiting.
  const withFiles = uploads.list.length > 0 && (result.send !== undefined || result.error === null);
  if (result.error === null && !withFiles) return;
  if (withFiles && uploads.blocker()) {
    // Not sent without its files, and not while they upload: the text stays.
    $("hint").textContent = uploads.blocker();
    return;
  }
  if (text.trim()) recall.push(text.trim());
  input.value = "";
  input.style.height = "auto";
  $("hint").textContent = "";
  sendTyping(typingSender.finished());
  if (result.error) return localLine(result.error, KIND.ERROR);
  if (result.help) {
    return localLine(COMMANDS.map(([n, a, w]) => `${n}${a ? " " + a : ""} — ${w}`).join("\n"), KIND.SYSTEM);
  }
  if (result.send !== undefined || withFiles) {
    if (!c) return;
    const replyTo = composing?.kind === "reply" && composing.key === c.key ? composing.id : null;
    const options = replyTo != null ? { replyTo } : {};
    if (withFiles) options.attachments = uploads.take();
    session?.say(c.key, emojify(result.send ?? ""), options);
    if (replyTo != null) setComposing(null);
    renderLog();
    return;
  }
  if (result.frame?.type === "search") {
    $("search").value = result.frame.query;
    runSearch(result.frame.query, "all");
    return;
  }
  if (result.frame?.type === "topic") result.frame.topic = emojify(result.frame.topic);
  if (result.frame?.type === "away" && result.frame.message) result.frame.message = emojify(result.frame.message);
  if (result.open?.direct) {
    model.direct(result.open.direct);
    show(directKey(result.open.direct));
    if (result.frame) session?.say(model.active, emojify(result.frame.content));
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

function submitEdit() {
  const { id, content: before } = composing;
  const content = emojify(input.value.replace(/\s+$/, ""));
  if (content === before) {
    // Unchanged (a message of files only, too, when left without text).
  } else if (!content.trim()) {
    // Nothing left: that is a deletion, if meant.
    if (confirm("Delete this message? It is removed for everyone.")) request({ type: "delete", id });
    else return;
  } else if (content !== before) {
    if (!request({ type: "edit", id, content })) return;
  }
  cancelComposing();
  $("hint").textContent = "";
}

function localLine(text, kind) {
  const c = model.conversation(model.active);
  if (!c) return;
  model.add(c, { kind, text, username: null, id: null, seq: null, time: new Date(), action: false, mention: false, pending: null, reactions: [] }, { count: false });
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

// ----- emoji: the table, the picker and :shortcode: completion -----

let emojiTable = null;
let emojiFailed = false;
let emojiLoading = null;

/** Fetches /emoji.json once; an empty table (and the quick few) if it cannot be had. */
function loadEmoji() {
  if (emojiTable) return Promise.resolve(emojiTable);
  if (!emojiLoading) {
    emojiLoading = fetch("/emoji.json")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((entries) => {
        emojiTable = new EmojiTable(entries);
      })
      .catch(() => {
        emojiFailed = true;
        emojiTable = new EmojiTable([]);
        emojiLoading = null;
      })
      .then(() => emojiTable);
  }
  return emojiLoading;
}

function recentEmoji() {
  try {
    const list = JSON.parse(localStorage.getItem("palaver.emoji.recent") ?? "[]");
    return Array.isArray(list) ? list.filter((x) => typeof x === "string") : [];
  } catch (_) {
    return [];
  }
}
function rememberEmoji(emoji) {
  localStorage.setItem("palaver.emoji.recent", JSON.stringify(pushRecent(recentEmoji(), emoji)));
}

const PICKER_COLUMNS = 8;
// The open picker: {mode: "insert" | "react", id (react), anchor, groups, items, index}.
let picker = null;

function openPicker({ mode, id = null, anchor }) {
  closePicker(false);
  hideCompletion();
  picker = { mode, id, anchor, groups: [], items: [], index: 0 };
  const box = $("emoji-picker");
  box.hidden = false;
  box.dataset.mode = mode;
  $("emoji-filter").value = "";
  $("emoji-button").setAttribute("aria-expanded", String(mode === "insert"));
  placePicker(anchor);
  renderPicker();
  $("emoji-filter").focus();
  if (!emojiTable) loadEmoji().then(() => picker && renderPicker());
}

/** Beside what opened it: above when there is room, else below; inside the window. */
function placePicker(anchor) {
  const box = $("emoji-picker");
  const rect = anchor.getBoundingClientRect();
  const width = Math.min(360, window.innerWidth - 16);
  const height = Math.min(380, window.innerHeight - 16);
  box.style.width = `${width}px`;
  box.style.height = `${height}px`;
  const left = Math.min(Math.max(8, rect.right - width), window.innerWidth - width - 8);
  const top = rect.top - height - 6 >= 8 ? rect.top - height - 6 : Math.min(rect.bottom + 6, window.innerHeight - height - 8);
  box.style.left = `${left}px`;
  box.style.top = `${Math.max(8, top)}px`;
}

function closePicker(refocus = true) {
  if (!picker) return;
  const { mode, id } = picker;
  picker = null;
  $("emoji-picker").hidden = true;
  $("emoji-button").setAttribute("aria-expanded", "false");
  if (!refocus) return;
  if (mode === "react") (lineNode(id) ?? input).focus({ preventScroll: true });
  else input.focus();
}

/** The picker's groups for the filter: recently used and all groups, or the best matches. */
function pickerGroups() {
  const query = $("emoji-filter").value;
  const table = emojiTable ?? new EmojiTable([]);
  if (query.trim()) return [{ name: "Search results", items: filterEmoji(table, query) }];
  const recent = recentEmoji();
  const quick = (recent.length ? recent : QUICK).map((e) => table.byEmoji.get(e) ?? { e, n: "", s: [], g: "" });
  return [{ name: recent.length ? "Recently used" : "Quick", items: quick }, ...groupEmoji(table.entries)];
}

function renderPicker() {
  if (!picker) return;
  const groups = pickerGroups().filter((g) => g.items.length > 0);
  picker.groups = groups;
  picker.items = groups.flatMap((g) => g.items);
  picker.index = Math.min(picker.index, Math.max(0, picker.items.length - 1));
  const list = $("emoji-list");
  const nodes = [];
  let n = 0;
  for (const g of groups) {
    const section = el("section", "emoji-group");
    section.append(el("h4", "", g.name));
    const grid = el("div", "emoji-grid");
    grid.setAttribute("role", "group");
    grid.setAttribute("aria-label", g.name);
    for (const entry of g.items) {
      const item = el("button", "emoji-item emoji", entry.e);
      item.type = "button";
      item.dataset.emoji = entry.e;
      item.dataset.index = String(n);
      const codes = entry.s.map((s) => `:${s}:`).join(" ");
      item.title = [entry.n, codes].filter(Boolean).join(" ") || entry.e;
      item.setAttribute("aria-label", entry.n || entry.e);
      item.tabIndex = n === picker.index ? 0 : -1;
      grid.append(item);
      n += 1;
    }
    section.append(grid);
    nodes.push(section);
  }
  if (n === 0) nodes.push(el("p", "hint", emojiTable ? "No emoji match." : "Loading emoji…"));
  if (emojiFailed) nodes.push(el("p", "hint", "The full emoji list could not be loaded."));
  list.replaceChildren(...nodes);
  showPreview(picker.items[picker.index]);
}

function showPreview(entry) {
  const preview = $("emoji-preview");
  preview.replaceChildren();
  if (!entry) return;
  preview.append(el("span", "emoji", entry.e), ` ${entry.n}${entry.s.length ? `  :${entry.s[0]}:` : ""}`);
}

function focusPickerItem(index) {
  const items = $("emoji-list").querySelectorAll(".emoji-item");
  if (!picker || index < 0 || index >= items.length) return;
  items[picker.index]?.setAttribute("tabindex", "-1");
  picker.index = index;
  items[index].tabIndex = 0;
  items[index].focus();
  items[index].scrollIntoView({ block: "nearest" });
  showPreview(picker.items[index]);
}

function pick(emoji) {
  if (!picker) return;
  const { mode, id } = picker;
  if (mode === "react") {
    closePicker();
    react(id, emoji);
    return;
  }
  rememberEmoji(emoji);
  closePicker();
  const done = insertAt(input.value, input.selectionStart, input.selectionEnd, emoji);
  input.value = done.text;
  input.setSelectionRange(done.caret, done.caret);
  resizeInput();
  noteTyping();
}

$("emoji-button").addEventListener("click", () => {
  if (picker?.mode === "insert") closePicker();
  else openPicker({ mode: "insert", anchor: $("emoji-button") });
});
$("emoji-filter").addEventListener("input", () => {
  if (!picker) return;
  picker.index = 0;
  renderPicker();
});
$("emoji-filter").addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" || (e.key === "Tab" && !e.shiftKey && picker?.items.length)) {
    e.preventDefault();
    focusPickerItem(Math.min(picker.index, picker.items.length - 1));
  } else if (e.key === "Enter") {
    e.preventDefault();
    if (picker?.items.length) pick(picker.items[0].e);
  }
});
$("emoji-list").addEventListener("click", (e) => {
  const item = e.target.closest(".emoji-item");
  if (item) pick(item.dataset.emoji);
});
$("emoji-list").addEventListener("keydown", (e) => {
  const item = e.target.closest(".emoji-item");
  if (!item || !picker) return;
  if (["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) {
    e.preventDefault();
    const index = Number(item.dataset.index);
    if (e.key === "ArrowUp" && picker.groups.length && index < Math.min(PICKER_COLUMNS, picker.groups[0].items.length)) {
      $("emoji-filter").focus();
      return;
    }
    focusPickerItem(gridMove(picker.groups.map((g) => g.items.length), index, e.key, PICKER_COLUMNS));
  } else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && e.key !== " ") {
    // Typing goes to the filter.
    $("emoji-filter").focus();
  }
});
$("emoji-list").addEventListener("focusin", (e) => {
  const item = e.target.closest(".emoji-item");
  if (item && picker) showPreview(picker.items[Number(item.dataset.index)]);
});
$("emoji-picker").addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation();
    closePicker();
  }
});
document.addEventListener("mousedown", (e) => {
  if (picker && !$("emoji-picker").contains(e.target) && !picker.anchor.contains(e.target)) closePicker(false);
});
addEventListener("resize", () => picker?.mode === "insert" && placePicker(picker.anchor));

// :shortcode: completion: {start, query, items, index}; Escape hides it until the text changes.
let completion = null;
let dismissedAt = null;

function updateCompletion() {
  const found = shortcodeQuery(input.value, input.selectionStart);
  if (!found || (dismissedAt && dismissedAt.start === found.start && input.value.startsWith(dismissedAt.before))) {
    if (!found) dismissedAt = null;
    hideCompletion();
    return;
  }
  if (!emojiTable) {
    loadEmoji().then(() => updateCompletion());
    return;
  }
  const items = completions(emojiTable, found.query, 8);
  if (items.length === 0) return hideCompletion();
  completion = { ...found, items, index: 0 };
  renderCompletion();
}

function renderCompletion() {
  const list = $("emoji-complete");
  list.replaceChildren(...completion.items.map((entry, i) => {
    const li = el("li", "emoji-option");
    li.setAttribute("role", "option");
    li.id = `emoji-option-${i}`;
    li.dataset.emoji = entry.e;
    li.setAttribute("aria-selected", String(i === completion.index));
    const code = entry.s.find((s) => s.startsWith(completion.query)) ?? entry.s[0];
    li.append(el("span", "emoji", entry.e), el("span", "code", code ? `:${code}:` : ""), el("span", "name", entry.n));
    li.addEventListener("mousedown", (e) => {
      e.preventDefault();
      takeCompletion(i);
    });
    return li;
  }));
  list.hidden = false;
  input.setAttribute("aria-activedescendant", `emoji-option-${completion.index}`);
}

function hideCompletion() {
  completion = null;
  $("emoji-complete").hidden = true;
  input.removeAttribute("aria-activedescendant");
}

function takeCompletion(i) {
  const entry = completion?.items[i];
  if (!entry) return;
  const done = applyCompletion(input.value, completion.start, input.selectionStart, entry.e);
  input.value = done.text;
  input.setSelectionRange(done.caret, done.caret);
  rememberEmoji(entry.e);
  hideCompletion();
  resizeInput();
}

/** The completion list's keys; true when the key was its. */
function handleCompletionKey(e) {
  const n = completion.items.length;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    completion.index = (completion.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
    renderCompletion();
    return true;
  }
  if ((e.key === "Tab" || e.key === "Enter") && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    takeCompletion(completion.index);
    return true;
  }
  if (e.key === "Escape") {
    e.preventDefault();
    dismissedAt = { start: completion.start, before: input.value.slice(0, completion.start + 1) };
    hideCompletion();
    return true;
  }
  return false;
}
input.addEventListener("blur", () => setTimeout(() => {
  if (document.activeElement !== input) hideCompletion();
}, 0));
input.addEventListener("click", () => (completion ? updateCompletion() : null));

// ----- files: the attach button, dropping and pasting, the chips of the files to send -----

const uploads = new Uploads({
  send: (frame) => Boolean(session?.request(frame)),
  onChange: () => renderPending(),
});
// The chips, by upload key: updated in place, so that progress redraws nothing else.
const chips = new Map();
// Pending images up to this size show a thumbnail (read as a data: URL; the page may not load blob:).
const THUMB_MAX_BYTES = 4 * 1024 * 1024;

/** Shows the file controls when the server takes files (`welcome.limits.max_upload_bytes`). */
function setUploadLimit(maxBytes) {
  uploads.setLimit(maxBytes);
  const button = $("attach-button");
  button.hidden = !uploads.enabled;
  if (uploads.enabled) button.title = `Attach files up to ${humanSize(uploads.maxBytes)} each (or drop or paste them here)`;
}

/** Files chosen, dropped or pasted: each a chip, uploading at once. */
function addFiles(files, { pasted = false } = {}) {
  if (files.length === 0) return;
  if (!uploads.enabled) {
    localLine("This server does not take files.", KIND.ERROR);
    return;
  }
  const left = [];
  for (const file of files) {
    const name = pasted ? pastedName(file) : file.name;
    if (!uploads.add(file, { name })) left.push(name);
  }
  if (left.length) {
    $("hint").textContent = `At most ${MAX_ATTACHMENTS} files go with one message; left out: ${left.join(", ")}.`;
  }
  input.focus();
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function chipElement(u) {
  const li = el("li", "pending-file");
  li.dataset.key = u.key;
  const progress = document.createElement("progress");
  progress.className = "progress";
  progress.max = 100;
  progress.setAttribute("aria-label", `Uploading ${u.name}`);
  const error = el("span", "file-error");
  error.setAttribute("role", "alert");
  const retry = el("button", "icon retry", "↻");
  retry.type = "button";
  retry.title = "Try again";
  retry.setAttribute("aria-label", `Try ${u.name} again`);
  const remove = el("button", "icon remove", "×");
  remove.type = "button";
  remove.title = "Remove";
  remove.setAttribute("aria-label", `Remove ${u.name}`);
  li.append(el("span", "file-name"), el("span", "file-size"), progress, el("span", "file-status"), error, retry, remove);
  if (isPreviewable(u.contentType) && u.size <= THUMB_MAX_BYTES && typeof FileReader === "function") {
    const reader = new FileReader();
    reader.onload = () => {
      if (typeof reader.result !== "string" || !reader.result.startsWith("data:image/")) return;
      const img = el("img", "thumb");
      img.alt = "";
      img.src = reader.result;
      li.prepend(img);
    };
    reader.readAsDataURL(u.file);
  }
  return li;
}

const STATUS = {
  [STATE.QUEUED]: (u) => (u.waiting ? "waiting for the connection" : "waiting"),
  [STATE.ASKING]: () => "starting…",
  [STATE.UPLOADING]: (u) => `${u.size > 0 ? Math.floor((u.loaded / u.size) * 100) : 0}%`,
  [STATE.DONE]: () => "✓ ready",
  [STATE.FAILED]: () => "",
};

function updateChip(li, u) {
  li.className = `pending-file ${u.state}`;
  li.dataset.state = u.state;
  li.title = u.error ?? fileLabel(u);
  setText(li.querySelector(".file-name"), u.name);
  setText(li.querySelector(".file-size"), humanSize(u.size));
  const progress = li.querySelector(".progress");
  const going = u.state === STATE.QUEUED || u.state === STATE.ASKING || u.state === STATE.UPLOADING;
  progress.hidden = !going;
  // Without a value, the bar says "under way" without saying how far.
  if (u.state === STATE.UPLOADING && u.size > 0) progress.value = Math.round((u.loaded / u.size) * 100);
  else progress.removeAttribute("value");
  setText(li.querySelector(".file-status"), STATUS[u.state](u));
  const error = li.querySelector(".file-error");
  setText(error, u.error ?? "");
  error.hidden = !u.error;
  li.querySelector(".retry").hidden = !(u.state === STATE.FAILED && u.retryable);
}

/** The chips above the composer, as the uploads are. */
function renderPending() {
  const list = $("pending-files");
  const keys = new Set(uploads.list.map((u) => u.key));
  for (const [key, li] of chips) {
    if (keys.has(key)) continue;
    li.remove();
    chips.delete(key);
  }
  for (const u of uploads.list) {
    let li = chips.get(u.key);
    if (!li) {
      li = chipElement(u);
      chips.set(u.key, li);
      list.append(li);
    }
    updateChip(li, u);
  }
  list.hidden = uploads.list.length === 0;
  input.placeholder = uploads.list.length ? "Add a message (optional)" : "Message";
}

$("pending-files").addEventListener("click", (e) => {
  const button = e.target.closest("button");
  const li = button?.closest(".pending-file");
  if (!li) return;
  if (button.classList.contains("remove")) {
    uploads.remove(li.dataset.key);
    $("hint").textContent = "";
    input.focus();
  } else if (button.classList.contains("retry")) {
    uploads.retry(li.dataset.key);
  }
});

$("attach-button").addEventListener("click", () => $("file-input").click());
$("file-input").addEventListener("change", () => {
  const chosen = [...$("file-input").files];
  // Emptied, so that the same file can be chosen again.
  $("file-input").value = "";
  addFiles(chosen);
});

// Dropping: anywhere on the conversation (the log and the composer); the composer shows it.
const dropZone = document.querySelector(".conversation");
let dragDepth = 0;

function draggingFiles(e) {
  return [...(e.dataTransfer?.types ?? [])].includes("Files");
}

function setDragging(on) {
  if (!on) dragDepth = 0;
  $("compose").classList.toggle("dragging", on);
}

dropZone.addEventListener("dragenter", (e) => {
  if (!draggingFiles(e) || !uploads.enabled) return;
  e.preventDefault();
  dragDepth += 1;
  setDragging(true);
});
dropZone.addEventListener("dragover", (e) => {
  if (!draggingFiles(e) || !uploads.enabled) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = "copy";
  setDragging(true);
});
dropZone.addEventListener("dragleave", (e) => {
  if (!draggingFiles(e)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) setDragging(false);
});
dropZone.addEventListener("drop", (e) => {
  if (!draggingFiles(e)) return;
  e.preventDefault();
  setDragging(false);
  addFiles([...e.dataTransfer.files]);
});
// Elsewhere (or when the server takes no files) a dropped file is not opened in place of the chat.
const takesDrop = (e) => uploads.enabled && dropZone.contains(e.target);
addEventListener("dragover", (e) => {
  if (!draggingFiles(e) || takesDrop(e)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = "none";
});
addEventListener("drop", (e) => {
  if (draggingFiles(e) && !takesDrop(e)) e.preventDefault();
  setDragging(false);
});
addEventListener("dragend", () => setDragging(false));

// Pasting files (a screenshot, an image copied from a page) into the composer attaches them.
input.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length === 0 || !uploads.enabled) return;
  e.preventDefault();
  addFiles(files, { pasted: true });
});

// ----- search -----

/** Searches here (this room or private conversation) or everywhere; results in the panel. */
function runSearch(query, where) {
  if (!query.trim()) return;
  const c = model.conversation(model.active);
  const scope = where === "here" && c ? (c.isRoom ? { room: c.name } : { with: c.name }) : {};
  const frame = model.searchRequest(query.trim(), scope);
  openSearchPanel();
  if (!session?.request(frame)) {
    model.search.loading = false;
    model.search.error = "Not connected: try again in a moment.";
  }
  renderSearch();
}

function openSearchPanel() {
  $("search-panel").hidden = false;
  $("chat").classList.add("search-open");
}

function closeSearchPanel() {
  $("search-panel").hidden = true;
  $("chat").classList.remove("search-open");
}

/** Text with the query's words in <mark>, built from nodes. */
function marked(text, query) {
  const span = el("span", "text");
  for (const part of highlight(text, query)) {
    span.append(part.mark ? el("mark", "", part.text) : document.createTextNode(part.text));
  }
  return span;
}

function resultItem(r, query) {
  const li = document.createElement("li");
  const button = el("button", "search-result");
  button.type = "button";
  button.dataset.id = String(r.id);
  button.dataset.key = r.key;
  const time = el("time", "", fullFormat.format(r.time));
  time.dateTime = r.time.toISOString();
  const head = el("span", "result-head");
  head.append(time, el("span", "where", r.where), el("span", `who ${colourOf(r.username ?? "")}`, r.username ?? ""));
  button.append(head, marked(r.content, query));
  if (r.attachments?.length) {
    button.append(el("span", "result-files", r.attachments.map((a) => `📎 ${a.name}`).join("  ")));
  }
  button.addEventListener("click", () => openResult(r));
  li.append(button);
  return li;
}

function renderSearch() {
  const s = model.search;
  if (!s || $("search-panel").hidden) return;
  const where = s.scope.room ? `in #${s.scope.room}` : s.scope.with ? `with ${s.scope.with}` : "everywhere";
  $("search-title").textContent = `“${s.query}” ${where}`;
  const count = s.results.length;
  $("search-status").textContent = s.error
    ? s.error
    : s.loading && count === 0
      ? "Searching…"
      : count === 0
        ? "No messages found."
        : `${count}${s.hasMore ? "+" : ""} message${count === 1 ? "" : "s"}, newest first`;
  $("search-status").classList.toggle("error", Boolean(s.error));
  $("search-results").replaceChildren(...s.results.map((r) => resultItem(r, s.query)));
  const more = $("search-more");
  more.hidden = !s.hasMore;
  more.disabled = s.loading;
  more.textContent = s.loading ? "Loading…" : "More";
}

function openResult(r) {
  if (r.room !== null) {
    const c = model.conversation(r.key);
    if (!c || c.left) {
      localLine(`You are not in #${r.room} any more.`, KIND.ERROR);
      return;
    }
  } else {
    model.direct(r.with);
  }
  if (matchMedia("(max-width: 760px)").matches) closeSearchPanel();
  jumpTo(r.key, r.id);
}

$("search").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.isComposing) {
    e.preventDefault();
    runSearch($("search").value, $("search-scope").value);
  } else if (e.key === "Escape" && !$("search").value && !$("search-panel").hidden) {
    closeSearchPanel();
  }
});
$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runSearch($("search").value, $("search-scope").value);
});
$("search-more").addEventListener("click", () => {
  const frame = model.moreSearchRequest();
  if (!frame) return;
  if (!session?.request(frame)) {
    model.search.loading = false;
    model.search.error = "Not connected: try again in a moment.";
  }
  renderSearch();
});
$("search-close").addEventListener("click", () => {
  closeSearchPanel();
  $("search").focus();
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
