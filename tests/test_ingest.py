"""Incremental ingest: unchanged pages skipped, changed replaced, deleted removed, bad reported."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from bookrag.answering.retrieval import search
from bookrag.book import cjk, folding
from bookrag.book.loader import Page, load_page, read_source
from bookrag.cli import app
from bookrag.config import Settings
from bookrag.errors import DocsNotFound, IndexLocked
from bookrag.index import ingest as ingest_module
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config
from bookrag.index.points import LEGACY_CHUNK_TOKENS
from bookrag.index.store import BookStore


@pytest.fixture
def book(book_copy: Path) -> Path:
    """The docs of a copy of the sample book that a test may edit."""
    return book_copy / "docs"


def run(store: BookStore, docs: Path, settings: Settings) -> Any:
    return ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)


class CountingEngine:
    """Wraps the store's real engine and counts the calls that write."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if name in ("create", "drop", "upsert", "delete", "delete_ids", "optimize"):
            self.writes += 1
        return attr


def test_first_ingest_indexes_every_published_page(
    store: BookStore, book: Path, settings: Settings
) -> None:
    report = run(store, book, settings)
    assert len(report.indexed) == 9
    assert report.skipped == [("02-sensors/unpublished-notes.md", "draft: true")]
    assert report.chunks > 9
    assert store.stats().pages == 9
    assert store.stats().chunks == report.chunks


def test_rerun_on_an_unchanged_book_writes_nothing(
    store: BookStore, book: Path, settings: Settings
) -> None:
    run(store, book, settings)
    counting = CountingEngine(store.engine)
    store.engine = counting
    report = run(store, book, settings)
    assert report.indexed == [] and report.removed == []
    assert report.unchanged == 9
    assert counting.writes == 0


def test_a_new_chunk_size_rechunks_every_page_once(
    store: BookStore, book: Path, settings: Settings
) -> None:
    site = site_config(book, None, None)
    first = ingest(store, book, site, 350)
    smaller = ingest(store, book, site, 64)  # BOOKRAG_CHUNK_TOKENS changed
    assert len(smaller.indexed) == 9 and smaller.unchanged == 0 and smaller.removed == []
    assert smaller.chunks > first.chunks
    assert store.chunk_count() == smaller.chunks  # none of the larger chunks is left
    again = ingest(store, book, site, 64)
    assert again.indexed == [] and again.unchanged == 9


def test_an_index_from_before_the_hash_held_the_chunk_size_is_kept_at_the_old_default(
    store: BookStore, book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_config(book, None, None)
    with monkeypatch.context() as older:  # page records as an older bookrag wrote them
        older.setattr(ingest_module, "stored_hash", lambda content_hash, _size: content_hash)
        ingest(store, book, site, LEGACY_CHUNK_TOKENS)
    assert all("/" not in str(r["page_hash"]) for r in store.pages())
    upgraded = ingest(store, book, site, LEGACY_CHUNK_TOKENS)
    assert upgraded.indexed == [] and upgraded.unchanged == 9  # nothing re-embedded
    assert len(ingest(store, book, site, 64).indexed) == 9


def test_changed_page_is_replaced(store: BookStore, book: Path, settings: Settings) -> None:
    run(store, book, settings)
    page = book / "03-data" / "dashboard.md"
    page.write_text(
        page.read_text().split("##")[0] + "## Colour scheme\n\nThe dashboard is ZANZIBAR-blue.\n"
    )
    report = run(store, book, settings)
    assert report.indexed == ["03-data/dashboard.md"]
    assert report.unchanged == 8
    assert search(store, "ZANZIBAR blue colour", 1)[0].source == "03-data/dashboard.md"
    chunks = store.page_chunks("03-data/dashboard.md")
    assert all("Auto-refresh" not in c["section"] for c in chunks)
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks)))


def test_a_run_that_dies_before_its_commit_leaves_no_stale_chunks_after_a_revert(
    store: BookStore, book: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(store, book, settings)
    page = book / "03-data" / "dashboard.md"
    original = page.read_text()
    page.write_text(original.replace("Flask", "ZANZIBAR"))

    def dies() -> None:
        raise KeyboardInterrupt  # killed after writing the chunks, before their record

    with monkeypatch.context() as patched:
        patched.setattr(store, "commit", dies)
        with pytest.raises(KeyboardInterrupt):
            run(store, book, settings)
    page.write_text(original)  # the edit is undone before the next run
    report = run(store, book, settings)
    assert report.indexed == ["03-data/dashboard.md"]  # not taken for unchanged
    assert not any("ZANZIBAR" in str(c["text"]) for c in store.page_chunks("03-data/dashboard.md"))
    assert search(store, "Flask dashboard", 1)[0].source == "03-data/dashboard.md"


def test_a_partial_is_read_where_a_page_uses_it_and_a_changed_one_redoes_that_page(
    store: BookStore, book: Path, settings: Settings
) -> None:
    # Docusaurus builds `_`-named files into the pages that import them, not as pages.
    (book / "03-data" / "_backup.md").write_text("## Backups\n\nCopy weather.db weekly.\n")
    page = book / "03-data" / "logging.md"
    page.write_text(f"import Backup from './_backup.md';\n\n{page.read_text()}\n<Backup />\n")
    first = run(store, book, settings)
    assert len(first.indexed) == 9
    [hit] = search(store, "copy weather.db weekly", 1)
    assert (hit.source, hit.heading) == ("03-data/logging.md", "Backups")
    (book / "03-data" / "_backup.md").write_text("## Backups\n\nCopy weather.db nightly.\n")
    again = run(store, book, settings)
    assert again.indexed == ["03-data/logging.md"] and again.unchanged == 8
    assert "nightly" in search(store, "copy weather.db nightly", 1)[0].text


@pytest.mark.parametrize(
    "partial",
    [
        "import Self from './_self.md';\n\nAgain and again.\n\n<Self />\n",  # uses itself
        None,  # missing
    ],
)
def test_a_partial_that_is_missing_or_uses_itself_is_no_error(
    store: BookStore, book: Path, settings: Settings, partial: str | None
) -> None:
    if partial is not None:
        (book / "_self.md").write_text(partial)
    (book / "loop.md").write_text("import Self from './_self.md';\n\n# Loop\n\n<Self />\n")
    report = run(store, book, settings)
    assert "loop.md" in report.indexed
    text = " ".join(c["text"] for c in store.page_chunks("loop.md"))
    assert text.count("Again and again.") == (0 if partial is None else 1)


def test_a_partial_is_read_from_the_site_folder_and_never_from_outside_it(
    store: BookStore, book: Path, settings: Settings
) -> None:
    (book.parent / "src" / "_shared.md").write_text("Shared by every chapter.\n")
    (book.parent.parent / "outside.md").write_text("Not the book's to show.\n")
    (book / "uses.mdx").write_text(
        "import Shared from '@site/src/_shared.md';\n"
        "import Outside from '../../outside.md';\n\n# Uses\n\n<Shared />\n\n<Outside />\n"
    )
    run(store, book, settings)
    text = " ".join(c["text"] for c in store.page_chunks("uses.mdx"))
    assert "Shared by every chapter." in text and "Not the book's" not in text


def loaded(docs: Path, name: str) -> Page:
    site = site_config(docs, None, None)
    return load_page(read_source(docs, docs / name, site), site)


def test_a_docs_versions_partial_from_the_site_folder_is_read(tmp_path: Path) -> None:
    # `@site/` is the site's folder, two levels up from `versioned_docs/version-1.0`.
    site = tmp_path / "site"
    (site / "src").mkdir(parents=True)
    (site / "src" / "_shared.md").write_text("Shared by every version.\n")
    docs = site / "versioned_docs" / "version-1.0"
    docs.mkdir(parents=True)
    (docs / "uses.mdx").write_text("import Shared from '@site/src/_shared.md';\n\n<Shared />\n")
    page = loaded(docs, "uses.mdx")
    assert [b.text for s in page.sections for b in s.blocks] == ["Shared by every version."]


def test_a_page_parsed_as_commonmark_shows_its_import_and_inlines_no_partial(
    tmp_path: Path,
) -> None:
    # With `format: 'detect'` Docusaurus parses a `.md` page as CommonMark: its import line
    # is text and `<Part />` an empty HTML element, so none of the partial is on the page.
    config = tmp_path / "docusaurus.config.js"
    config.write_text(
        "module.exports = {url: 'https://k.example.org', markdown: {format: 'detect'}};\n"
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "_part.mdx").write_text("## Part heading\n\nPart text.\n")
    uses = "import Part from './_part.mdx';\n\n# Uses\n\n## Own {/* #own */}\n\n<Part />\n"
    (docs / "plain.md").write_text(uses)
    (docs / "rich.mdx").write_text(uses)
    plain, rich = loaded(docs, "plain.md"), loaded(docs, "rich.mdx")
    assert [s.anchor for s in plain.sections] == ["", "own--own-"]
    assert plain.sections[0].blocks[0].text == "import Part from './_part.mdx';"
    assert plain.title == "Uses"
    assert [s.anchor for s in rich.sections] == ["own", "part-heading"]
    # With `format: 'md'` every page is CommonMark; a changed format re-reads every page.
    before = read_source(docs, docs / "rich.mdx", site_config(docs, None, None))
    config.write_text("module.exports = {url: 'https://k.example.org', markdown: {format: 'md'}};")
    site = site_config(docs, None, None)
    assert [s.anchor for s in loaded(docs, "rich.mdx").sections] == ["", "own--own-"]
    assert read_source(docs, docs / "rich.mdx", site).content_hash != before.content_hash


def test_a_partial_is_read_as_docusaurus_builds_it_on_its_own(tmp_path: Path) -> None:
    docs = tmp_path / "site" / "docs"
    (docs / "shared").mkdir(parents=True)
    (docs / "guide").mkdir()
    # Its own <h1> is no title of the page, its fence closes with it, and its links lead
    # where they lead from its own folder.
    (docs / "shared" / "_note.mdx").write_text(
        "# Note\n\nSee [the other page](./other.md#top).\n\n```sh\nunclosed\n"
    )
    (docs / "shared" / "_tip.md").write_text("Tip: check the cable.\n")
    (docs / "guide" / "page.mdx").write_text(
        "import Note from '../shared/_note.mdx';\nimport Tip from '../shared/_tip.md';\n\n"
        "## Setup\n\n<Note />\n\n## Setup\n\nAfter the note.\n\n"
        "1. First step:\n\n   <Tip />\n\n2. Second step.\n"
    )
    page = loaded(docs, "guide/page.mdx")
    assert page.title == "page"  # from the file name, as the build titles it
    assert [s.anchor for s in page.sections] == ["setup", "setup-1"]
    first, second = ([b.text for b in s.blocks] for s in page.sections)
    link = "See [the other page](../shared/other.md#top)."
    assert first == ["Note", link, "```sh\nunclosed\n```"]
    # A partial used in a list item is part of that item.
    steps = "1. First step:\n   Tip: check the cable.\n2. Second step."
    assert second == ["After the note.", steps]


def test_deleted_page_is_removed(store: BookStore, book: Path, settings: Settings) -> None:
    run(store, book, settings)
    (book / "03-data" / "troubleshooting.md").unlink()
    report = run(store, book, settings)
    assert report.removed == ["03-data/troubleshooting.md"]
    assert store.page_chunks("03-data/troubleshooting.md") == []
    assert store.stats().pages == 8
    assert all(p.source != "03-data/troubleshooting.md" for p in search(store, "under-voltage", 5))


def test_unreadable_pages_are_reported_and_the_rest_indexed(
    store: BookStore, book: Path, settings: Settings
) -> None:
    (book / "latin1.md").write_bytes("# Caf\xe9\n\nna\xefve text".encode("latin-1"))
    (book / "broken.md").write_text("---\ntitle: [unclosed\n---\n\n# Broken\n")
    report = run(store, book, settings)
    reasons = dict(report.skipped)
    assert "not UTF-8" in reasons["latin1.md"]
    assert "front matter" in reasons["broken.md"]
    assert len(report.indexed) == 9


def test_a_folder_that_cannot_be_listed_keeps_its_pages(
    store: BookStore, book: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A permissions hiccup on a mounted volume must not read as a deleted chapter.
    run(store, book, settings)
    listing = os.scandir
    sensors = book / "02-sensors"

    def scandir(path: Any = ".") -> Any:
        # (pytest removes the test's folder with this still in place, by file descriptor)
        if not isinstance(path, int) and Path(path) == sensors:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = run(store, book, settings)
    assert report.removed == []
    reasons = dict(report.skipped)
    kept = [s for s in reasons if s.startswith("02-sensors/")]
    assert kept and all("02-sensors cannot be listed" in reasons[s] for s in kept)
    assert store.stats().pages == 9
    assert any(p.source.startswith("02-sensors/") for p in search(store, "tipping bucket", 3))


def test_two_pages_with_one_url_are_reported(
    store: BookStore, book: Path, settings: Settings
) -> None:
    (book / "03-data" / "rain-notes.md").write_text(
        "---\nslug: /sensors/rain-wind\n---\n\n# Rain notes\n\nNotes on the gauge.\n"
    )
    report = run(store, book, settings)
    [(url, sources)] = report.clashes
    assert url.endswith("/docs/sensors/rain-wind")
    assert sources == ["02-sensors/rain-and-wind.md", "03-data/rain-notes.md"]
    assert "the site shows one of them" in report.clash_lines()[0]


def test_missing_docs_folder_is_an_error(store: BookStore, tmp_path: Path) -> None:
    with pytest.raises(DocsNotFound):
        ingest(store, tmp_path / "nope", site_config(tmp_path, None, None), 300)


def test_a_folder_with_no_pages_leaves_the_index_as_it_was(
    store: BookStore, book: Path, tmp_path: Path, settings: Settings
) -> None:
    run(store, book, settings)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "notes.txt").write_text("not a page")
    with pytest.raises(DocsNotFound, match="no Markdown pages"):
        run(store, wrong, settings)
    assert store.stats().pages == 9
    assert search(store, "tipping bucket rain", 1)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["ingest", ""], "docs folder or the URL"),
        (["serve", "--port", "99999"], "--port"),
        (["serve", "--port", "0"], "--port"),
    ],
    ids=["empty book", "port too high", "port zero"],
)
def test_cli_refuses_an_empty_book_and_a_port_out_of_range(
    args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # `ingest ""` must not index the current folder
    (tmp_path / "stray.md").write_text("# Stray\n\nA page that is not a book.\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # nothing was opened, let alone indexed


@pytest.mark.parametrize(
    ("name", "said"), [("nope", "docs folder not found"), ("a.md", "not a folder")]
)
def test_cli_ingest_of_a_missing_folder_or_a_file_is_one_line_and_nonzero(
    tmp_path: Path, name: str, said: str
) -> None:
    (tmp_path / "a.md").write_text("# A page, not a folder\n")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / name)])
    assert result.exit_code != 0
    assert said in result.output
    assert "Traceback" not in result.output


def test_cli_ingest_prints_a_summary_and_search_finds_pages(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(book)])
    assert first.exit_code == 0, first.output
    assert "pages indexed" in first.output and "9" in first.output
    assert "unpublished-notes.md: draft: true" in first.output
    found = runner.invoke(app, ["search", "tipping bucket rain"])
    assert found.exit_code == 0
    assert "sensors/rain-wind" in found.output
    asked = runner.invoke(app, ["ask", "What is the BME280 default I2C address?"])
    assert "0x76" in asked.output
    # Each [n] of the answer is listed after it, with the section's link.
    assert "[1]" in asked.output
    assert re.search(r"^\[1\] .+\n    https://\S+#\S+$", asked.output, re.MULTILINE)


@pytest.mark.parametrize(
    ("folder", "url"),
    [
        ("docs", "https://v.example.org/docs/next/motors#stall-current"),
        ("versioned_docs/version-1.0", "https://v.example.org/docs/1.0/motors#stall-current"),
    ],
)
def test_cli_ingest_of_a_versioned_sites_folder_cites_that_version(
    folder: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    for docs in ("docs", "versioned_docs/version-2.0", "versioned_docs/version-1.0"):
        (site / docs).mkdir(parents=True)
        (site / docs / "01-motors.md").write_text(
            "# Motors\n\n## Stall current\n\nA stalled motor draws its stall current.\n"
        )
    (site / "versions.json").write_text('["2.0", "1.0"]')
    (site / "docusaurus.config.js").write_text("module.exports = {url: 'https://v.example.org'};")
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(site / folder)]).exit_code == 0
    found = runner.invoke(app, ["search", "stall current"])
    assert url in found.output


@pytest.mark.parametrize("docs_option", ["", "docs: {path: 'content/docs'}"])
def test_cli_ingest_of_a_sites_own_folder_reads_the_docs_folder_its_config_names(
    docs_option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader pointing at the site (the folder holding its config) rather than its docs
    # folder got the docs and src/pages indexed as pages under /docs/docs/... and no host.
    site = tmp_path / "site"
    docs = site / ("content/docs" if docs_option else "docs")
    docs.mkdir(parents=True)
    (docs / "motors.md").write_text("# Motors\n\n## Stall current\n\nA motor draws it.\n")
    (site / "src" / "pages").mkdir(parents=True)
    (site / "src" / "pages" / "index.md").write_text("# Home\n\nThe site's landing page.\n")
    (site / "docusaurus.config.js").write_text(
        "module.exports = {url: 'https://s.example.org', "
        f"presets: [['classic', {{{docs_option}}}]]}};"
    )
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(site)])
    assert result.exit_code == 0, result.output
    assert f"reading its docs folder, {docs}" in result.output
    assert re.search(r"pages indexed\s*│\s*1\s", result.output)
    found = runner.invoke(app, ["search", "stall current"])
    assert "https://s.example.org/docs/motors#stall-current" in found.output


def test_cli_ingest_of_a_site_without_its_docs_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "docusaurus.config.js").write_text("module.exports = {};")
    (tmp_path / "notes.md").write_text("# Notes\n\nNot the docs.\n")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path)])
    assert result.exit_code == 1
    assert "is a Docusaurus site's folder" in result.output and "Traceback" not in result.output


def test_cli_ingest_of_a_folder_with_no_site_address_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\nA page of a book with no config.\n")
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "docs")])
    assert result.exit_code == 0
    assert "warning: no site address" in result.output
    cited = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "docs"), "--site-url", "https://a.org"]
    )
    assert "no site address" not in cited.output


def test_second_process_on_the_embedded_index_is_told_to_use_a_server(
    settings: Settings,
) -> None:
    first = open_store(settings)
    lock = settings.index_path / "bookrag.lock"
    try:
        with pytest.raises(IndexLocked, match=rf"\(pid {os.getpid()}\).*QDRANT_URL"):
            open_store(settings)
        assert lock.read_text() == str(os.getpid())  # the refused process leaves it as it was
    finally:
        first.close()
    open_store(settings).close()  # free again once the first process is done


def test_site_url_override_changes_urls(store: BookStore, book: Path, settings: Settings) -> None:
    site = site_config(book, "https://books.example.com/weather", "guide")
    ingest(store, book, site, settings.chunk_tokens)
    hit = search(store, "tipping bucket rain", 1)[0]
    assert hit.url.startswith("https://books.example.com/weather/guide/sensors/rain-wind")


@pytest.mark.parametrize(
    ("reading", "text", "search_for"),
    [
        (folding, "The sensor talks I²C at address 0x76.", "I2C address"),
        (cjk, "番茄的根系很深，花盆至少要有三十厘米深。", "花盆多深"),
    ],
    ids=["folding", "cjk"],
)
def test_a_new_reading_reads_again_only_the_pages_it_changes(
    reading: ModuleType,
    text: str,
    search_for: str,
    tmp_path: Path,
    store: BookStore,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pages holding what a reading (Unicode folding, the CJK pairs) reads otherwise carry it
    # in their fingerprint: a new one indexes them again, and leaves the others as they are.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pump.md").write_text("# Pump\n\nThe pump fills the drip line.\n")
    (docs / "held.md").write_text(f"# Held\n\n{text}\n")
    site = site_config(docs, None, None)
    ingest(store, docs, site, settings.chunk_tokens)
    assert search(store, search_for)[0].source == "held.md"
    monkeypatch.setattr(reading, "READING", "next")
    again = ingest(store, docs, site, settings.chunk_tokens)
    assert again.indexed == ["held.md"] and again.unchanged == 1


@pytest.mark.parametrize(
    ("exclude", "pages"),
    [
        ("", ["guide.md", "wip/draft.md", "guide.summary.md"]),
        # A list of its own replaces Docusaurus's: the site builds its `_note.md` as a page.
        ("exclude: ['**/*.summary.md', '**/wip/**'],", ["_note.md", "guide.md"]),
        ("exclude: [...GlobExcludeDefault, '**/*.summary.md'],", ["guide.md", "wip/draft.md"]),
        ("include: ['wip/**/*.md'],", ["wip/draft.md"]),
    ],
)
def test_only_the_files_the_docs_plugin_builds_are_pages(
    exclude: str, pages: list[str], tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    # `exclude` and `include` were not read: pages the site does not publish (a book's
    # unrendered summaries, a work-in-progress folder) were indexed and cited at URLs that 404.
    docs = tmp_path / "docs"
    (docs / "wip").mkdir(parents=True)
    for name in ("guide.md", "guide.summary.md", "wip/draft.md", "_note.md"):
        (docs / name).write_text(f"# {name}\n\nThe text of {name} on the pump.\n")
    (tmp_path / "docusaurus.config.js").write_text(
        f"module.exports = {{presets: [['classic', {{docs: {{{exclude}}}}}]]}};"
    )
    report = ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
    assert sorted(report.indexed) == sorted(pages)
    assert {p.source for p in search(store, "pump", limit=10)} == set(pages)


def test_an_exclude_option_not_written_as_a_literal_is_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docusaurus.config.js").write_text(
        "module.exports = {presets: [['classic', {docs: {exclude: EXCLUDED}}]]};"
    )
    site = site_config(tmp_path / "docs", None, None)
    assert "docs option exclude could not be read" in caplog.text
    assert not site.builds("_partial.mdx") and site.builds("intro.md")


def test_a_missing_partial_is_warned_of_and_its_page_still_indexed(
    store: BookStore, book: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Docusaurus fails the build on it ("Module not found"): the author should hear first.
    (book / "uses.md").write_text(
        "import Inner from './_inner.mdx';\n\n# Uses\n\nThe ZANZIBAR gauge.\n\n<Inner />\n"
    )
    (book / "_latin1.md").write_bytes("Caf\xe9 au lait.\n".encode("latin-1"))
    (book / "odd.md").write_text("import Odd from './_latin1.md';\n\n# Odd\n\n<Odd />\n")
    (book / "_outer.md").write_text("import Gone from './_gone.md';\n\n<Gone />\n")
    (book / "nested.md").write_text("import Outer from './_outer.md';\n\n# Nested\n\n<Outer />\n")
    caplog.set_level("WARNING", logger="bookrag")
    report = run(store, book, settings)
    assert {"uses.md", "odd.md", "nested.md"} <= set(report.indexed)
    assert search(store, "ZANZIBAR gauge", 1)[0].source == "uses.md"
    warned = [r.getMessage() for r in caplog.records if " imports " in r.getMessage()]
    assert warned == [
        "docs/_outer.md (in docs/nested.md) imports ./_gone.md, which does not exist: the page "
        "is indexed without it, and Docusaurus will fail to build the site (Module not found)",
        "docs/odd.md imports ./_latin1.md, which cannot be read (not UTF-8): the page is "
        "indexed without it",
        "docs/uses.md imports ./_inner.mdx, which does not exist: the page is indexed without "
        "it, and Docusaurus will fail to build the site (Module not found)",
    ]
