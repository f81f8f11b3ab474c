"""Translate every page of the three corpus books and check each keeps its structure.

    .venv/bin/python scripts/check_translation_structure.py [--book NAME ...] [--corpus DIR]

For each book in ../shared/corpus, the docs are indexed (lexical) into a temporary data
dir, and every page is translated by `Translator` as `/translate` does, with the official
Cohere SDK talking to the fake Cohere server of the tests, whose "translation" is its user
message in capitals (placeholders kept). A page passes when its translation has the same
fenced code blocks (info string and code, byte for byte, in order) and the same headings
(levels, in order) as its source file, front matter aside. Prints one line per book and the
pages that fail; exits 1 if any does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Cohere server lives with the tests

from bookrag.answering.pipeline import Book  # noqa: E402
from bookrag.config import load_settings  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402
from bookrag.providers.wiring import build_providers  # noqa: E402
from bookrag.translation.translator import Translator  # noqa: E402
from fakes import FakeCohere  # noqa: E402
from fakes.cohere import Reply  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BOOKS = {
    "humanoid-textbook": "my-website/docs",
    "robotics-course": "website/docs",
    "agent-factory": "apps/learn-app/docs",
}
PROVIDER_ENV = ("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_", "COLLECTION_NAME")
MARKDOWN = MarkdownIt("commonmark", {"html": True}).use(front_matter_plugin)


class CapitalsCohere(FakeCohere):
    """Answers a chat without documents with the user's message in capitals."""

    def _reply(self, body: dict[str, Any]) -> Reply:
        if body.get("documents"):
            return super()._reply(body)
        return Reply(str(body["messages"][-1]["content"]).upper())


def structure(markdown: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The fenced code blocks (info, code) and heading tags of a Markdown text, in order."""
    tokens = MARKDOWN.parse(markdown)
    fences = [(t.info, t.content) for t in tokens if t.type == "fence"]
    headings = [t.tag for t in tokens if t.type == "heading_open"]
    return fences, headings


async def check_book(
    corpus: Path, name: str, fake: CapitalsCohere, work: Path
) -> tuple[int, int, int, int]:
    """Pages checked, pages that failed, fenced blocks and headings seen in the sources."""
    docs = corpus / name / BOOKS[name]
    settings = load_settings(
        data_dir=work / name,
        cohere_api_key=fake.api_key,
        cohere_base_url=fake.url,
        upstream_timeout=30.0,
        translation_budget=0,
    )
    providers = build_providers(settings)
    store = open_store(settings)
    checked = failed = fence_count = heading_count = 0
    try:
        started = time.perf_counter()
        ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
        translator = Translator.open(Book.open(store, settings, providers), settings)
        for page in store.pages():
            source = str(page["source"])
            want = structure((docs / source).read_text(encoding="utf-8"))
            result = await translator.translate(source, "ur")
            got = structure(result.translation)
            checked += 1
            fence_count += len(want[0])
            heading_count += len(want[1])
            if got != want:
                failed += 1
                print(
                    f"  FAIL {name}/{source}: {len(got[0])} fenced blocks / {len(got[1])} "
                    f"headings, source {len(want[0])} / {len(want[1])}"
                )
        await translator.aclose()
        seconds = time.perf_counter() - started
    finally:
        store.close()
        await providers.aclose()
    print(
        f"{name}: {checked} pages checked, {checked - failed} with the same fenced blocks "
        f"({fence_count}) and headings ({heading_count}) as the source, {failed} not "
        f"({seconds:.0f}s)"
    )
    return checked, failed, fence_count, heading_count


async def run(corpus: Path, books: list[str]) -> int:
    totals = [0, 0, 0, 0]
    with CapitalsCohere() as fake, tempfile.TemporaryDirectory(prefix="check-tr-") as work:
        for name in books:
            for i, value in enumerate(await check_book(corpus, name, fake, Path(work))):
                totals[i] += value
    checked, failed, fence_count, heading_count = totals
    print(
        f"total: {checked} pages checked, {failed} failed; {fence_count} fenced blocks and "
        f"{heading_count} headings kept"
    )
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", action="append", choices=sorted(BOOKS), help="default: all")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"default: {CORPUS}")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}")
        return 2
    for variable in list(os.environ):
        if variable.startswith(PROVIDER_ENV):
            del os.environ[variable]
    return asyncio.run(run(args.corpus, args.book or list(BOOKS)))


if __name__ == "__main__":
    raise SystemExit(main())
