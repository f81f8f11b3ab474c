/* bookrag chat widget: `<script src="https://BACKEND/widget.js" defer></script>` adds an
 * "Ask the book" button and a chat panel (<bookrag-chat>, in a Shadow DOM) to any page.
 * Script attributes: data-backend (default: this script's origin), data-title,
 * data-translate="ur" (a "Read in Urdu" control, shown when the backend has a chat model),
 * data-position ("bottom-right" or "bottom-left"), data-article-selector (where a selection
 * offers "Ask about this"; default: the doc's content). The page may move the launcher with
 * the CSS custom properties --bookrag-offset-x and --bookrag-offset-y.
 * Plain ES2020, no dependencies, no build step. Text from answers, sources and the page
 * only ever reaches the DOM through textContent / createElement, never as HTML. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || customElements.get("bookrag-chat")) return;

  const data = script.dataset;
  const BACKEND = (data.backend || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const TITLE = data.title || "Ask the book";
  const LANG = (data.translate || "").trim();
  const ARTICLE = data.articleSelector || ".theme-doc-markdown, article";
  // Never offer "Ask about this" on the site's navigation, TOC, pager or doc footer.
  const NOT_CONTENT = "nav, .navbar, .table-of-contents, .theme-doc-toc-mobile, .theme-doc-footer, .pagination-nav";
  const POSITION = data.position === "bottom-left" ? "left" : "right";
  const NARROW = "(max-width: 520px)"; // the panel takes the screen below the navbar
  const CAPS_KEY = `bookrag-caps:${BACKEND}`;
  const CAPS_SECONDS = 300; // how long a page trusts what /health said the backend can do
  const STORE_KEY = `bookrag-chat:${BACKEND}`;
  const MAX_TURNS = 10; // earlier messages sent with a follow-up question
  const MAX_TURN_CHARS = 4000; // the backend's limit per history message
  // The backend's limits: /widget.js is served with its server's BOOKRAG_MAX_QUESTION_CHARS and
  // BOOKRAG_MAX_SELECTED_CHARS written here (these are their defaults).
  const LIMITS = { question: 2000, selection: 20000 };
  const MAX_QUESTION = LIMITS.question;
  const NEAR_MAX = MAX_QUESTION * 0.9; // from here on the question box counts
  const MAX_SELECTION = LIMITS.selection;
  const RTL = new Set(["ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"]);
  const LANG_NAME = languageName(LANG);

  function languageName(code) {
    try {
      return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code;
    } catch {
      return code;
    }
  }

  // Citations point at the book's public site. A page may map those paths to local pages
  // (the /demo pages do) with <script type="application/json" id="bookrag-link-map">.
  const LINK_MAP = (() => {
    const node = document.getElementById("bookrag-link-map");
    if (!node || node.type !== "application/json") return {};
    try {
      return JSON.parse(node.textContent) || {};
    } catch {
      return {};
    }
  })();

  /* ---------- DOM helpers: every string becomes a text node ---------- */

  function h(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children);
    return node;
  }

  function button(className, label, text, onclick, props = {}) {
    return h("button", { type: "button", class: className, "aria-label": label, onclick, ...props }, text);
  }

  /** An http(s) URL, or a path or `#anchor` on this site (a backend that knows no site URL
   * cites `/docs/...`), mapped to a local page when the page asks; else null. */
  function safeUrl(href) {
    try {
      const url = new URL(String(href).trim(), location.href);
      if (url.protocol !== "http:" && url.protocol !== "https:") return null;
      const local = LINK_MAP[decodePath(url.pathname).replace(/\/+$/, "") || "/"];
      return typeof local === "string" ? new URL(local + url.hash, location.origin) : url;
    } catch {
      return null;
    }
  }

  /** Whether `el` is inside an element `selector` matches (false for a selector the page got
   * wrong, after one console warning). */
  let badSelector = false;
  function inside(el, selector) {
    try {
      return Boolean(el.closest(selector));
    } catch {
      if (!badSelector) console.warn(`bookrag: data-article-selector is not a valid selector: ${selector}`);
      badSelector = true;
      return false;
    }
  }

  function decodePath(path) {
    try {
      return decodeURIComponent(path);
    } catch {
      return path;
    }
  }

  /** A link, or just its content when the URL is not safe to follow. */
  function link(href, content, label) {
    const url = safeUrl(href);
    if (!url) return typeof content === "string" ? document.createTextNode(content) : content;
    const a = h("a", { href: url.href, rel: "noopener noreferrer", "aria-label": label }, content);
    if (url.origin !== location.origin) a.target = "_blank";
    return a;
  }

  /* ---------- Markdown: a safe subset, built as DOM nodes ---------- */

  const FENCE = /^\s*(`{3,}|~{3,})/;
  const QUOTE = /^\s*>/;
  const ITEM = /^\s*([-*+]|\d{1,9}[.)])\s+/;
  const HEADING = /^\s*#{1,6}\s+/;
  const BLOCK_START = [FENCE, QUOTE, HEADING, ITEM];
  const TABLE_DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
  const SOURCES_TAIL = /\n*Sources:[ \t]*(\n[ \t]*\[\d+\][^\n]*)+\s*$/;
  const INLINE = new RegExp(
    [
      /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // 1, 2: code
      /\[([^\]\n]+)\]\(\s*((?:[^()\s]|\([^()\s]*\))+)\s*\)/.source, // 3, 4: link (`a_(b)` too)
      /\*\*(?=\S)([^*\n]+?)\*\*|__(?=\S)([^_\n]+?)__/.source, // 5, 6: strong
      /\*(?=[^\s*])([^*\n]+?)\*|(?<!\w)_(?=\S)([^_\n]+?)_(?!\w)/.source, // 7, 8: emphasis
      /\[(\d{1,3})\](?!\()/.source, // 9: citation marker
      /(https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]])/.source, // 10: bare URL
    ].join("|"),
    "g",
  );

  function inline(text, ctx) {
    const out = document.createDocumentFragment();
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      out.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] !== undefined) out.append(h("code", { text: m[2] }));
      else if (m[3] !== undefined) out.append(link(m[4], inline(m[3], ctx)));
      else if (m[5] !== undefined || m[6] !== undefined) {
        out.append(h("strong", {}, inline(m[5] ?? m[6], ctx)));
      } else if (m[7] !== undefined || m[8] !== undefined) {
        out.append(h("em", {}, inline(m[7] ?? m[8], ctx)));
      } else if (m[9] !== undefined) out.append(citationMark(Number(m[9]), m[0], ctx));
      else {
        // A bare URL ends before a `)` unless the URL opened one: `…/Rain_gauge_(meteorology)`.
        let url = m[10];
        const opened = (url.match(/\(/g) || []).length - (url.match(/\)/g) || []).length;
        if (opened > 0 && text[last] === ")") {
          url += ")";
          last += 1;
        }
        out.append(link(url, url));
      }
    }
    out.append(text.slice(last));
    return out;
  }

  function citationMark(number, raw, ctx) {
    const cite = ctx.citations && ctx.citations.get(number);
    if (!cite) return raw;
    const label = `Source ${number}: ${[cite.title, cite.section].filter(Boolean).join(" › ")}`;
    return h("sup", { class: "mark" }, link(cite.url, raw, label));
  }

  function cells(line) {
    // A table row's cells, split at each `|` that is not escaped as `\|` (as GFM does).
    let row = line.trim();
    if (row.startsWith("|")) row = row.slice(1);
    if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
    return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
  }

  function tableAt(lines, i) {
    // A GFM table: a header row, then a delimiter row (`|---|:--:|`) with as many cells.
    return (
      lines[i].includes("|") &&
      i + 1 < lines.length &&
      TABLE_DELIMITER.test(lines[i + 1]) &&
      cells(lines[i]).length === cells(lines[i + 1]).length
    );
  }

  function table(header, delimiter, rows, ctx) {
    const align = cells(delimiter).map((c) =>
      c.endsWith(":") ? (c.startsWith(":") ? "center" : "right") : null,
    );
    const row = (line, tag) => {
      const given = cells(line);
      // A short row gets empty cells, a long one loses its extra cells (as GFM does).
      return h("tr", {}, ...align.map((a, k) => h(tag, { class: a }, inline(given[k] ?? "", ctx))));
    };
    const body = rows.length ? [h("tbody", {}, ...rows.map((line) => row(line, "td")))] : [];
    return h("div", { class: "table" }, h("table", {}, h("thead", {}, row(header, "th")), ...body));
  }

  const indentOf = (line) => line.length - line.trimStart().length;

  /** A quote as a tooltip shows it: its words, without Markdown's marks and code fences. */
  function plainQuote(quote) {
    const text = String(quote)
      .replace(/^\s*(`{3,}|~{3,}).*$/gm, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/(\*\*|__|\*|`)/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return text.length > 300 ? `${text.slice(0, 299)}…` : text;
  }

  function listFor(item) {
    // A bulleted list, or a numbered one starting at its first item's number.
    const start = parseInt(item.match(ITEM)[1], 10);
    return Number.isNaN(start) ? h("ul") : h("ol", { start: start === 1 ? null : start });
  }

  function markdown(text, ctx = {}) {
    const out = document.createDocumentFragment();
    const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    const more = (i) => i < lines.length && lines[i].trim() !== "";
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(FENCE);
      if (!line.trim()) {
        i++;
      } else if (fence) {
        // Code indented under a list item loses that indent, as CommonMark takes it off.
        const pad = indentOf(line);
        const code = [];
        for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) {
          code.push(lines[i].slice(Math.min(pad, indentOf(lines[i]))));
        }
        i++; // the closing fence (an unclosed one runs to the end, as in CommonMark)
        out.append(h("pre", {}, h("code", { text: code.join("\n") })));
      } else if (tableAt(lines, i)) {
        const [header, delimiter, rows] = [line, lines[i + 1], []];
        for (i += 2; more(i) && !BLOCK_START.some((re) => re.test(lines[i])); i++) rows.push(lines[i]);
        out.append(table(header, delimiter, rows, ctx));
      } else if (QUOTE.test(line)) {
        const quoted = [];
        for (; i < lines.length && QUOTE.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*> ?/, ""));
        out.append(h("blockquote", {}, markdown(quoted.join("\n"), ctx)));
      } else if (HEADING.test(line)) {
        out.append(h("p", { class: "heading" }, h("strong", {}, inline(line.replace(HEADING, ""), ctx))));
        i++;
      } else if (ITEM.test(line)) {
        // An item indented past the one before it starts a list inside that one.
        const open = [{ indent: indentOf(line), list: listFor(line) }];
        for (; more(i) && !FENCE.test(lines[i]) && !QUOTE.test(lines[i]); i++) {
          const item = lines[i];
          if (!ITEM.test(item)) {
            open[open.length - 1].list.lastChild.append(" ", inline(item.trim(), ctx)); // wrapped
            continue;
          }
          const indent = indentOf(item);
          while (open.length > 1 && indent < open[open.length - 1].indent) open.pop();
          const parent = open[open.length - 1];
          if (indent > parent.indent && parent.list.lastChild) {
            const nested = listFor(item);
            parent.list.lastChild.append(nested);
            open.push({ indent, list: nested });
          }
          open[open.length - 1].list.append(h("li", {}, inline(item.replace(ITEM, ""), ctx)));
        }
        out.append(open[0].list);
      } else {
        const para = h("p", {}, inline(line.trim(), ctx));
        for (i++; more(i) && !BLOCK_START.some((re) => re.test(lines[i])) && !tableAt(lines, i); i++) {
          para.append(h("br"), inline(lines[i].trim(), ctx));
        }
        out.append(para);
      }
    }
    return out;
  }

  /* ---------- Talking to the backend ---------- */

  class Problem extends Error {} // a failure whose message is meant for the reader

  async function post(path, body, signal) {
    let res;
    try {
      res = await fetch(`${BACKEND}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw await unreachable();
    }
    if (res.ok) return res;
    const payload = errorBody(await res.text().catch(() => ""));
    if (res.status === 429) {
      const wait = retrySeconds(res.headers.get("Retry-After")) ?? payload.retry_after;
      const when = Number.isFinite(wait) ? `in ${wait} second${wait === 1 ? "" : "s"}` : "in a moment";
      throw new Problem(`Too many requests right now. Please try again ${when}.`);
    }
    if (res.status === 413) {
      throw Object.assign(new Problem("That is too much text to send. Please select a shorter passage."), { status: 413 });
    }
    const detail = [payload.error, payload.detail].find((v) => typeof v === "string");
    throw Object.assign(new Problem(detail || `The service answered HTTP ${res.status}.`), { status: res.status });
  }

  /* A fetch that failed outright: either the backend is out of reach, or it answered without
   * allowing this site's origin (CORS). An opaque no-cors request tells the two apart. */
  async function unreachable() {
    try {
      await fetch(`${BACKEND}/health`, { mode: "no-cors", cache: "no-store" });
    } catch {
      return new Problem(`Can't reach the book's assistant at ${BACKEND}. Check your connection and try again.`);
    }
    warnOrigin();
    return new Problem(
      `The book's assistant does not accept questions from this site (${location.origin}) yet. ` +
        "The site's owner can allow it; the browser console says how.",
    );
  }

  let originWarned = false;
  function warnOrigin() {
    if (originWarned) return;
    originWarned = true;
    console.error(
      `bookrag: the backend at ${BACKEND} answered but does not allow this site's origin ` +
        `(${location.origin}), so the browser blocked the reply (CORS). Add the origin to the ` +
        `backend's ALLOWED_ORIGINS (comma-separated, scheme and host only), e.g. ` +
        `ALLOWED_ORIGINS=${location.origin}, and restart the backend.`,
    );
  }

  /** What the backend can do, from GET /health (cached for a while in sessionStorage). */
  async function capabilities() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(CAPS_KEY) || "null");
      if (saved && Date.now() - saved.at < CAPS_SECONDS * 1000) return saved;
    } catch {
      /* unreadable: ask again */
    }
    let res;
    try {
      res = await fetch(`${BACKEND}/health`, { cache: "no-store" });
    } catch {
      await unreachable(); // logs the fix for the author when it is CORS
      return { generator: false };
    }
    const health = await res.json().catch(() => ({})); // a degraded (503) backend says too
    const generator = typeof health.generator === "string" && health.generator !== "extractive";
    const caps = { generator, at: Date.now() };
    try {
      sessionStorage.setItem(CAPS_KEY, JSON.stringify(caps));
    } catch {
      /* storage disabled: ask on the next page too */
    }
    return caps;
  }

  /** The bottom edge of the site's fixed or sticky navbar (Docusaurus's `.navbar`, or a
   * page's top-level header), or 0. */
  function navbarBottom() {
    const nav = document.querySelector(".navbar") || document.querySelector("body > header, body > nav");
    if (!nav || !/^(fixed|sticky)$/.test(getComputedStyle(nav).position)) return 0;
    const bottom = nav.getBoundingClientRect().bottom;
    return bottom > 0 ? Math.min(Math.round(bottom), innerHeight / 2) : 0;
  }

  // An error is JSON, or (from /stream-chat) one `data:` event holding the same JSON.
  function errorBody(text) {
    for (const candidate of [text, ...text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))]) {
      try {
        const value = JSON.parse(candidate);
        if (value && typeof value === "object") return value;
      } catch {
        // not this one
      }
    }
    return {};
  }

  function retrySeconds(header) {
    if (!header) return null;
    if (/^\s*\d+\s*$/.test(header)) return parseInt(header, 10);
    const at = Date.parse(header); // Retry-After may also be an HTTP date
    return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }

  /** Read a /stream-chat body: split on blank lines, JSON-parse the `data: ` lines. */
  async function readEvents(res, onEvent) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (err.name === "AbortError") throw err;
          throw new Problem("The connection to the assistant was lost before the answer was complete.");
        }
        buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
        buffer = buffer.replace(/\r\n/g, "\n");
        const blocks = buffer.split("\n\n");
        buffer = chunk.done ? "" : blocks.pop();
        for (const line of blocks.join("\n").split("\n")) {
          if (!line.startsWith("data: ")) continue;
          let event;
          try {
            event = JSON.parse(line.slice(6));
          } catch {
            throw new Problem("The assistant sent an answer this page could not read.");
          }
          if (onEvent(event)) return;
        }
        if (chunk.done) throw new Problem("The connection closed before the answer was complete.");
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /* ---------- Feedback: was this answer helpful? ---------- */

  const MAX_COMMENT = 1000; // the backend's limit
  const FEEDBACK_STYLE = `
.feedback { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 8px;
  font-size: 13px; color: var(--muted); }
.feedback .vote { display: inline-flex; border: 1px solid var(--line); background: transparent;
  color: var(--muted); border-radius: 8px; padding: 3px 7px; }
.feedback .vote svg { width: 16px; height: 16px; fill: none; stroke: currentColor; stroke-width: 1.8;
  stroke-linejoin: round; }
.feedback .vote[aria-pressed="true"] { background: var(--accent); border-color: var(--accent);
  color: var(--on-accent); }
.feedback form { flex-basis: 100%; display: flex; gap: 6px; padding: 0; border: 0; }
.feedback textarea { font-size: 13px; min-height: 2.6em; }
.feedback .send { padding: 4px 10px; font-size: 13px; }`;

  // A thumb drawn as SVG, so it shows without an emoji font; down is up turned over.
  const THUMB = "M2 10h4v11H2zM8 21h9.4a2 2 0 0 0 2-1.6l1.5-7.2A2 2 0 0 0 19 9.8h-5.2l.9-4.3a1.9 1.9 0 0 0-3.3-1.6L8 9.6z";

  function thumb(up) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", THUMB);
    if (!up) path.setAttribute("transform", "rotate(180 12 12)");
    svg.append(path);
    return svg;
  }

  /** Thumbs up and down under an answer and, after a thumbs down, a short comment box.
   * The verdict lives on the message (`m.feedback`), so it outlasts re-renders and pages. */
  function feedbackBar(m, save) {
    const state = m.feedback || (m.feedback = {});
    const bar = h("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" });
    const status = h("span", { role: "status" });

    async function send(helpful, comment) {
      const body = { answer_id: m.answerId, helpful };
      if (comment) body.comment = comment.slice(0, MAX_COMMENT);
      status.textContent = "";
      try {
        await post("/feedback", body);
      } catch (err) {
        status.textContent = err instanceof Problem ? err.message : "Couldn't send your feedback.";
        return false;
      }
      const hadFocus = bar.contains(bar.getRootNode().activeElement); // a keyboard user's
      Object.assign(state, { helpful, commented: Boolean(comment) || (state.commented && !helpful) });
      save();
      draw(!helpful, hadFocus);
      return true;
    }

    function draw(focus = false, keepFocus = false) {
      // A vote already pressed is not sent again: it would say nothing new.
      const vote = (helpful, label) =>
        button("vote", label, thumb(helpful), () => state.helpful === helpful || send(helpful), {
          "aria-pressed": String(state.helpful === helpful),
        });
      const votes = [vote(true, "Helpful"), vote(false, "Not helpful")];
      bar.replaceChildren(h("span", { text: "Helpful?" }), ...votes);
      // Redrawn under a keyboard user: focus goes on to the comment box, or stays on the vote.
      if (keepFocus && !(focus && state.helpful === false && !state.commented)) {
        queueMicrotask(() => votes[state.helpful ? 0 : 1].focus());
      }
      if (state.helpful === false && !state.commented) {
        const box = h("textarea", {
          rows: 2,
          maxlength: MAX_COMMENT,
          "aria-label": "What was wrong or missing?",
          dir: "auto",
          placeholder: "What was wrong or missing? (optional)",
        });
        const form = h(
          "form",
          {
            onsubmit: (e) => {
              e.preventDefault();
              if (box.value.trim()) send(false, box.value.trim());
            },
          },
          box,
          h("button", { type: "submit", class: "send", "aria-label": "Send the comment" }, "Send"),
        );
        bar.append(form);
        if (focus) {
          queueMicrotask(() => {
            box.focus();
            box.scrollIntoView({ block: "nearest" }); // it opens under the answer, maybe out of view
          });
        }
      } else if (state.helpful !== undefined) {
        bar.append(h("span", { text: "Thanks for your feedback." }));
      }
      bar.append(status);
    }

    draw();
    return bar;
  }

  /* ---------- The element ---------- */

  const STYLE = `
:host { all: initial; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color-scheme: light; --bg: #fff; --fg: #1c1e21; --muted: #5f6368; --line: #d5d9df;
  --accent: #1f5fbf; --on-accent: #fff; --user: #e6efff; --bot: #f2f3f5; --code: #e7eaee;
  --error: #a4221b; --error-bg: #fdecea; --shadow: rgba(0, 0, 0, .25);
  --x: var(--bookrag-offset-x, 20px); --y: var(--bookrag-offset-y, 80px); --top: 0px; }
:host([position="left"]) { --y: var(--bookrag-offset-y, 20px); }
:host([theme="dark"]) { color-scheme: dark; --bg: #1e1f22; --fg: #e4e6ea; --muted: #a4a8ae;
  --line: #3b3d42; --accent: #8ab4ff; --on-accent: #0c1424; --user: #26354f; --bot: #2b2d31;
  --code: #35373c; --error: #ffb4ab; --error-bg: #43201d; --shadow: rgba(0, 0, 0, .6); }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
a { color: var(--accent); }
.launcher, .ask-selection { position: fixed; z-index: 2147483000; border: 0; border-radius: 999px;
  background: var(--accent); color: var(--on-accent); font-weight: 600; box-shadow: 0 4px 14px var(--shadow); }
/* Above Docusaurus's back-to-top button by default (bottom-right); the page may move it. */
.launcher { right: var(--x); bottom: var(--y); padding: 12px 20px; }
.ask-selection { padding: 6px 14px; font-size: 14px; }
/* Above the launcher and below the site's navbar (--top, measured), whatever the height. */
.panel { position: fixed; right: var(--x); bottom: calc(var(--y) + 58px); z-index: 2147483001; width: 410px;
  max-width: calc(100vw - 2 * var(--x)); height: 640px;
  max-height: calc(100vh - var(--y) - 58px - var(--top) - 12px); display: flex;
  flex-direction: column; background: var(--bg); color: var(--fg); border: 1px solid var(--line);
  border-radius: 14px; box-shadow: 0 12px 40px var(--shadow); overflow: hidden; }
.header { display: flex; align-items: center; gap: 6px; padding: 10px 12px; border-bottom: 1px solid var(--line); }
.header h2 { flex: 1; margin: 0; font-size: 16px; }
.tool { border: 1px solid var(--line); background: transparent; color: var(--fg); border-radius: 8px;
  padding: 3px 10px; font-size: 13px; }
.tool.close { font-size: 18px; line-height: 1; padding: 3px 9px; }
/* Scrolled past either end, they stop: the page under the panel is not scrolled instead. */
.messages, .translation { flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 12px;
  display: flex; flex-direction: column; gap: 10px; }
.hint { color: var(--muted); margin: auto 0; text-align: center; }
.cleared { margin: 0; font-size: 13px; color: var(--muted); text-align: center; }
.msg { max-width: 94%; padding: 8px 12px; border-radius: 12px; overflow-wrap: anywhere; }
.msg.user { align-self: flex-end; background: var(--user); white-space: pre-wrap; }
.msg.assistant { align-self: flex-start; background: var(--bot); }
.msg p, .msg ul, .msg ol, .msg pre, .msg blockquote, .translated p { margin: 0 0 8px; }
.msg > :last-child, blockquote > :last-child { margin-bottom: 0; }
.msg ul, .msg ol { padding-inline-start: 22px; }
blockquote { margin: 0; padding-block: 2px; padding-inline: 10px 0; border-inline-start: 3px solid var(--accent); }
pre { background: var(--code); padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: 13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em;
  background: var(--code); padding: 0 3px; border-radius: 4px; }
pre code { padding: 0; background: none; }
.table { overflow-x: auto; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: start; vertical-align: top; }
th { background: var(--code); }
th.center, td.center { text-align: center; }
th.right, td.right { text-align: right; }
.mark { font-size: 11px; }
.mark a { text-decoration: none; }
.sources { margin: 8px 0 0; padding-top: 6px; border-top: 1px solid var(--line); font-size: 13px; }
.sources p { margin: 0 0 2px; font-size: 12px; font-weight: 600; color: var(--muted); }
.sources ol { margin: 0; padding-inline-start: 22px; }
.note { color: var(--muted); font-style: italic; font-size: 13px; }
.error { color: var(--error); background: var(--error-bg); padding: 6px 10px; border-radius: 8px; margin: 0; }
.quoted { font-size: 13px; margin-bottom: 6px; white-space: normal; opacity: .85; }
.typing { display: flex; gap: 4px; padding: 6px 2px; }
.typing span { width: 7px; height: 7px; border-radius: 50%; background: var(--muted);
  animation: blink 1.2s infinite both; }
.typing span:nth-child(2) { animation-delay: .2s; }
.typing span:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
.selection { display: flex; gap: 8px; align-items: flex-start; margin: 8px 12px 0; padding: 6px 8px;
  border: 1px dashed var(--line); border-radius: 8px; font-size: 13px; }
.selection > div { flex: 1; min-width: 0; }
.selection blockquote { max-height: 4.6em; overflow: hidden; }
.selection .label { font-weight: 600; color: var(--muted); }
form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid var(--line); align-items: flex-end; }
textarea { flex: 1; resize: none; font: inherit; color: var(--fg); background: var(--bg);
  border: 1px solid var(--line); border-radius: 8px; padding: 7px 9px; max-height: 140px;
  overscroll-behavior: contain; }
textarea:focus-visible { outline-offset: 0; }
.question { flex-wrap: wrap; row-gap: 0; }
.limit { flex-basis: 100%; display: flex; gap: 8px; margin: 0; font-size: 12px; }
.limit:has(:not(:empty)) { margin-top: 4px; }
.limit .count { margin-inline-start: auto; color: var(--muted); white-space: nowrap; }
.send, .stop { border: 0; border-radius: 8px; padding: 8px 14px; font-weight: 600;
  background: var(--accent); color: var(--on-accent); }
.stop { background: var(--error); color: var(--bg); }
.translated { line-height: 1.9; font-size: 16px; }
.translated[dir="rtl"] { font-family: "Noto Naskh Arabic", "Noto Nastaliq Urdu", "Segoe UI", Tahoma, sans-serif; }
.translated pre, .translated code { direction: ltr; unicode-bidi: isolate; text-align: left; } /* code reads left to right in any language */
:host([position="left"]) .launcher, :host([position="left"]) .panel { right: auto; left: var(--x); }
:host([tight]) .panel { bottom: 12px; max-height: calc(100vh - var(--top) - 24px); }
:host([covered]) .launcher, :host([covered]) .panel, :host([covered]) .ask-selection { display: none; }
@media (max-width: 520px) {
  .panel, :host([position="left"]) .panel, :host([tight]) .panel { inset: var(--top) 0 0 0; width: 100%;
    max-width: none; height: auto; max-height: none; border: 0; border-radius: 0; }
  .launcher { right: var(--bookrag-offset-x, 12px); }
  :host([position="left"]) .launcher { left: var(--bookrag-offset-x, 12px); }
}
@media (prefers-reduced-motion: reduce) { .typing span { animation: none; opacity: .7; } }`;

  class BookragChat extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      this.messages = []; // {role, content, selected?, citations?, sources?, error?, stopped?}
      this.selected = ""; // the passage attached to the next question
      this.controller = null; // aborts the answer being read
      this.setAttribute("position", POSITION);
      this.build(this.attachShadow({ mode: "open" }));
      this.restore();
      this.watchTheme();
      this.watchSelection();
      this.watchLayout();
      // Offer translation only when the backend has a chat model to translate with.
      if (LANG) capabilities().then((caps) => (this.translateButton.hidden = !caps.generator));
    }

    build(root) {
      const toggle = () => (this.panel.hidden ? this.open() : this.close());
      this.launcher = button("launcher", TITLE, TITLE, toggle, { "aria-expanded": "false", "aria-controls": "panel" });
      this.askSelection = button("ask-selection", "Ask about this", "Ask about this", () => this.askAboutSelection(), {
        hidden: true,
        onmousedown: (e) => e.preventDefault(), // keep the reader's selection
      });

      const header = h("div", { class: "header" }, h("h2", { text: TITLE }));
      if (LANG) {
        const label = `Read this page in ${LANG_NAME}`;
        this.translateButton = button("tool", label, `Read in ${LANG_NAME}`, () => this.translate(), { hidden: true });
        header.append(this.translateButton);
      }
      header.append(
        button("tool", "Start a new conversation", "New", () => this.reset()),
        button("tool close", "Close the chat", "×", () => this.close()),
      );

      this.log = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
      // Following a citation to this site closes the panel, so it never covers the cited text.
      this.log.addEventListener("click", (e) => {
        const a = e.target.closest && e.target.closest("a[href]");
        const elsewhere = e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button !== 0;
        if (a && !a.target && !elsewhere) this.close(false);
      });
      // Not a live region: a whole page read out at once. Focus goes to it instead.
      this.translation = h("div", { class: "translation", hidden: true, role: "region", "aria-label": "Translation" });
      this.quote = h("blockquote", { dir: "auto" });
      this.selectionBox = h(
        "div",
        { class: "selection", hidden: true },
        h("div", {}, h("div", { class: "label", text: "Asking about:" }), this.quote),
        button("tool", "Remove the selected text", "Remove", () => this.attach("")),
      );

      this.input = h("textarea", {
        rows: 2,
        dir: "auto", // an Urdu question is typed right to left
        maxlength: MAX_QUESTION,
        "aria-label": "Your question",
        "aria-describedby": "limit",
        placeholder: "Ask a question about the book…",
        onkeydown: (e) => {
          if (e.key !== "Enter" || e.shiftKey || e.isComposing) return; // Shift+Enter: new line
          e.preventDefault();
          this.ask();
        },
        onbeforeinput: (e) => this.checkRoom(e),
        oninput: () => this.showRoom(),
      });
      // Under the box: how long the question is, near the limit, and (read out, politely)
      // what did not fit. The count is no live region: it would be read at every keystroke.
      this.tooLong = h("span", { role: "status" });
      this.count = h("span", { class: "count" });
      this.limit = h("p", { id: "limit", class: "limit" }, this.tooLong, this.count);
      this.send = h("button", { type: "submit", class: "send", "aria-label": "Send the question" }, "Send");
      this.stop = button("stop", "Stop the answer", "Stop", () => this.controller && this.controller.abort(), { hidden: true });
      const submit = (e) => {
        e.preventDefault();
        this.ask();
      };
      this.form = h("form", { class: "question", onsubmit: submit }, this.input, this.send, this.stop, this.limit);

      this.panel = h(
        "section",
        { id: "panel", class: "panel", role: "dialog", "aria-label": TITLE, hidden: true },
        header, this.log, this.translation, this.selectionBox, this.form,
      );
      this.panel.addEventListener("keydown", (e) => {
        if (e.key === "Tab" && matchMedia(NARROW).matches) this.trapFocus(e);
        if (e.key !== "Escape") return;
        e.stopPropagation();
        this.close();
      });
      root.append(h("style", { text: STYLE + FEEDBACK_STYLE }), this.launcher, this.askSelection, this.panel);
    }

    /* The conversation lives in sessionStorage, so it follows the reader across pages. */

    restore() {
      let saved = {};
      try {
        saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
      } catch {
        /* unreadable: start afresh */
      }
      this.messages = Array.isArray(saved.messages) ? saved.messages : [];
      for (const m of this.messages) {
        if (m.pending) Object.assign(m, { pending: false, stopped: true }); // left mid-answer
      }
      this.render();
      if (saved.open) this.open(false);
    }

    save() {
      try {
        const state = { messages: this.messages.slice(-40), open: !this.panel.hidden };
        sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
      } catch {
        /* storage full or disabled: the conversation just won't follow the reader */
      }
    }

    open(focus = true) {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.layout();
      this.save();
      this.scrollToLast();
      // Into the view showing: the question box, or the translation's "Back to chat".
      const back = this.translation.querySelector("button");
      if (focus) (this.translation.hidden || !back ? this.input : back).focus();
    }

    close(focus = true) {
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.lockPage(false);
      this.save();
      if (focus) this.launcher.focus();
    }

    /* Where the page leaves room: below its navbar, out of its mobile menu's way. */

    watchLayout() {
      let frame = 0;
      const update = () => {
        frame = frame || requestAnimationFrame(() => {
          frame = 0;
          this.layout();
        });
      };
      addEventListener("resize", update);
      addEventListener("scroll", update, { passive: true });
      // Docusaurus opens its mobile menu by adding a class (navbar-sidebar--show) to the navbar.
      new MutationObserver(update).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["class"] });
      this.layout();
    }

    layout() {
      const top = navbarBottom();
      this.style.setProperty("--top", `${top}px`);
      this.toggleAttribute("covered", Boolean(document.querySelector(".navbar-sidebar--show")));
      const narrow = matchMedia(NARROW).matches;
      // Held under Docusaurus's menu too: let go there, it took hold again on a page the menu
      // went to before Docusaurus scrolled it to its top, and put the last page's place back.
      this.lockPage(!this.panel.hidden && narrow);
      if (this.panel.hidden || this.hasAttribute("covered")) return;
      // Too little room between the navbar and the launcher: the panel may cover the launcher.
      this.toggleAttribute("tight", this.launcher.getBoundingClientRect().top - top - 24 < 300);
      this.panel.setAttribute("aria-modal", String(narrow));
    }

    /** While the panel covers a phone's screen, the page under it keeps still: a swipe on the
     * panel's title, or on a conversation too short to scroll, would scroll the page, as
     * overscroll-behavior holds only where a list scrolls. Unlocked, the page has its own
     * overflow style back, and its scroll position unless the reader went to another page
     * meanwhile (from Docusaurus's menu, or with Back). */
    lockPage(lock) {
      const html = document.documentElement;
      const here = () => location.pathname + location.search;
      if (lock === Boolean(this.pageLock)) return;
      if (lock) {
        const saved = ["overflow-x", "overflow-y"].map((name) => [
          name,
          html.style.getPropertyValue(name),
          html.style.getPropertyPriority(name),
        ]);
        this.pageLock = { saved, style: html.getAttribute("style"), x: scrollX, y: scrollY, page: here() };
        html.style.setProperty("overflow", "hidden", "important");
        return;
      }
      const { saved, style, x, y, page } = this.pageLock;
      this.pageLock = null;
      for (const [name, value, priority] of saved) {
        if (value) html.style.setProperty(name, value, priority);
        else html.style.removeProperty(name);
      }
      // Read before it is removed: Chromium writes the attribute lazily, and an unwritten one
      // is not removed (style="" stayed).
      if (style === null && html.getAttribute("style") === "") html.removeAttribute("style");
      // A phone's keyboard may have moved the page to show the question box.
      if (page === here() && (scrollX !== x || scrollY !== y)) scrollTo({ left: x, top: y, behavior: "instant" });
    }

    /** Tab and Shift+Tab cycle inside the panel while it takes the whole screen. */
    trapFocus(e) {
      const items = [...this.panel.querySelectorAll("a[href], button, textarea")].filter(
        (el) => !el.disabled && el.getClientRects().length,
      );
      if (!items.length) return;
      const active = this.shadowRoot.activeElement;
      const [first, last] = [items[0], items[items.length - 1]];
      if (e.shiftKey ? active === first || !items.includes(active) : active === last) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      }
    }

    /** "New": a fresh conversation. The one it clears can be brought back (Undo) until the
     * next question is asked, so one click never loses it. */
    reset() {
      if (this.controller) this.controller.abort();
      if (this.messages.length) this.cleared = { messages: this.messages, selected: this.selected };
      this.messages = [];
      this.attach("");
      this.showChat();
      this.save();
      this.render();
      this.input.focus();
    }

    undoReset() {
      const { messages, selected } = this.cleared;
      this.cleared = null;
      this.messages = messages;
      if (selected && !this.selected) this.attach(selected);
      this.save();
      this.render();
      this.input.focus();
    }

    /* The theme follows Docusaurus's <html data-theme="dark">. */

    watchTheme() {
      const apply = () => {
        const theme = document.documentElement.dataset.theme;
        const dark = theme ? theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
        this.setAttribute("theme", dark ? "dark" : "light");
      };
      const observer = new MutationObserver(apply);
      observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
      matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply); // the OS's, live
      apply();
    }

    /* "Ask about this": a button beside text selected inside the page's article. */

    watchSelection() {
      let timer = 0;
      document.addEventListener("selectionchange", () => {
        clearTimeout(timer);
        timer = setTimeout(() => this.checkSelection(), 200); // once the selection settles
      });
      // Escape puts the offer away, as it closes the panel (the selection itself is kept).
      document.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && !this.askSelection.hidden) this.askSelection.hidden = true;
      });
      window.addEventListener("scroll", () => this.placeSelectionButton(), { passive: true });
    }

    checkSelection() {
      const sel = document.getSelection();
      const inArticle = (node) => {
        const el = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
        return Boolean(el && inside(el, ARTICLE) && !el.closest(NOT_CONTENT) && !this.contains(el));
      };
      const range = sel && !sel.isCollapsed && sel.rangeCount ? sel.getRangeAt(0).cloneRange() : null;
      // A triple-click on the article's last paragraph ends the range at the start of what
      // follows the article: what the reader selected is still the paragraph.
      if (range && inArticle(range.startContainer) && !inArticle(range.endContainer)) {
        const node = range.startContainer;
        const article = (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement).closest(ARTICLE);
        if (!article.contains(range.endContainer)) range.setEndAfter(article.lastChild || article);
      }
      const text = range ? range.toString().trim() : "";
      if (text.length < 2 || !inArticle(range.startContainer) || !inArticle(range.endContainer)) {
        this.askSelection.hidden = true;
        this.range = null;
        return;
      }
      this.pending = text.slice(0, MAX_SELECTION);
      this.range = range;
      this.askSelection.hidden = false;
      this.placeSelectionButton();
    }

    placeSelectionButton() {
      if (!this.range || this.askSelection.hidden) return;
      const rect = this.range.getBoundingClientRect();
      const width = this.askSelection.offsetWidth;
      const nav = navbarBottom();
      const top = rect.top - 42 > nav + 6 ? rect.top - 42 : rect.bottom + 8; // never on the navbar
      this.askSelection.style.visibility = top < nav ? "hidden" : ""; // scrolled away under it
      const left = Math.min(Math.max(8, rect.left + rect.width / 2 - width / 2), innerWidth - width - 8);
      this.askSelection.style.top = `${Math.round(top)}px`;
      this.askSelection.style.left = `${Math.round(left)}px`;
    }

    askAboutSelection() {
      this.attach(this.pending || "");
      this.askSelection.hidden = true;
      this.showChat();
      this.open();
    }

    attach(text) {
      const hadFocus = this.selectionBox.contains(this.shadowRoot.activeElement); // its Remove
      this.selected = text;
      this.quote.textContent = text.length > 400 ? `${text.slice(0, 400)}…` : text;
      this.selectionBox.hidden = !text;
      if (!text && hadFocus) this.input.focus();
    }

    /* Chat */

    history() {
      const failed = (i) => this.messages[i + 1] && this.messages[i + 1].error;
      const turns = this.messages.filter((m, i) => m.content && !m.error && !m.pending && !failed(i));
      return turns.slice(-MAX_TURNS).map((m) => ({ role: m.role, content: m.content.slice(0, MAX_TURN_CHARS) }));
    }

    async ask() {
      const question = this.input.value.trim();
      if (this.controller || (!question && !this.selected)) return;
      const body = { question, page_url: location.href, history: this.history() };
      if (this.selected) body.selected_text = this.selected;
      const user = { role: "user", content: question || "Explain this passage.", selected: this.selected || undefined };
      this.cleared = null; // a new conversation has begun: the old one is gone for good
      const reply = { role: "assistant", content: "", pending: true };
      this.messages.push(user, reply);
      this.input.value = "";
      this.showRoom();
      this.attach("");
      this.showChat();
      this.render();
      this.save(); // a reader who moves on mid-answer finds the question there, "Stopped."
      const bubble = this.log.lastChild;
      bubble.setAttribute("aria-busy", "true"); // screen readers wait for the whole answer
      this.controller = new AbortController();
      this.setBusy(true);
      let frame = 0;
      try {
        const res = await post("/stream-chat", body, this.controller.signal);
        await readEvents(res, (event) => {
          if (event.error !== undefined) throw new Problem(String(event.error));
          if (typeof event.token === "string") {
            reply.content += event.token;
            frame = frame || requestAnimationFrame(() => {
              frame = 0;
              this.fill(bubble, reply);
            });
          }
          if (!event.done) return false;
          const final = JSON.parse(event.response);
          reply.content = String(final.answer ?? reply.content);
          reply.sources = Array.isArray(final.sources) ? final.sources : [];
          reply.citations = Array.isArray(final.citations) ? final.citations : [];
          reply.answerId = typeof final.answer_id === "string" ? final.answer_id : undefined;
          return true;
        });
      } catch (err) {
        if (err.name === "AbortError") reply.stopped = true;
        else reply.error = err instanceof Problem ? err.message : "Something went wrong while reading the answer.";
        // Failed with no answer: the question is back in the box, to send again as it is.
        if (reply.error && !reply.content && !this.input.value) {
          this.input.value = question;
          this.showRoom();
        }
      } finally {
        cancelAnimationFrame(frame);
        // Back to the question box only from the question's own controls: a reader who went on
        // to select text in the page, or to write a comment, keeps what they were doing.
        const asking = [this.input, this.send, this.stop].includes(this.shadowRoot.activeElement);
        reply.pending = false;
        this.controller = null;
        this.setBusy(false);
        bubble.removeAttribute("aria-busy");
        this.fill(bubble, reply);
        this.save();
        if (!this.panel.hidden && asking) this.input.focus();
      }
    }

    /** The box holds MAX_QUESTION characters and cuts off, silently, what a paste, a drop or a
     * keystroke would add past them: say so. */
    checkRoom(e) {
      const text = e.inputType === "insertLineBreak" ? "\n" : e.data ?? e.dataTransfer?.getData("text/plain");
      if (!e.inputType.startsWith("insert") || !text) return;
      const box = this.input;
      const room = MAX_QUESTION - box.value.length + (box.selectionEnd - box.selectionStart);
      const over = text.replace(/\r\n?/g, "\n").length - room;
      if (over <= 0) return;
      const most = MAX_QUESTION.toLocaleString("en");
      const typed = e.inputType === "insertText" || e.inputType === "insertLineBreak";
      const count = `${over.toLocaleString("en")} character${over === 1 ? " was" : "s were"}`;
      this.tooLong.textContent = typed
        ? `A question holds ${most} characters at most.`
        : `${count} left out: a question holds ${most} at most.`;
    }

    /** The question's length near the limit; what did not fit is said until it is far again. */
    showRoom() {
      const length = this.input.value.length;
      const near = length >= NEAR_MAX;
      this.count.textContent = near ? `${length.toLocaleString("en")} / ${MAX_QUESTION.toLocaleString("en")}` : "";
      if (!near) this.tooLong.textContent = "";
    }

    setBusy(busy) {
      // A keyboard user on Send goes on to Stop (and back): focus never falls out of the panel.
      const focused = this.shadowRoot.activeElement;
      this.stop.hidden = !busy;
      this.send.hidden = busy;
      if (busy && focused === this.send) this.stop.focus();
    }

    render() {
      // New messages are appended, so the live region reads only them; a conversation
      // cleared or restored is drawn afresh.
      const shown = this.log.querySelectorAll(":scope > .msg").length;
      const growing = shown > 0 && shown <= this.messages.length;
      if (!growing) this.log.replaceChildren();
      if (!this.messages.length) {
        if (this.cleared) {
          const undo = button("tool", "Undo clearing the conversation", "Undo", () => this.undoReset());
          this.log.append(h("p", { class: "cleared" }, "Conversation cleared. ", undo));
        }
        const hint = "Ask a question about this book. To ask about a passage, select it in the page.";
        this.log.append(h("p", { class: "hint", text: hint }));
      }
      for (const m of this.messages.slice(growing ? shown : 0)) {
        // Each reads in its own direction, and says to a screen reader whose it is.
        const whose = m.role === "user" ? "You asked" : "Answer";
        const bubble = h("div", { class: `msg ${m.role}`, dir: "auto", role: "group", "aria-label": whose });
        this.fill(bubble, m);
        this.log.append(bubble);
      }
      this.scrollToLast();
    }

    /** Show the last question and as much of its answer as fits, from the answer's start. */
    scrollToLast() {
      const questions = this.log.querySelectorAll(".msg.user");
      const last = questions[questions.length - 1];
      this.log.scrollTop = last ? this.offsetInLog(last) - 8 : 0;
    }

    /** Follow an answer as it grows, but never so far that its question leaves the top. */
    follow(bubble) {
      const question = bubble.previousElementSibling || bubble;
      const limit = this.offsetInLog(question) - 8;
      this.log.scrollTop = Math.max(this.log.scrollTop, Math.min(this.log.scrollHeight, limit));
    }

    offsetInLog(node) {
      return node.getBoundingClientRect().top - this.log.getBoundingClientRect().top + this.log.scrollTop;
    }

    fill(bubble, m) {
      const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
      bubble.replaceChildren();
      if (m.role === "user") {
        if (m.selected) {
          const shown = m.selected.length > 280 ? `${m.selected.slice(0, 280)}…` : m.selected;
          bubble.append(h("blockquote", { class: "quoted", dir: "auto", text: shown }));
        }
        bubble.append(m.content);
      } else {
        const citations = new Map();
        for (const c of m.citations || []) if (c && !citations.has(c.number)) citations.set(c.number, c);
        // An answer may end with a plain "Sources:" list; the numbered links below replace it.
        const text = citations.size ? m.content.replace(SOURCES_TAIL, "") : m.content;
        if (text) bubble.append(markdown(text, { citations }));
        else if (m.pending) {
          const dots = [h("span"), h("span"), h("span")];
          bubble.append(h("div", { class: "typing", role: "status", "aria-label": "The assistant is typing" }, ...dots));
        }
        if (citations.size || (m.sources && m.sources.length)) bubble.append(this.sourceList(citations, m.sources));
        if (m.answerId && !m.pending && !m.error) bubble.append(feedbackBar(m, () => this.save()));
        if (m.stopped) bubble.append(h("p", { class: "note", text: "Stopped." }));
        if (m.error) bubble.append(h("p", { class: "error", role: "alert", text: m.error }));
      }
      if (atBottom) this.follow(bubble);
    }

    sourceList(citations, sources) {
      const items = citations.size
        ? [...citations.values()].map((c) => {
            const name = [c.title, c.section].filter(Boolean).join(" › ") || String(c.url);
            const a = link(c.url, name, `Source ${c.number}: ${name}`);
            if (c.quote && a instanceof Element) a.setAttribute("title", plainQuote(c.quote));
            return h("li", { value: Number(c.number) || null }, a);
          })
        : sources.map((url) => h("li", {}, link(url, String(url))));
      return h("div", { class: "sources" }, h("p", { text: "Sources" }), h("ol", { "aria-label": "Sources" }, ...items));
    }

    /* Translation of the current page */

    showChat() {
      this.translation.hidden = true;
      this.log.hidden = false;
      this.form.hidden = false;
      this.selectionBox.hidden = !this.selected;
    }

    async translate() {
      for (const part of [this.log, this.form, this.selectionBox]) part.hidden = true;
      this.translation.hidden = false;
      if (this.translating) return; // shown again, not asked for again
      this.translating = true;
      const back = button("tool", "Back to chat", "Back to chat", () => {
        this.showChat();
        this.input.focus();
      });
      const status = h("p", { class: "note", role: "status", text: `Translating this page into ${LANG_NAME}…` });
      this.translation.replaceChildren(h("div", {}, back), status);
      back.focus();
      try {
        const res = await post("/translate", { page_url: location.href, target_language: LANG });
        const result = await res.json().catch(() => ({}));
        if (result.success === false || typeof result.translation !== "string") {
          throw new Problem(typeof result.error === "string" ? result.error : "The service sent no translation.");
        }
        const rtl = RTL.has(LANG.toLowerCase().split("-")[0]);
        const dir = ["rtl", "ltr"].includes(result.direction) ? result.direction : rtl ? "rtl" : "auto";
        status.replaceWith(h("div", { class: "translated", dir, lang: LANG }, markdown(result.translation)));
      } catch (err) {
        let why = err instanceof Problem ? err.message : "Something went wrong.";
        if (err.status === 503 || err.status === 502) {
          // Unavailable, or the model failed: the reason is for the site's owner.
          console.warn(`bookrag: /translate answered ${err.status}: ${err.message}`);
          why = "translation isn't available right now. Please try again later.";
        } else if (err.status === 404) {
          why = "this page is not one of the book's pages.";
        }
        status.replaceWith(h("p", { class: "error", role: "alert", text: `Couldn't translate this page: ${why}` }));
      } finally {
        this.translating = false;
      }
    }
  }

  customElements.define("bookrag-chat", BookragChat);
  const mount = () => {
    if (!document.querySelector("bookrag-chat")) document.body.append(document.createElement("bookrag-chat"));
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
