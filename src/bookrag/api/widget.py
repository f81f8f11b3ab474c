"""What a person's browser loads: the chat widget script and the demo page.

`GET /widget.js` is the drop-in `<bookrag-chat>` widget (static/widget.js, no build step).
`GET /demo/{page}` shows one indexed page of the book as an `<article>` whose headings
carry the chunks' anchors, with the widget on it, so `bookrag serve` alone lets a person
try everything. Demo pages live at `/demo` + the page's public URL path (so the
`page_url` the widget sends resolves to the page, as it does on the real site); a page's
source path (`/demo/02-sensors/rain-and-wind.md`) works too.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
import secrets
from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt

from bookrag.answering.pipeline import Book
from bookrag.config import Settings
from bookrag.errors import PageNotFound

STATIC = Path(__file__).resolve().parent / "static"
WIDGET_CACHE_SECONDS = 300  # short, so a redeployed widget reaches readers within minutes
_LIMITS = re.compile(r"const LIMITS = \{[^}]*\};")

router = APIRouter()


def _book(request: Request) -> Book:
    book: Book = request.app.state.book
    return book


BookDep = Annotated[Book, Depends(_book)]


@router.get("/widget.js", include_in_schema=False)
def widget_script(request: Request) -> Response:
    """The chat widget: `<script src=".../widget.js" defer>` adds it to any page. A browser
    that has this version already is told so (304), after `Cache-Control` runs out."""
    settings: Settings = request.app.state.settings
    script, etag = _widget(settings.max_question_chars, settings.max_selected_chars)
    headers = {"Cache-Control": f"public, max-age={WIDGET_CACHE_SECONDS}", "ETag": etag}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` header names `etag` (weakly, as a GET compares them) or is
    `*` (RFC 9110 13.1.2); a substring of one of its tags is no match."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@cache
def _widget(max_question: int, max_selection: int) -> tuple[bytes, str]:
    """The script with this server's limits on a question and a selection written in (so the
    question box holds what the server accepts), and its version: a hash of those bytes."""
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    limits = f"const LIMITS = {{ question: {max_question}, selection: {max_selection} }};"
    script, written = _LIMITS.subn(limits, source, count=1)
    if not written:
        raise RuntimeError("widget.js no longer says `const LIMITS = {...};`")
    body = script.encode("utf-8")
    return body, f'"{hashlib.sha256(body).hexdigest()[:20]}"'


@router.get("/demo", include_in_schema=False)
def demo_home(book: BookDep) -> Response:
    """The demo: the book's first page with the widget on it."""
    pages = book.pages.all()
    if not pages:
        empty = _message("No pages yet", "The index is empty: run `bookrag serve --docs DIR`.")
        return _html(pages, None, empty)
    return RedirectResponse(demo_url(pages[0]), status_code=307)


@router.get("/demo/{page:path}", include_in_schema=False)
def demo_page(page: str, book: BookDep) -> Response:
    """One page of the book, rendered from the index, with the widget on it."""
    if not page.strip("/"):
        return demo_home(book)
    pages = book.pages.all()
    try:
        record: dict[str, Any] | None = book.pages.find(page)
    except PageNotFound:
        record = None
    if record is None:
        shown = page if len(page) <= 200 else page[:200] + "…"  # a URL of any length
        missing = _message("Page not found", f"No indexed page at /demo/{shown}.")
        return _html(pages, None, missing, status=404)
    chunks = book.store.page_chunks(str(record["source"]))
    article = render_article(record, chunks, {str(p["source"]): demo_url(p) for p in pages})
    return _html(pages, record, article)


def demo_url(page: dict[str, Any]) -> str:
    """Where the demo shows `page`: `/demo` + its public URL path (its source for the root)."""
    path = "/" + str(page["url_path"]).strip("/")
    if path == "/":
        path = "/" + str(page["source"])
    return "/demo" + quote(path)


def render_article(
    page: dict[str, Any], chunks: list[dict[str, Any]], links: dict[str, str]
) -> str:
    """A page's chunks as HTML: headings with the chunks' anchors as ids, escaped text."""
    parts = [f"<h1>{html.escape(str(page['title']))}</h1>"]
    shown: list[str] = []
    for chunk in chunks:
        trail = [str(h) for h in chunk.get("headings") or []]
        for depth, heading in enumerate(trail):
            if shown[: depth + 1] == trail[: depth + 1]:
                continue  # still inside this section
            # Only the deepest heading's anchor is stored; the ones above it carry none.
            anchor = str(chunk.get("anchor") or "") if depth == len(trail) - 1 else ""
            level = min(depth + 2, 6)
            id_attr = f' id="{html.escape(anchor)}"' if anchor else ""
            parts.append(f"<h{level}{id_attr}>{html.escape(heading)}</h{level}>")
        shown = trail
        parts.append(_markdown(str(chunk.get("text") or ""), str(page["source"]), links))
    return "\n".join(parts)


@cache
def _parser() -> MarkdownIt:
    # Raw HTML in the book stays text; markdown-it also refuses javascript: and data: links.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _markdown(text: str, source: str, links: dict[str, str]) -> str:
    """Render light Markdown, pointing links to other pages (`./index.md`) at their demo page."""
    md = _parser()
    tokens = md.parse(text)
    for token in tokens:
        for child in token.children or []:
            if child.type != "link_open":
                continue
            href = str(child.attrGet("href") or "")
            target, _, anchor = href.partition("#")
            if target and "://" not in target and target.endswith((".md", ".mdx")):
                linked = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
                if linked in links:
                    child.attrSet("href", links[linked] + (f"#{anchor}" if anchor else ""))
    rendered: str = md.renderer.render(tokens, md.options, {})
    return rendered


@cache
def _template() -> Template:
    return Template((STATIC / "demo.html").read_text(encoding="utf-8"))


def _message(title: str, text: str) -> str:
    return f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"


def _html(
    pages: list[dict[str, Any]], current: dict[str, Any] | None, article: str, status: int = 200
) -> HTMLResponse:
    """A demo page, with a policy that lets only its own two inline scripts (by nonce) and
    this server's scripts run, and no other site frame it."""
    nonce = secrets.token_urlsafe(16)
    policy = "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",  # the page's and the widget's <style>
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }
    body = _render_page(pages, current, article, nonce)
    return HTMLResponse(body, status_code=status, headers=headers)


def _render_page(
    pages: list[dict[str, Any]], current: dict[str, Any] | None, article: str, nonce: str
) -> str:
    nav = "\n".join(
        '<li><a href="{href}"{current}>{title}</a></li>'.format(
            href=html.escape(demo_url(p)),
            current=' aria-current="page"' if current and p["source"] == current["source"] else "",
            title=html.escape(str(p.get("sidebar_label") or p["title"])),
        )
        for p in pages
    )
    # Citations point at the public site; the widget maps those paths to these pages.
    link_map = {"/" + str(p["url_path"]).strip("/"): demo_url(p) for p in pages}
    return _template().substitute(
        title=html.escape(str(current["title"]) if current else "bookrag demo"),
        nav=nav,
        article=article,
        link_map=_script_json(link_map),
        nonce=nonce,
    )


def _script_json(value: object) -> str:
    """JSON safe inside a `<script type="application/json">` element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
