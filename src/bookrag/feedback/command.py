"""`bookrag report`: the gap report in the terminal (or as JSON), from the same answer log
and the same function as `GET /admin/report`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from bookrag.answering.pipeline import Book
from bookrag.answering.retrieval import Retriever
from bookrag.config import Settings, load_settings
from bookrag.errors import BookragError, ConfigError
from bookrag.feedback.database import database_url, migrate, open_engine
from bookrag.feedback.records import visible
from bookrag.feedback.report import (
    GapReport,
    Rated,
    closest_page,
    gap_report,
    lacking_terms,
    parse_period,
)
from bookrag.index.connection import open_store
from bookrag.providers.wiring import build_providers

_BAR = 40  # characters of the widest bar in the per-day chart


def report_command(
    since: Annotated[
        str, typer.Option(help="How far back: e.g. 24h, 7d, 4w (answers are kept 30 days).")
    ] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    top: Annotated[int, typer.Option(min=1, max=500, help="Rows per list.")] = 20,
) -> None:
    """Where the book fails its readers: unanswered questions grouped by wording (with the
    closest page the book has), answers marked unhelpful, most cited pages, questions per
    day, refusal and feedback rates."""
    out, err = Console(), Console(stderr=True)
    try:
        settings = load_settings()
        period = parse_period(since)
    except ConfigError as exc:
        _error(err, exc.message)
        raise typer.Exit(2) from None
    except ValueError as exc:
        _error(err, f"--since: {exc}")
        raise typer.Exit(2) from None
    if not settings.feedback:
        _error(err, "the answer log is off (BOOKRAG_FEEDBACK=false): there is nothing to report")
        raise typer.Exit(1)
    if settings.database_url is None and not settings.database_path.is_file():
        # Most likely the wrong data folder: an empty log created here would say nothing.
        _error(err, f"no answer log at {settings.database_path}: is BOOKRAG_DATA_DIR the server's?")
        raise typer.Exit(1)
    engine = open_engine(database_url(settings))
    try:
        migrate(engine)  # a log written by an older bookrag is brought up to date
        with _book_retriever(settings, err) as retriever:
            kept = timedelta(days=settings.retention_days)
            report = gap_report(
                engine,
                period,
                partial(closest_page, retriever) if retriever else None,
                top=top,
                kept=kept,
                lacking=partial(lacking_terms, retriever) if retriever else None,
            )
    except SQLAlchemyError as exc:
        _error(err, f"cannot read the answer log: {type(exc).__name__}")
        raise typer.Exit(1) from None
    except OSError as exc:  # e.g. a data folder this user may not write the lock file in
        _error(err, f"cannot read the answer log: {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if as_json:
        # ASCII: a reader's control characters are escaped, never sent to the terminal.
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        print_report(out, report)


@contextmanager
def _book_retriever(settings: Settings, err: Console) -> Iterator[Retriever | None]:
    """The book's search, which finds the pages nearest gaps and the words the book lacks,
    when the index can be opened (a running server holds the embedded one: the report then
    goes without links). A data folder without an embedded index (a log copied to be read
    elsewhere) is left as it is: none is created in it."""
    if settings.embedded and not settings.index_path.exists():
        err.print(f"note: no links to pages (no index at {settings.index_path})", highlight=False)
        yield None
        return
    providers = build_providers(settings)
    try:
        store = open_store(settings)
    except BookragError as exc:
        err.print(f"note: no links to pages ({escape(exc.message)})", highlight=False)
        providers.close()
        yield None
        return
    try:
        yield Book.open(store, settings, providers).retriever
    finally:
        store.close()
        providers.close()


def print_report(out: Console, report: GapReport) -> None:
    """The report as tables, with questions per day as a bar chart."""
    out.print(
        f"[bold]{report.since:%Y-%m-%d %H:%M} – {report.until:%Y-%m-%d %H:%M} UTC[/bold]: "
        f"{report.answers} questions, {report.refusals} not answered "
        f"({report.refusal_rate:.1%}), {report.rated} answers rated ({report.feedback_rate:.1%}), "
        + (
            "no verdicts yet"
            if report.helpful_rate is None
            else f"{report.helpful_rate:.1%} of verdicts helpful"
        ),
        highlight=False,
    )
    peak = max((d.answers for d in report.days), default=0) or 1
    chart = Table(title="questions per day (█ answered, ▒ not answered)", show_header=False)
    for day in report.days[-31:]:
        answered = round((day.answers - day.refusals) / peak * _BAR)
        refused = round(day.refusals / peak * _BAR)
        chart.add_row(day.day.isoformat(), "█" * answered + "▒" * refused, str(day.answers))
    out.print(chart)
    gaps = Table(title="questions the book could not answer")
    gaps.add_column("asked", justify="right")
    for column in ("question", "terms", "closest page"):
        gaps.add_column(column, overflow="fold")
    for gap in report.gaps:
        page = f"{gap.closest.title}\n{gap.closest.url}" if gap.closest else "–"
        asked = "\n".join([gap.example, *(f"  also: {w}" for w in gap.also)])
        if gap.asked_from and not gap.terms:  # no words: the page says what it was about
            asked += f"\n  asked on: {gap.asked_from}"
        terms = "" if gap.terms == gap.example else gap.terms  # no text kept: said once
        gaps.add_row(str(gap.count), _shown(asked), _shown(terms), _shown(page))
    out.print(gaps)
    grouped = Table(title="answers marked unhelpful, by question")
    grouped.add_column("times", justify="right")
    for column in ("question", "readers said"):
        grouped.add_column(column, overflow="fold")
    for group in report.unhelpful_groups:
        asked = "\n".join([group.example, *(f"  also: {w}" for w in group.also)])
        grouped.add_row(str(group.count), _shown(asked), _shown("\n".join(group.comments)))
    out.print(grouped)
    out.print(_rated("latest answers marked unhelpful", report.unhelpful))
    out.print(_rated("comments on answers marked helpful", report.helpful_comments))
    for title, rows in (
        ("most cited pages", report.cited_pages),
        ("pages readers asked from", report.asked_from),
    ):
        pages = Table(title=title)
        pages.add_column("times", justify="right")
        pages.add_column("page", overflow="fold")
        for url, count in rows:
            pages.add_row(str(count), _shown(url))
        out.print(pages)


def _rated(title: str, items: list[Rated]) -> Table:
    table = Table(title=title)
    for column in ("when", "question", "comment", "cited"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            f"{item.when:%Y-%m-%d %H:%M}",
            _shown(item.question),
            _shown(item.comment or ""),
            _shown("\n".join(item.sources[:3]) or item.mode),
        )
    return table


def _shown(text: str) -> str:
    """Readers' words made safe for a terminal: no Rich markup, and no control character
    (an escape sequence in a comment could clear the screen or retitle the window)."""
    return escape(visible(text))


def _error(err: Console, message: str) -> None:
    for line in message.splitlines():
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
