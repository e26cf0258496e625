// Files sent with messages (docs/protocol.md, `upload`, `upload_ready`, `attachments`), without
// the DOM: each file the user picks is an upload that goes queued → asking (the `upload` frame,
// answered by `upload_ready` with a link, or an `error`) → uploading (the bytes by HTTP PUT to
// that link, with progress) → done (the file's id, for a message's `attachments`) or failed (the
// server's sentence). Also: human sizes, which files are previewed as images, the same-origin
// links attachments are drawn with, and what stands in for a message that is only files. The
// bytes go by an injectable transport (XMLHttpRequest in the browser, a stand-in in tests); the
// app draws the chips and the attachments.

/** The content types the server serves inline: raster images only (SVG can carry script). */
export const INLINE_IMAGES = Object.freeze(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** The most files one message may carry. */
export const MAX_ATTACHMENTS = 10;

/** How many uploads ask and send at once; the others wait their turn, queued. */
export const MAX_PARALLEL = 3;

// `upload` frames carry a ref with this prefix, so that their answers (and refusals, which are
// shown on the file's chip rather than in the conversation) find their upload.
export const UPLOAD_REF_PREFIX = "upload-";

export const STATE = Object.freeze({
  QUEUED: "queued",
  ASKING: "asking",
  UPLOADING: "uploading",
  DONE: "done",
  FAILED: "failed",
});

// Refusals that trying again cannot mend.
const FINAL_CODES = new Set(["file_too_large", "files_disabled", "too_many_files"]);

export function isUploadRef(ref) {
  return typeof ref === "string" && ref.startsWith(UPLOAD_REF_PREFIX);
}

/** Whether a file of this content type is shown as an image (the server serves it inline). */
export function isPreviewable(contentType) {
  const main = String(contentType ?? "").split(";", 1)[0].trim().toLowerCase();
  return INLINE_IMAGES.includes(main);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** "512 B", "12 KiB", "1.2 MiB": binary units, one decimal below 10. */
export function humanSize(bytes) {
  let n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return `${Math.round(n)} B`;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  let shown = n < 10 ? Math.round(n * 10) / 10 : Math.round(n);
  // 1023.97 KiB rounds to 1024 KiB: that is 1 MiB.
  if (shown >= 1024 && unit < UNITS.length - 1) {
    shown = 1;
    unit += 1;
  }
  return `${String(shown)} ${UNITS[unit]}`;
}

/** "report.pdf · 1.2 MiB". */
export function fileLabel(file) {
  return `${file.name} · ${humanSize(file.size)}`;
}

/**
 * A link the server gave for a file, if it is a path on this origin ("/files/…"); null for
 * anything else (another origin, a scheme such as javascript:, spaces or control characters).
 */
export function safeFileUrl(url) {
  if (typeof url !== "string" || url.length > 4096) return null;
  if (!/^\/(?![/\\])/.test(url)) return null;
  if (/[\s\u0000-\u001f\u007f\\]/.test(url)) return null;
  return url;
}

/** A message's `attachments` as the server sent them, checked: [{id, name, size, contentType, url}]. */
export function attachmentsOf(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((a) => a && typeof a.id === "string" && a.id && typeof a.name === "string")
    .map((a) => ({
      id: a.id,
      name: a.name || "file",
      size: Number.isFinite(Number(a.size)) ? Number(a.size) : 0,
      contentType: typeof a.content_type === "string" ? a.content_type : "application/octet-stream",
      url: safeFileUrl(a.url),
    }));
}

/** "📎 cat.png", "📎 cat.png + 2 more": files in a line of text (search results, previews). */
export function filesSummary(attachments) {
  const files = attachments ?? [];
  if (files.length === 0) return "";
  const more = files.length > 1 ? ` + ${files.length - 1} more` : "";
  return `📎 ${files[0].name}${more}`;
}

/**
 * What quotes a message in one line: its text, or its files when it has no text. A message
 * without text always had files (the server takes no empty message), so a quote that only
 * knows the text (a reply's `reply_preview`) says "📎 file".
 */
export function quoteText(content, attachments) {
  if ((content ?? "").trim()) return content;
  return filesSummary(attachments) || "📎 file";
}

/** Why a file is refused before asking the server, or null: too large, or no files taken. */
export function sizeRefusal(name, size, maxBytes) {
  if (!(maxBytes > 0)) return "This server does not take files.";
  if (size > maxBytes) {
    return `${name} is ${humanSize(size)}; files may be at most ${humanSize(maxBytes)}.`;
  }
  return null;
}

const PASTE_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

/**
 * The name a pasted file is sent with: browsers call every pasted image "image.png", so it
 * gets the time instead ("pasted-2026-11-29-101502.png"); any other name is kept.
 */
export function pastedName(file, now = new Date()) {
  const name = file?.name ?? "";
  if (name && !/^image\.[a-z0-9]+$/i.test(name)) return name;
  const ext = PASTE_EXTENSIONS[file?.type] ?? (name.split(".").pop() || "bin");
  const two = (n) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}-`
    + `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`;
  return `pasted-${stamp}.${ext}`;
}

/**
 * The HTTP answer to an upload, as the server gives it: 201 and the file ({id, name, size,
 * content_type}), or a status and {code, message}. `answer`: {status, text, network?}.
 * Returns {ok: true, file} or {ok: false, code, message}.
 */
export function uploadAnswer(answer) {
  if (answer.network || answer.status === 0) {
    return { ok: false, code: "network", message: "The upload was cut off (no connection to the server); try again." };
  }
  let body = null;
  try {
    body = JSON.parse(answer.text ?? "");
  } catch (_) { /* not JSON: said below */ }
  if (answer.status >= 200 && answer.status < 300 && body && typeof body.id === "string" && body.id) {
    return { ok: true, file: body };
  }
  if (body && typeof body.message === "string" && body.message) {
    return { ok: false, code: typeof body.code === "string" ? body.code : "http", message: body.message };
  }
  return { ok: false, code: "http", message: `The server could not take the file (HTTP ${answer.status}); try again.` };
}

/**
 * Sends bytes with XMLHttpRequest, for its upload progress events. Returns the transport:
 * (url, body, {contentType, onProgress(loaded, total)}) → {done: Promise<{status, text,
 * network?, aborted?}>, abort()}.
 */
export function xhrTransport(XHR = globalThis.XMLHttpRequest) {
  return (url, body, { contentType, onProgress } = {}) => {
    const xhr = new XHR();
    const done = new Promise((resolve) => {
      xhr.open("PUT", url);
      if (contentType) xhr.setRequestHeader("Content-Type", contentType);
      // Listened to before send(), or the browser does not report upload progress.
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress?.(e.loaded, e.total);
      };
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
      xhr.onerror = () => resolve({ status: 0, text: "", network: true });
      xhr.ontimeout = () => resolve({ status: 0, text: "", network: true });
      xhr.onabort = () => resolve({ status: 0, text: "", aborted: true });
      xhr.send(body);
    });
    return { done, abort: () => xhr.abort() };
  };
}

/**
 * The files waiting to go with the next message, each uploading as soon as it is added.
 * `send(frame)`: sends a frame on the chat connection, false when it cannot now (the upload
 * then waits, queued, for `pump` after the reconnect). `transport`: see `xhrTransport`.
 * `onChange(upload)`: called whenever an upload changes (null when the list itself changed).
 */
export class Uploads {
  constructor({ send, transport = xhrTransport(), maxBytes = 0, onChange = () => {}, parallel = MAX_PARALLEL }) {
    this.send = send;
    this.transport = transport;
    this.maxBytes = maxBytes;
    this.onChange = onChange;
    this.parallel = parallel;
    this.list = [];
    this.nextKey = 1;
  }

  /** Whether the server takes files (`welcome.limits.max_upload_bytes` above 0). */
  get enabled() {
    return this.maxBytes > 0;
  }

  setLimit(maxBytes) {
    this.maxBytes = Number(maxBytes) > 0 ? Number(maxBytes) : 0;
  }

  get(key) {
    return this.list.find((u) => u.key === key) ?? null;
  }

  /**
   * Adds a file (a File or Blob: `name`, `size`, `type`; `options.name` overrides the name) and
   * starts its upload. Refused at once, as a failed upload, when larger than the limit. Returns
   * the upload, or null when the message already has MAX_ATTACHMENTS files.
   */
  add(file, { name } = {}) {
    if (this.list.length >= MAX_ATTACHMENTS) return null;
    const upload = {
      key: `f${this.nextKey++}`,
      file,
      name: name || file.name || "file",
      size: file.size ?? 0,
      contentType: file.type || "application/octet-stream",
      state: STATE.QUEUED,
      loaded: 0,
      fileId: null,
      error: null,
      code: null,
      retryable: false,
      waiting: false,
      ref: null,
      abort: null,
    };
    this.list.push(upload);
    const refusal = sizeRefusal(upload.name, upload.size, this.maxBytes);
    if (refusal) {
      this.fail(upload, refusal, this.maxBytes > 0 ? "file_too_large" : "files_disabled");
    } else {
      this.pump();
    }
    this.onChange(null);
    return upload;
  }

  /** Starts queued uploads while fewer than `parallel` are under way. */
  pump() {
    for (const u of this.list) {
      if (this.active() >= this.parallel) return;
      if (u.state !== STATE.QUEUED) continue;
      if (!this.ask(u)) return;
    }
  }

  active() {
    return this.list.filter((u) => u.state === STATE.ASKING || u.state === STATE.UPLOADING).length;
  }

  /** The `upload` request; false (still queued) when it cannot go now. */
  ask(u) {
    const ref = `${UPLOAD_REF_PREFIX}${u.key}-${this.nextKey++}`;
    const frame = { type: "upload", name: u.name, size: u.size, content_type: u.contentType, ref };
    if (!this.send(frame)) {
      if (!u.waiting) {
        u.waiting = true;
        this.onChange(u);
      }
      return false;
    }
    u.ref = ref;
    u.waiting = false;
    u.state = STATE.ASKING;
    this.onChange(u);
    return true;
  }

  /** A frame from the server: true when it was an upload's (then nothing else needs it). */
  handle(frame) {
    if (!isUploadRef(frame?.ref)) return false;
    if (frame.type !== "upload_ready" && frame.type !== "error") return false;
    const u = this.list.find((x) => x.ref === frame.ref && x.state === STATE.ASKING);
    // Removed (or asked again after a reconnect) meanwhile: the answer is for nobody.
    if (!u) return true;
    if (frame.type === "error") {
      this.fail(u, frame.message || "The server refused the file.", frame.code ?? "error");
      this.pump();
    } else {
      this.put(u, frame.url);
    }
    return true;
  }

  /** Sends the bytes to the link the server gave. */
  put(u, url) {
    const link = safeFileUrl(url);
    if (!link) {
      this.fail(u, "The server's upload link cannot be used from this page.", "bad_link");
      this.pump();
      return;
    }
    u.state = STATE.UPLOADING;
    u.loaded = 0;
    const onProgress = (loaded) => {
      if (u.state !== STATE.UPLOADING) return;
      u.loaded = Math.min(loaded, u.size);
      this.onChange(u);
    };
    const { done, abort } = this.transport(link, u.file, { contentType: u.contentType, onProgress });
    u.abort = abort;
    this.onChange(u);
    done.then((answer) => this.finished(u, answer), () => this.finished(u, { status: 0, network: true }));
  }

  finished(u, answer) {
    u.abort = null;
    // Removed, or aborted: nothing to say.
    if (u.state !== STATE.UPLOADING || !this.list.includes(u) || answer.aborted) return;
    const result = uploadAnswer(answer);
    if (result.ok) {
      u.state = STATE.DONE;
      u.fileId = result.file.id;
      u.loaded = u.size;
      if (typeof result.file.name === "string" && result.file.name) u.name = result.file.name;
      if (typeof result.file.content_type === "string") u.contentType = result.file.content_type;
      this.onChange(u);
    } else {
      this.fail(u, result.message, result.code);
    }
    this.pump();
  }

  fail(u, message, code) {
    u.state = STATE.FAILED;
    u.error = message;
    u.code = code;
    u.retryable = !FINAL_CODES.has(code);
    u.ref = null;
    u.waiting = false;
    this.onChange(u);
  }

  /** Takes a file away (stopping its upload). */
  remove(key) {
    const u = this.get(key);
    if (!u) return;
    this.list = this.list.filter((x) => x !== u);
    const abort = u.abort;
    u.state = STATE.FAILED;
    u.abort = null;
    abort?.();
    this.pump();
    this.onChange(null);
  }

  /** Tries a failed upload again (not one that can only fail again). */
  retry(key) {
    const u = this.get(key);
    if (!u || u.state !== STATE.FAILED || !u.retryable) return;
    Object.assign(u, { state: STATE.QUEUED, error: null, code: null, loaded: 0, fileId: null });
    this.onChange(u);
    this.pump();
  }

  /** The connection dropped: questions in flight are not answered on the next one. */
  disconnected() {
    for (const u of this.list) {
      if (u.state !== STATE.ASKING) continue;
      u.state = STATE.QUEUED;
      u.ref = null;
      this.onChange(u);
    }
  }

  /** Uploads not finished yet (queued, asking or sending). */
  busy() {
    return this.list.filter((u) => u.state === STATE.QUEUED || u.state === STATE.ASKING || u.state === STATE.UPLOADING);
  }

  failed() {
    return this.list.filter((u) => u.state === STATE.FAILED);
  }

  /**
   * Why a message cannot take the files now, or null: some are still uploading (the message
   * waits for them: it is not sent without them), or some failed (removed or retried first).
   */
  blocker() {
    const busy = this.busy();
    if (busy.length === 1) return `Wait for ${busy[0].name} to finish uploading (or remove it), then send.`;
    if (busy.length > 1) return `Wait for ${busy.length} files to finish uploading (or remove them), then send.`;
    const failed = this.failed();
    if (failed.length === 1) return `${failed[0].name} could not be uploaded: remove it (×) or try again, then send.`;
    if (failed.length > 1) return `${failed.length} files could not be uploaded: remove them (×) or try again, then send.`;
    return null;
  }

  /**
   * The finished files, for the message being sent ({id, name, size, contentType}), taken off
   * the list. Empty when there are none (or when `blocker()` says the message must wait).
   */
  take() {
    if (this.blocker()) return [];
    const done = this.list.filter((u) => u.state === STATE.DONE);
    if (done.length === 0) return [];
    this.list = this.list.filter((u) => u.state !== STATE.DONE);
    this.onChange(null);
    return done.map((u) => ({ id: u.fileId, name: u.name, size: u.size, contentType: u.contentType }));
  }

  /** Forgets every file (stopping their uploads). */
  clear() {
    for (const u of [...this.list]) this.remove(u.key);
  }
}
