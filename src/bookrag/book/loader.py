"""Find a Docusaurus book's pages and read each into a `Page` with its URL and sections."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bookrag.book import cjk, folding
from bookrag.book.docusaurus import doc_slug, strip_number_prefix
from bookrag.book.markdown import Section, read_page
from bookrag.book.partials import with_partials
from bookrag.book.site_config import SiteConfig
from bookrag.book.versions import docs_folder
from bookrag.errors import PageParseError

PAGE_SUFFIXES = (".md", ".mdx")
# Bump when parsing, chunking or term extraction changes what a page turns into, so ingest
# redoes every page.
LAYOUT_VERSION = "14"


@dataclass(frozen=True)
class SourceFile:
    """A page file as found on disk, before parsing."""

    source: str  # path relative to the docs folder, with `/` separators
    raw: bytes
    content_hash: str


@dataclass
class Page:
    """A parsed page, with the URL Docusaurus gives it."""

    source: str
    url: str
    title: str
    sidebar_label: str | None
    sections: list[Section]
    content_hash: str
    markdown: str = ""  # the page as written, without front matter and MDX imports
    sidebar_rank: int | None = None  # its place in the book's sidebar, from 0
    # What the source said about this version (a site's lastmod, ETag, Last-Modified), so
    # the next ingest can ask only for what changed; empty for a docs folder.
    validators: dict[str, str] = field(default_factory=dict)
    # For a page read from a site: the pages its sidebar links to, in order (their sources),
    # which the book's sidebar order is merged from (see `book.site.menu`); empty otherwise.
    sidebar_menu: list[str] = field(default_factory=list)


class SkipPage(Exception):
    """A page kept from readers: a draft (not built) or unlisted (built, but linked from
    nowhere and hidden from search engines; citing it would show it)."""


def _is_true(value: object) -> bool:
    """A front matter flag as Docusaurus validates it: `true`, or the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def discover(
    docs_dir: Path,
    unreadable: Callable[[str], None] | None = None,
    site: SiteConfig | None = None,
) -> list[Path]:
    """Every page file Docusaurus would build, in path order: the Markdown files the docs
    plugin's `include` globs match and its `exclude` globs do not (`site`; by default those
    whose name, or a folder's, starts with `_` are partials, not pages), none in a folder
    whose name starts with `.`. A folder that cannot be listed is told to `unreadable` (its
    path in the docs folder): its pages are not gone, only out of reach.
    """
    builds = (site or SiteConfig()).builds

    def cannot_list(error: OSError) -> None:
        if unreadable is not None and error.filename:
            unreadable(Path(error.filename).relative_to(docs_dir).as_posix())

    found = []
    for root, folders, names in os.walk(docs_dir, onerror=cannot_list):
        folders[:] = [f for f in folders if not f.startswith(".")]
        for name in names:
            path = Path(root, name)
            if path.suffix not in PAGE_SUFFIXES:
                continue  # `.MD` is not built
            if builds(path.relative_to(docs_dir).as_posix()) and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(docs_dir).as_posix())


def read_source(docs_dir: Path, path: Path, site: SiteConfig) -> SourceFile:
    """Read a page's bytes, its Markdown partials written out where it uses them, and
    fingerprint them together with the site facts (so a changed partial changes the page).
    A page parsed as CommonMark (`markdown.format`) imports nothing: its `import` is text."""
    raw = path.read_bytes()
    if b"import" in raw:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass  # load_page says so
        else:
            if not site.commonmark(path.name, text):
                raw = with_partials(text, path, docs_folder(docs_dir).site).encode("utf-8")
    digest = hashlib.sha256(raw)
    digest.update(f"\0{site.url}\0{site.base_url}\0{site.route_base_path}".encode())
    if site.markdown_format != "mdx":  # the default leaves the fingerprints of before as they were
        digest.update(f"\0{site.markdown_format}".encode())
    digest.update(f"\0{site.trailing_slash}\0{site.version_path}\0{site.number_prefixes}".encode())
    digest.update(f"\0{LAYOUT_VERSION}".encode())
    digest.update(readings(raw.decode("utf-8", "replace")).encode())
    return SourceFile(path.relative_to(docs_dir).as_posix(), raw, digest.hexdigest())


def readings(text: str) -> str:
    """The readings a page's text depends on, for its fingerprint: the CJK pairs where it
    holds such characters, Unicode folding where it holds compatibility forms. Other pages
    carry neither, so bumping one redoes only the pages it reads otherwise."""
    held = [cjk.READING] if cjk.has_cjk(text) else []
    if folding.folds(text):
        held.append(folding.READING)
    return "".join(f"\0{reading}" for reading in held)


def load_page(file: SourceFile, site: SiteConfig) -> Page:
    """Parse a page; raises `SkipPage` for drafts and `PageParseError` for unreadable files."""
    try:
        text = file.raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageParseError(f"not UTF-8 (byte {exc.start})") from exc
    parsed, markdown = read_page(text, site.commonmark(file.source, text))
    front = parsed.front_matter
    for flag in ("draft", "unlisted"):
        if _is_true(front.get(flag)):
            raise SkipPage(f"{flag}: true")
    # As Docusaurus titles a doc: its front matter title, its `# heading`, else its id (the
    # file name without its number prefix: `02-setup.summary.md` is `setup.summary`).
    title = front.get("title") or parsed.heading_title
    if not title:
        stem = Path(file.source).name.rsplit(".", 1)[0]
        title = front.get("id") or strip_number_prefix(stem, site.number_prefixes)
    label = front.get("sidebar_label")
    return Page(
        source=file.source,
        url=site.page_url(doc_slug(file.source, front, site.number_prefixes)),
        title=str(title).strip(),
        sidebar_label=str(label) if label else None,
        sections=parsed.sections,
        content_hash=file.content_hash,
        markdown=markdown,
    )
