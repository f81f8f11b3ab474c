"""`bookrag eval`: score retrieval and answers on a questions file, as tables or JSON.

Registered in `cli` with `app.command("eval")(eval_command)`; the scoring is `metrics`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bookrag.config import load_settings
from bookrag.errors import BookragError, ConfigError
from bookrag.evaluation.comparison import Run, configurations, run_all
from bookrag.evaluation.metrics import METRICS
from bookrag.evaluation.questions import EvalQuestion, InvalidQuestions, load_questions
from bookrag.evaluation.summary import Bars, Summary, by_kind, missed_bars, summarise
from bookrag.index.connection import open_store
from bookrag.providers.wiring import build_providers

_METRIC_LABELS = {
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@10": "R@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
}
_ANSWER_ROWS = (
    ("keyword_coverage", "answer keyword coverage"),
    ("cites_gold", "answer cites a gold page"),
    ("refusal_accuracy", "unanswerable refused"),
    ("false_refusal_rate", "answerable refused (false refusals)"),
)


def eval_command(
    questions: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines, one question a line: id, question, gold (a list of path and "
            "heading; empty when the book cannot answer), keywords, kind.",
            dir_okay=False,
            metavar="QUESTIONS.jsonl",
        ),
    ],
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Run lexical, dense, hybrid and hybrid+rerank side by side; those needing a "
            "model that is not configured are listed as unavailable.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print only JSON, to stdout (progress goes to stderr)."),
    ] = False,
    no_answers: Annotated[
        bool, typer.Option("--no-answers", help="Score retrieval only (fast; no chat model).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=50, help="Pages retrieved per question.")] = 10,
    min_recall: Annotated[
        float | None,
        typer.Option("--min-recall", min=0.0, help="Fail (exit 1) below this page Recall@5."),
    ] = None,
    min_mrr: Annotated[
        float | None,
        typer.Option("--min-mrr", min=0.0, help="Fail (exit 1) below this page MRR@10."),
    ] = None,
    min_keywords: Annotated[
        float | None,
        typer.Option(
            "--min-keywords", min=0.0, help="Fail (exit 1) below this answer keyword coverage."
        ),
    ] = None,
) -> None:
    """Score retrieval and answers on questions whose answers are known.

    Retrieval takes the best section of each of the top --limit pages, as `bookrag search`
    does. A result is a page-level hit when its page is a gold page, and a section-level hit
    when its heading also matches the gold heading (ignoring case and punctuation) or its
    anchor is that heading's slug. Section-level recall is bounded: with one section per
    page, two gold sections of one page cannot both be found. Recall@k is the share of
    questions with a hit in the top k; MRR@10 and nDCG@10 (binary relevance) as usual.

    Answers: the share of keywords each answer contains, whether it cites a gold page,
    refusals of unanswerable questions (empty gold) and false refusals of answerable ones.

    The bars apply to the configured retrieval (the one `bookrag search` uses). Exit code:
    0, 1 when a bar is missed or the index cannot be read, 2 for bad input or settings.
    """
    out, err = Console(), Console(stderr=True)
    try:
        items = load_questions(questions)
        settings = load_settings()
    except (InvalidQuestions, ConfigError) as exc:
        _error(err, exc.message)
        raise typer.Exit(2) from None
    providers = build_providers(settings)
    try:
        store = open_store(settings)
    except BookragError as exc:
        providers.close()
        _error(err, exc.message)
        raise typer.Exit(1) from None
    try:
        _warn_of_unknown_pages(err, items, {str(r["source"]) for r in store.pages()})
        chosen, configured = configurations(store, settings, providers, compare)
        blocked = next((c for c in chosen if c.name == configured and c.unavailable), None)
        if blocked is not None and not compare:
            _error(err, f"{configured} retrieval {blocked.unavailable}")
            raise typer.Exit(1)
        runnable = sum(c.retriever is not None for c in chosen)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task("evaluating", total=len(items) * runnable)
            runs = run_all(
                store,
                providers,
                chosen,
                configured,
                items,
                limit,
                answers=not no_answers,
                on_question=lambda _: progress.advance(task),
            )
    except BookragError as exc:
        _error(err, exc.message)
        raise typer.Exit(1) from None
    finally:
        store.close()
        providers.close()

    in_use = next((r for r in runs if r.configured), None)
    bars = Bars(min_recall, min_mrr, min_keywords)
    missed = _bars(in_use, bars, configured)
    if as_json:
        typer.echo(json.dumps(_document(questions, items, runs, bars, missed)))
    else:
        _render(out, questions, items, runs, in_use)
        for line in missed:
            err.print(f"[red]bar missed:[/red] {escape(line)}", highlight=False)
    raise typer.Exit(1 if missed else 0)


def _warn_of_unknown_pages(err: Console, items: list[EvalQuestion], indexed: set[str]) -> None:
    """Gold pages the index lacks can never be found: a wrong path (not relative to the
    docs folder, or a URL) or another book's index, which would otherwise score as misses."""
    unknown = sorted({page for q in items for page in q.gold_pages} - indexed)
    if unknown:
        shown = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        err.print(
            f"[yellow]warning:[/yellow] {len(unknown)} gold page(s) not in the index: "
            f"{escape(shown)} (paths are relative to the docs folder)",
            highlight=False,
        )


def _error(console: Console, message: str) -> None:
    for line in message.splitlines():
        console.print(f"[red]error:[/red] {escape(line)}", highlight=False)


def _bars(main: Run | None, bars: Bars, configured: str) -> list[str]:
    if not bars:
        return []
    if main is None:
        return [f"the configured retrieval ({configured}) could not run"]
    return missed_bars(summarise(main.results), bars)


def _document(
    path: Path, items: list[EvalQuestion], runs: list[Run], bars: Bars, missed: list[str]
) -> dict[str, Any]:
    return {
        "questions_file": str(path),
        "questions": len(items),
        "answerable": sum(q.answerable for q in items),
        "configurations": [r.to_json() for r in runs],
        "bars": {
            "min_recall": bars.recall,
            "min_mrr": bars.mrr,
            "min_keywords": bars.keywords,
            "missed": missed,
        },
    }


# -- tables --------------------------------------------------------------------------------


def _render(
    out: Console, path: Path, items: list[EvalQuestion], runs: list[Run], main: Run | None
) -> None:
    ran = [r for r in runs if r.unavailable is None]
    summaries = {r.name: summarise(r.results) for r in ran}
    answerable = sum(q.answerable for q in items)
    title = f"{path.name}: {len(items)} questions, {answerable} answerable"
    overall = Table(title=title, title_justify="left")
    overall.add_column("metric")
    for r in ran:
        overall.add_column(r.name + (" (configured)" if r.configured else ""), justify="right")
    for level in ("page", "section"):
        for name in METRICS:
            cells = [_fmt(_level(summaries[r.name], level).get(name)) for r in ran]
            overall.add_row(f"{level} {_METRIC_LABELS[name]}", *cells)
    if any(s.answers for s in summaries.values()):
        overall.add_section()
        for key, label in _ANSWER_ROWS:
            cells = [_fmt((summaries[r.name].answers or {}).get(key)) for r in ran]
            overall.add_row(label, *cells)
    out.print(overall)
    for r in runs:
        if r.unavailable is not None:
            out.print(f"{r.name}: unavailable, {r.unavailable}", highlight=False)
        elif summaries[r.name].degraded:
            count = summaries[r.name].degraded
            out.print(
                f"{r.name}: a model call failed on {count} questions, which fell back "
                "(lexical retrieval or the fused order)",
                highlight=False,
            )
    if main is None:
        return
    out.print(_kinds_table(main))
    if any(r.misses() for r in main.results):
        out.print(_misses_table(main))
    else:
        out.print(f"no misses ({main.name})")


def _kinds_table(run: Run) -> Table:
    table = Table(
        title=f"by kind ({run.name})",
        title_justify="left",
        caption="R@k, MRR@10: page level; refused: share of unanswerable questions refused",
        caption_justify="left",
    )
    table.add_column("kind", overflow="fold")
    table.add_column("n", justify="right")
    for column in ("R@1", "R@5", "MRR@10", "sec. R@5", "keywords", "refused"):
        table.add_column(column, justify="right", min_width=5)
    for kind, s in by_kind(run.results).items():
        page, answers = s.page or {}, s.answers or {}
        table.add_row(
            kind,
            str(s.questions),
            *(_fmt(page.get(m)) for m in ("recall@1", "recall@5", "mrr@10")),
            _fmt((s.section or {}).get("recall@5")),
            *(_fmt(answers.get(m)) for m in ("keyword_coverage", "refusal_accuracy")),
        )
    return table


def _misses_table(run: Run) -> Table:
    misses = [r for r in run.results if r.misses()]
    title = f"misses ({run.name}): {len(misses)} of {len(run.results)} questions"
    table = Table(title=title, title_justify="left", show_lines=True)
    for column in ("id", "question", "expected", "came first", "why"):
        table.add_column(column, overflow="fold")
    for r in misses:
        expected = [f"{g.path} › {g.heading}" if g.heading else g.path for g in r.question.gold]
        top = r.passages[0] if r.passages else None
        table.add_row(
            r.question.id,
            r.question.question,
            "\n".join(expected) or "(not in the book)",
            f"{top.source} › {top.heading or top.title}" if top else "(nothing)",
            "; ".join(r.misses()),
        )
    return table


def _level(summary: Summary, level: str) -> dict[str, float]:
    return (summary.page if level == "page" else summary.section) or {}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
