"""Compare a book indexed from its built site (HTML) with the same book indexed from source.

    .venv/bin/python scripts/compare_site_ingest.py                 # the committed fixture
    .venv/bin/python scripts/compare_site_ingest.py --build /tmp/site-build \\
        --docs ../shared/corpus/humanoid-textbook/my-website/docs \\
        --questions ../shared/eval/humanoid-textbook-dev.jsonl

The build is served on 127.0.0.1 as a static host serves it; its sitemap's public URL is
taken from the source's `docusaurus.config`. It prints pages, chunks and anchors of both
ingestions with every difference, the ingest time of the site (cold, then unchanged), and
with `--questions` the retrieval and answer scores of both indexes (gold paths mapped from
source files to URL paths). A benchmark: it prints numbers and checks nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bookrag.answering.pipeline import Book  # noqa: E402
from bookrag.config import load_settings  # noqa: E402
from bookrag.evaluation.metrics import evaluate  # noqa: E402
from bookrag.evaluation.questions import load_questions  # noqa: E402
from bookrag.evaluation.summary import summarise  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402
from bookrag.index.site_ingest import ingest_site  # noqa: E402
from bookrag.index.store import BookStore  # noqa: E402
from fakes.site import FakeSite  # noqa: E402  (the fixture's static host)

_LINK = re.compile(r"\]\([^)]*\)")


def chunks_by_url(store: BookStore) -> dict[str, list[dict[str, Any]]]:
    """Each page's chunks, by the page's URL path."""
    return {
        str(p["url_path"]).rstrip("/"): store.page_chunks(str(p["source"])) for p in store.pages()
    }


def compare(source: BookStore, html: BookStore) -> None:
    a, b = chunks_by_url(source), chunks_by_url(html)
    print(f"pages   source {len(a):4d}   html {len(b):4d}")
    for path in sorted(set(a) - set(b)):
        print(f"  only from source: {path}")
    for path in sorted(set(b) - set(a)):
        print(f"  only from html:   {path}")
    count_a = sum(len(c) for c in a.values())
    count_b = sum(len(c) for c in b.values())
    print(f"chunks  source {count_a:4d}   html {count_b:4d}")
    anchors_a = {c["url"] for cs in a.values() for c in cs}
    anchors_b = {c["url"] for cs in b.values() for c in cs}
    print(f"anchors source {len(anchors_a):4d}   html {len(anchors_b):4d}")
    for url in sorted(anchors_a - anchors_b):
        print(f"  anchor only from source: {url}")
    for url in sorted(anchors_b - anchors_a):
        print(f"  anchor only from html:   {url}")
    links_only = other = 0
    for path in sorted(set(a) & set(b)):
        texts_a = [c["text"] for c in a[path]]
        texts_b = [c["text"] for c in b[path]]
        if len(texts_a) != len(texts_b):
            print(f"  {path}: {len(texts_a)} chunks from source, {len(texts_b)} from html")
        for x, y in zip(texts_a, texts_b, strict=False):
            if x == y:
                continue
            if _LINK.sub("]()", x) == _LINK.sub("]()", y):
                links_only += 1
                continue
            other += 1
            at = next(
                (i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q),
                min(len(x), len(y)),
            )
            print(f"  {path}: text differs at {at}:")
            print(f"    source: {x[max(0, at - 60) : at + 80]!r}")
            print(f"    html:   {y[max(0, at - 60) : at + 80]!r}")
    print(f"chunk texts differing only in link targets: {links_only}; otherwise: {other}")


def gold_as_url_paths(questions: Path, source: BookStore, out: Path) -> Path:
    """The questions with gold `path`s (docs files) mapped to the html index's sources."""
    by_file = {str(p["source"]): str(p["url_path"]).strip("/") for p in source.pages()}
    lines = []
    for line in questions.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        for gold in item.get("gold") or []:
            gold["path"] = by_file.get(gold["path"].lstrip("/"), gold["path"])
        lines.append(json.dumps(item))
    out.write_text("\n".join(lines) + "\n")
    return out


def scores(store: BookStore, questions: Path, work: Path) -> dict[str, Any]:
    settings = load_settings(data_dir=work)
    book = Book.open(store, settings)
    summary = summarise(evaluate(book, load_questions(questions)))
    return summary.to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "tests/fixtures/sample-site")
    parser.add_argument("--docs", type=Path, default=ROOT / "sample-book/docs")
    parser.add_argument("--questions", type=Path)
    args = parser.parse_args()
    site = site_config(args.docs, None, None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        served = FakeSite(args.build, work).start()
        try:
            source = open_store(load_settings(data_dir=work / "source"))
            html = open_store(load_settings(data_dir=work / "html"))
            report = ingest(source, args.docs, site, 350)
            print(f"source ingest: {len(report.indexed)} pages in {report.seconds:.2f}s")
            public = site.url + site.base_url
            for run in ("cold", "unchanged"):
                started = time.perf_counter()
                report = ingest_site(html, served.url, 350, site_url=public)
                took = time.perf_counter() - started
                print(
                    f"html ingest ({run}): {len(report.indexed)} indexed, {report.unchanged} "
                    f"unchanged, {len(report.skipped)} skipped in {took:.2f}s"
                )
                for path, reason in report.skipped:
                    print(f"  skipped /{path}: {reason}")
            compare(source, html)
            if args.questions:
                mapped = gold_as_url_paths(args.questions, source, work / "questions.jsonl")
                for name, store, questions in (
                    ("source", source, args.questions),
                    ("html", html, mapped),
                ):
                    print(f"eval {name}: {json.dumps(scores(store, questions, work / name))}")
            source.close()
            html.close()
        finally:
            served.stop()


if __name__ == "__main__":
    main()
