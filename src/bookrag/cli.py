"""The `bookrag` command: thin wrappers over the same functions the HTTP API calls.

Longer than 300 lines because every command's flags, help and exit codes are declared here,
in one place; what each command does lives in the modules it calls.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bookrag.answering.models import ask_question
from bookrag.answering.pipeline import Book, answer
from bookrag.book.site.crawler import CrawlLimits
from bookrag.book.site.sitemap import ROUTE_KINDS
from bookrag.book.site_config import NO_SITE_ADDRESS, SiteConfig
from bookrag.book.versions import site_docs
from bookrag.config import (
    SITE_ADDRESS_RULE,
    Settings,
    env_variable,
    is_http_url,
    load_settings,
)
from bookrag.deploy import all_passed, check_deploy, render_table
from bookrag.errors import BookragError, ConfigError, StoreUnavailable
from bookrag.evaluation.command import eval_command
from bookrag.feedback.command import report_command
from bookrag.index.connection import open_store
from bookrag.index.ingest import IngestInterrupted, ingest, site_config
from bookrag.index.outcomes import IngestReport
from bookrag.index.site_ingest import ingest_site
from bookrag.index.store import BookStore
from bookrag.providers.wiring import Providers, build_providers
from bookrag.translation.cache import Translation
from bookrag.translation.translator import Translator

app = typer.Typer(
    help="Index a Docusaurus book and answer questions about it, citing its sections.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines():
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _docs_folder(docs: str | Path) -> Path:
    """`docs` as a docs folder, or a one-line error (`Path("")` would be the current one).
    A Docusaurus site's own folder (`sample-book`, holding its config) stands for the docs
    folder it reads (`sample-book/docs`): read as docs, its `docs/` and `src/pages/` were
    pages under the wrong URLs."""
    if not str(docs).strip():
        raise _fail("give the book's docs folder or the URL of its published site", 2)
    problem = "not a folder" if Path(docs).is_file() else "docs folder not found"
    if not Path(docs).is_dir():
        raise _fail(f"{problem}: {docs}")
    within = site_docs(Path(docs))
    if within is None:
        return Path(docs)
    if not within.is_dir():
        raise _fail(
            f"{docs} is a Docusaurus site's folder, and the docs folder its config names "
            f"({within}) is not there: give the book's docs folder"
        )
    err.print(
        f"note: {docs} is the site's folder: reading its docs folder, {within}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    return within


def _settings(**flags: object) -> Settings:
    """Settings from the environment, overridden by the flags given (None: not given)."""
    return _settings_with({k: v for k, v in flags.items() if v is not None})


def _settings_with(overrides: dict[str, object]) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:  # a problem with a flag's value names the flag
        lines = "\n".join(exc.problems)
        for name in overrides:
            flag = "--docs" if name == "docs_dir" else "--" + name.replace("_", "-")
            lines = re.sub(f"^{env_variable(name)}:", f"{flag}:", lines, flags=re.MULTILINE)
        raise _fail(lines, code=2) from None


@contextmanager
def _providers(settings: Settings) -> Iterator[Providers]:
    providers = build_providers(settings)
    try:
        yield providers
    finally:
        providers.close()  # the async clients opened no connection outside `translate`


@contextmanager
def _store(settings: Settings) -> Iterator[BookStore]:
    try:
        store = open_store(settings)
    except BookragError as exc:
        raise _fail(exc.message) from None
    try:
        yield store
    except BookragError as exc:
        raise _fail(exc.message) from None
    finally:
        store.close()


def _book(store: BookStore, settings: Settings, providers: Providers) -> Book:
    """The book to answer from; an index built another way is refused, as `serve` does
    (its vectors would not match the question's)."""
    from bookrag.api.startup import check_index

    check_index(store, providers, create=False)
    return Book.open(store, settings, providers)


@contextmanager
def _terminate_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM (`docker stop`, a cancelled CI job) raised as Ctrl-C's KeyboardInterrupt, so
    an ingest stopped either way commits and counts the pages it wrote; the signals taken
    are listed, and the handler before is put back after."""
    taken: list[int] = []

    def interrupt(number: int, frame: FrameType | None) -> None:
        taken.append(number)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield taken
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(stop: KeyboardInterrupt, taken: list[int]) -> typer.Exit:
    """One line on what an interrupted ingest left, and the shell's exit status for the
    signal (128 + its number: 130 for Ctrl-C, 143 for SIGTERM)."""
    if isinstance(stop, IngestInterrupted):
        pages = f"{stop.written} page{'' if stop.written == 1 else 's'}"
        line = (
            f"interrupted: {pages} of the rebuild written, which the next `bookrag ingest` "
            "goes on from; until then the index is served as it was"
            if stop.rebuilt
            else f"interrupted: {pages} written and counted; run `bookrag ingest` again to finish"
        )
    else:  # before the first page was written, or after the last
        line = "interrupted: run `bookrag ingest` again to finish"
    err.print(line, highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(128 + (taken[0] if taken else signal.SIGINT))


@app.command("ingest")
def ingest_command(
    book: Annotated[
        str, typer.Argument(help="The book's docs folder, or the URL of its published site.")
    ],
    site_url: Annotated[
        str | None,
        typer.Option(
            help="Public site URL for citations (default: docusaurus.config's url, or the "
            "book's URL)."
        ),
    ] = None,
    route_base_path: Annotated[
        str | None, typer.Option(help="Docs route (default: docusaurus.config's, or 'docs').")
    ] = None,
    include_route: Annotated[
        list[str] | None,
        typer.Option(
            help=f"From a site, also index these routes ({', '.join(ROUTE_KINDS)}); repeatable."
        ),
    ] = None,
    lexical: Annotated[
        bool,
        typer.Option(
            "--lexical",
            help="Without COHERE_API_KEY, rebuild an index that holds embeddings as BM25 only "
            "(refused otherwise: servers searching it with a key lose their dense search).",
        ),
    ] = False,
) -> None:
    """Index a book incrementally: new and changed pages written, deleted pages removed."""
    settings = _settings(site_url=site_url, route_base_path=route_base_path)
    is_url = book.startswith(("http://", "https://"))
    if is_url and ("?" in book or "#" in book):  # else dropped, and another page read
        raise _fail(f"BOOK: {SITE_ADDRESS_RULE}", 2)
    unknown = sorted(set(include_route or ()) - set(ROUTE_KINDS))
    if unknown:
        kinds = ", ".join(ROUTE_KINDS)
        raise _fail(f"--include-route: unknown route kind {unknown[0]} (one of {kinds})", 2)
    docs_dir = Path(book) if is_url else _docs_folder(book)
    site = None if is_url else site_config(docs_dir, settings.site_url, settings.route_base_path)
    with _terminate_as_interrupt() as taken:
        try:
            report = _ingest(book, docs_dir, site, settings, include_route or (), lexical)
        except KeyboardInterrupt as stop:
            raise _interrupted(stop, taken) from None
    _print_report(report)
    if site is not None and not site.url:
        out.print(f"warning: {NO_SITE_ADDRESS}", highlight=False, markup=False, soft_wrap=True)


def _ingest(
    book: str,
    docs_dir: Path,
    site: SiteConfig | None,
    settings: Settings,
    include: Sequence[str],
    lexical: bool,
) -> IngestReport:
    """`bookrag ingest`'s run, with a progress bar."""
    with _providers(settings) as providers, _store(settings) as store:
        current = store.fingerprint()
        if providers.embedder is None and current and current.dense_model and not lexical:
            raise _fail(
                f"the index holds {current.describe()}, and without COHERE_API_KEY this "
                "ingest would rebuild it without them: set COHERE_API_KEY, or pass --lexical",
                1,
            )
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task("indexing", total=None)
            if site is None:
                report = ingest_site(
                    store,
                    book,
                    settings.chunk_tokens,
                    providers.embedder,
                    providers.policy,
                    site_url=settings.site_url,
                    limits=CrawlLimits.of(settings),
                    include=include,
                    on_start=lambda n: progress.update(task, total=n),
                    on_page=lambda _: progress.advance(task),
                )
            else:
                report = ingest(
                    store,
                    docs_dir,
                    site,
                    settings.chunk_tokens,
                    providers.embedder,
                    providers.policy,
                    on_start=lambda n: progress.update(task, total=n),
                    on_page=lambda _: progress.advance(task),
                )
    return report


def _print_report(report: IngestReport) -> None:
    if report.rebuilt:
        out.print(f"note: {report.rebuilt}", highlight=False, markup=False)
    table = Table(title="ingest summary", show_header=False)
    table.add_row("pages indexed", str(len(report.indexed)))
    table.add_row("unchanged", str(report.unchanged))
    table.add_row("removed", str(len(report.removed)))
    table.add_row("skipped", str(len(report.skipped)))
    table.add_row("chunks written", str(report.chunks))
    if report.embedded is not None:
        table.add_row("texts embedded", str(report.embedded))
        table.add_row("vectors reused", str(report.reused))
    table.add_row("seconds", f"{report.seconds:.2f}")
    out.print(table)
    for path, reason in report.skipped:
        out.print(f"skipped {path}: {reason}", highlight=False, markup=False)
    for line in [*report.clash_lines(), *report.warnings]:
        out.print(f"warning: {line}", highlight=False, markup=False)


@app.command()
def serve(
    docs: Annotated[
        Path | None,
        typer.Option(help="Docs folder to index at start-up (or BOOKRAG_DOCS_DIR)."),
    ] = None,
    book_url: Annotated[
        str | None,
        typer.Option(help="Published site to index in the background (or BOOKRAG_BOOK_URL)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 7860,
) -> None:
    """Serve the HTTP API; with --docs the index is brought up to date first, with --book-url
    it is read from the site in the background (and every BOOKRAG_REFRESH_MINUTES)."""
    import uvicorn

    from bookrag.api.app import create_app
    from bookrag.api.observability import log_to_console
    from bookrag.api.startup import check_index

    if docs is not None and book_url is not None:
        raise _fail("give --docs or --book-url, not both", 2)
    # A flag names the book to serve, whichever book the environment names.
    if docs is not None:
        settings = _settings_with({"docs_dir": docs, "book_url": None, "refresh_minutes": 0})
    elif book_url is not None:
        settings = _settings_with({"book_url": book_url, "docs_dir": None})
    else:
        settings = _settings()
    if settings.docs_dir is not None:
        settings = settings.model_copy(update={"docs_dir": _docs_folder(settings.docs_dir)})
    # What would stop start-up, said in one line rather than as uvicorn's traceback: the
    # index held by another process, or built by another embedding model (not with --docs).
    with _providers(settings) as providers, _store(settings) as store:
        if settings.docs_dir is None and settings.book_url is None:
            with suppress(StoreUnavailable):
                check_index(store, providers)
    log_to_console()
    try:
        # The client's address is bookrag's to read (BOOKRAG_TRUSTED_PROXIES): uvicorn's own
        # X-Forwarded-For handling would trust loopback, and any junk it names, first.
        app_ = create_app(settings)
        # uvicorn's own lines go through the handlers `log_to_console` set up (`log_config`
        # None), so they are redacted as bookrag's are.
        uvicorn.run(
            app_,
            host=host,
            port=port,
            log_config=None,
            log_level="info",
            access_log=False,
            proxy_headers=False,
        )
    except BookragError as exc:
        raise _fail(exc.message) from None


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=50, help="How many pages.")] = 5,
) -> None:
    """Show the best section of each best-matching page."""
    settings = _settings()
    if not query.strip() or len(query) > settings.max_question_chars:
        raise _fail(f"QUERY: give 1 to {settings.max_question_chars} characters", 2)
    with _providers(settings) as providers, _store(settings) as store:
        book = _book(store, settings, providers)
        passages = book.retriever.retrieve(query, limit).passages
    if not passages:
        out.print("no matches")
    for rank, p in enumerate(passages, 1):
        out.print(f"[bold]{rank}. {p.breadcrumb}[/bold]  ({p.score:.2f})")
        out.print(f"   {p.url}", highlight=False)
        out.print("   " + " ".join(p.text.split())[:240], highlight=False, markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the book.")],
    selected_text: Annotated[
        str | None, typer.Option("--selected-text", help="A passage the question is about.")
    ] = None,
    page_url: Annotated[
        str | None, typer.Option("--page-url", help="The page the passage is on.")
    ] = None,
) -> None:
    """Answer a question from the book, with its sources."""
    settings = _settings()
    with _providers(settings) as providers, _store(settings) as store:
        book = _book(store, settings, providers)
        result = answer(book, ask_question(question, selected_text, page_url, (), settings))
    out.print(result.answer, highlight=False, markup=False)
    for cited in result.citations:  # what each [n] of the answer is, after a blank line
        gap = "\n" if cited is result.citations[0] else ""
        line = f"{gap}[{cited.number}] {cited.breadcrumb}\n    {cited.url}"
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command("translate")
def translate_command(
    page: Annotated[
        str, typer.Argument(help="The page's URL (any host or locale) or its docs-relative path.")
    ],
    to: Annotated[
        str, typer.Option("--to", help="Language name or ISO code: urdu, ur, es, French, ...")
    ] = "urdu",
) -> None:
    """Print a page translated into another language (cached, as POST /translate is)."""
    settings = _settings()
    with _providers(settings) as providers, _store(settings) as store:
        translator = Translator.open(_book(store, settings, providers), settings)
        result = asyncio.run(_translate(translator, providers, page, to))
    source = "cache" if result.cached else result.model
    err.print(f"{result.path} in {result.target_language} ({source})", highlight=False)
    typer.echo(result.translation)


async def _translate(
    translator: Translator, providers: Providers, page: str, language: str
) -> Translation:
    try:
        return await translator.translate(page, language)
    finally:
        await providers.aclose()  # the async clients belong to this event loop


app.command("eval")(eval_command)
app.command("report")(report_command)


@app.command("check-deploy")
def check_deploy_command(
    url: Annotated[str, typer.Argument(help="The deployment's base URL, e.g. https://x.hf.space")],
    origin: Annotated[
        str | None, typer.Option(help="The book's origin, for the CORS preflight check.")
    ] = None,
    question: Annotated[
        str | None,
        typer.Option(
            help="The question to ask (default: about the title of the book's first page, "
            "from /health); the answer must cite the book."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
) -> None:
    """Check a deployment as the book would use it; exit 0 only if every check passes."""
    for flag, value in (("URL", url), ("--origin", origin)):
        if value is not None and not is_http_url(value):
            raise _fail(f"{flag}: not an http(s) URL: {value}", 2)
    results = check_deploy(url, origin, timeout, question)
    out.print(render_table(results))
    raise typer.Exit(0 if all_passed(results) else 1)


def main() -> None:
    """Entry point of the `bookrag` command."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
