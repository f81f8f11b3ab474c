"""`bookrag eval`: ranking metrics against hand-computed values, then whole runs over the
sample book (retrieval, answers, refusals), the comparison of retrievals, JSON and the bars."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bookrag.answering.retrieval import Passage
from bookrag.config import Settings, load_settings
from bookrag.evaluation.command import eval_command
from bookrag.evaluation.comparison import configurations, run_all
from bookrag.evaluation.metrics import (
    QuestionResult,
    keyword_coverage,
    ndcg_at,
    page_hits,
    recall_at,
    reciprocal_rank,
    section_hits,
    section_matches,
)
from bookrag.evaluation.questions import EvalQuestion, Gold, InvalidQuestions, load_questions
from bookrag.evaluation.summary import summarise
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config
from bookrag.index.store import BookStore
from bookrag.providers.wiring import build_providers
from fakes import FakeCohere

SITE = "https://pocket-weather.example.org/docs"
QUESTIONS = [
    {
        "id": "rain",
        "question": "How much rain does one tip of the bucket measure?",
        "gold": [{"path": "02-sensors/rain-and-wind.md", "heading": "Rain gauge"}],
        "keywords": ["0.2794 mm"],
        "kind": "factual",
    },
    {
        "id": "address",
        "question": "What is the BME280's default I2C address?",
        "gold": [{"path": "02-sensors/01-wiring/01-i2c-bus.md", "heading": "Choosing the address"}],
        "keywords": ["0x76"],
        "kind": "factual",
    },
    {
        "id": "sqlite",
        "question": "Why does the station keep its readings in SQLite?",
        "gold": [{"path": "03-data/logging.md", "heading": "Why SQLite"}],
        "keywords": ["single file", "server"],
        "kind": "conceptual",
    },
    {
        "id": "double-tips",
        "question": "Why does the rain gauge count two tips for every tip?",
        "gold": [
            {
                "path": "03-data/troubleshooting.md",
                "heading": "Why does the rain gauge count two tips for every tip",
            }
        ],
        "keywords": ["bounce_time"],
        "kind": "troubleshooting",
    },
    {
        "id": "mqtt",
        "question": "How do I send readings to Home Assistant over MQTT?",
        "gold": [],
        "keywords": [],
        "kind": "unanswerable",
    },
]


# -- metrics on hand-written rankings --------------------------------------------------------


def test_recall_mrr_and_ndcg_match_hand_computed_values() -> None:
    hits = [False, True, False, True]  # gold items at ranks 2 and 4, two gold items
    assert (recall_at(hits, 1), recall_at(hits, 5), recall_at(hits, 10)) == (0.0, 1.0, 1.0)
    assert reciprocal_rank(hits) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(hits, 2) == pytest.approx(dcg / ideal) == pytest.approx(0.65092, abs=1e-5)


def test_nothing_found_scores_zero_and_a_hit_beyond_k_does_not_count() -> None:
    assert (recall_at([], 1), reciprocal_rank([]), ndcg_at([], 1)) == (0.0, 0.0, 0.0)
    late = [False] * 10 + [True]
    assert (recall_at(late, 10), reciprocal_rank(late, 10), ndcg_at(late, 1, 10)) == (0, 0, 0)


def test_ideal_dcg_is_capped_at_ten_gold_items() -> None:
    assert ndcg_at([True] * 10, relevant=12) == pytest.approx(1.0)
    assert ndcg_at([True], relevant=3) == pytest.approx(1 / (1 + 1 / math.log2(3) + 0.5))


def passage(source: str, section: str = "", anchor: str = "", title: str = "Page") -> Passage:
    url = f"{SITE}/{source.removesuffix('.md')}" + (f"#{anchor}" if anchor else "")
    return Passage(source, url, url.split("#")[0], title, section, "text", 1.0, 1.0)


def test_page_hits_count_each_gold_page_once_and_feed_ndcg() -> None:
    question = EvalQuestion("q", "?", (Gold("b.md", "X"), Gold("c.md", "Y"), Gold("b.md", "Z")))
    ranked = [passage("a.md"), passage("b.md"), passage("c.md"), passage("b.md")]
    hits = page_hits(ranked, question)
    assert hits == [False, True, True, False]
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at(hits, len(question.gold_pages)) == pytest.approx(expected)


def test_summary_averages_over_answerable_questions_only() -> None:
    def result(qid: str, hits: list[bool], gold: tuple[Gold, ...]) -> QuestionResult:
        return QuestionResult(EvalQuestion(qid, "?", gold), [], True, hits, hits)

    summary = summarise(
        [
            result("first", [True, False], (Gold("a.md"),)),
            result("sixth", [False] * 5 + [True], (Gold("a.md"),)),
            result("none", [False], ()),  # unanswerable: no retrieval score
        ]
    )
    assert summary.questions == 3 and summary.answerable == 2
    assert summary.page == pytest.approx(
        {
            "recall@1": 0.5,
            "recall@5": 0.5,
            "recall@10": 1.0,
            "mrr@10": (1 + 1 / 6) / 2,
            "ndcg@10": (1 + 1 / math.log2(7)) / 2,
        }
    )
    assert summary.answers is None


@pytest.mark.parametrize(
    ("found", "gold", "matches"),
    [
        (
            passage("a.md", "Setup › 2. Theory & Real-World"),
            Gold("a.md", "2. theory & real world"),
            True,
        ),
        (passage("a.md", "Setup › Wiring"), Gold("a.md", "Setup"), False),  # the last heading
        (passage("a.md", "Checking the bus", "check-bus"), Gold("a.md", "check-bus"), True),
        (passage("a.md", "Calibration", "calibration-1"), Gold("a.md", "Calibration"), True),
        (passage("a.md", "", "", "Rain and Wind"), Gold("a.md", "Rain and wind"), True),
        (passage("a.md", "Rain gauge"), Gold("b.md", "Rain gauge"), False),
        (passage("a.md", "Anything"), Gold("a.md"), True),  # no heading: any section
    ],
)
def test_section_match_ignores_case_and_punctuation_and_accepts_the_anchor(
    found: Passage, gold: Gold, matches: bool
) -> None:
    assert section_matches(found, gold) is matches


def test_section_hits_find_each_gold_section_once() -> None:
    question = EvalQuestion("q", "?", (Gold("a.md", "Power"), Gold("a.md", "power:")))
    assert section_hits([passage("a.md", "Power"), passage("a.md", "Power")], question) == [
        True,
        False,
    ]


def test_keyword_coverage_is_the_share_found_ignoring_case() -> None:
    assert keyword_coverage("The default address is 0x76.", ["0X76", "SDO pin"]) == 0.5
    assert keyword_coverage("anything", []) is None


def test_a_malformed_questions_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "fine?", "gold": []}\n\n{"gold": []}\n')
    with pytest.raises(Exception, match=r'q\.jsonl line 3: "question" must be'):
        load_questions(path)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"gold": {}}, '"gold" must be a list'),
        ({"gold": ""}, '"gold" must be a list'),
        ({"gold": 0}, '"gold" must be a list'),
        ({"gold": [{"path": " "}]}, '"gold" must be a list'),
        ({"gold": [{"path": "/"}]}, '"gold" must be a list'),
        ({"golds": [{"path": "intro.md"}], "kind": "factual"}, 'must be of kind "unanswerable"'),
    ],
    ids=["object", "empty string", "zero", "blank path", "root path", "misspelled gold"],
)
def test_a_gold_that_is_not_a_list_of_pages_is_refused_not_scored_as_unanswerable(
    tmp_path: Path, fields: dict[str, Any], said: str
) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "How much rain is one tip?", **fields}) + "\n")
    with pytest.raises(InvalidQuestions, match=re.escape(said)):
        load_questions(path)


# -- whole runs over the sample book -----------------------------------------------------------


@pytest.fixture
def questions_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample-questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def test_sample_book_questions_are_found_answered_and_the_unknown_one_refused(
    indexed_store: BookStore, settings: Settings, questions_file: Path
) -> None:
    providers = build_providers(settings)  # no keys: lexical retrieval, extractive answers
    chosen, configured = configurations(indexed_store, settings, providers, compare=False)
    [run] = run_all(indexed_store, providers, chosen, configured, load_questions(questions_file))
    by_id = {r.question.id: r for r in run.results}
    for qid in ("rain", "address", "sqlite", "double-tips"):
        found = by_id[qid]
        assert found.page_rank is not None and found.page_rank <= 3, qid
        assert found.answer is not None and found.answer.cites_gold, qid
        assert not found.answer.refused, qid
    rain = by_id["rain"]
    assert (rain.page_rank, rain.section_rank) == (1, 1)
    assert rain.answer is not None and rain.answer.keyword_coverage == 1.0
    mqtt = by_id["mqtt"]
    assert mqtt.answer is not None and mqtt.answer.refused and mqtt.misses() == []
    summary = summarise(run.results)
    firsts = [r.page_rank == 1 for r in run.results if r.question.answerable]
    assert summary.page is not None and summary.page["recall@5"] == 1.0
    assert summary.page["recall@1"] == sum(firsts) / 4
    assert summary.answers is not None
    assert summary.answers["refusal_accuracy"] == 1.0
    assert summary.answers["false_refusal_rate"] == 0.0
    assert summary.answers["cites_gold"] == 1.0


@pytest.fixture
def data_dir(sample_docs: Path, tmp_path: Path) -> Path:
    """The sample book indexed, with the index closed so the command can open it."""
    settings = load_settings(data_dir=tmp_path / "cli-data")
    store = open_store(settings)
    ingest(store, sample_docs, site_config(sample_docs, None, None), settings.chunk_tokens)
    store.close()
    return settings.data_dir


@pytest.fixture
def run_eval(data_dir: Path) -> Iterator[Any]:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """bookrag, as far as this test needs it."""

    app.command("eval")(eval_command)  # as `cli` registers it
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        env = {"BOOKRAG_DATA_DIR": str(data_dir), "COLUMNS": "200"}  # wide: no folded paths
        return runner.invoke(app, ["eval", *args], env=env)

    yield invoke


def test_json_output_is_only_json_with_every_question(run_eval: Any, questions_file: Path) -> None:
    result = run_eval(str(questions_file), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["questions"] == 5 and doc["answerable"] == 4
    [lexical] = doc["configurations"]
    assert lexical["name"] == "lexical" and lexical["configured"] is True
    assert set(lexical["overall"]["page"]) == {
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr@10",
        "ndcg@10",
    }
    assert set(lexical["by_kind"]) == {"factual", "conceptual", "troubleshooting", "unanswerable"}
    assert lexical["by_kind"]["unanswerable"]["page"] is None
    rain = next(q for q in lexical["questions"] if q["id"] == "rain")
    assert rain["retrieved"][0]["path"] == "02-sensors/rain-and-wind.md"
    assert rain["answer"]["cited_pages"][0] == "02-sensors/rain-and-wind.md"


def test_no_answers_scores_retrieval_only(run_eval: Any, questions_file: Path) -> None:
    result = run_eval(str(questions_file), "--json", "--no-answers", "--limit", "3")
    [lexical] = json.loads(result.stdout)["configurations"]
    assert lexical["overall"]["answers"] is None
    assert all(q["answer"] is None and len(q["retrieved"]) <= 3 for q in lexical["questions"])


def test_compare_without_models_lists_the_others_as_unavailable(
    run_eval: Any, questions_file: Path
) -> None:
    result = run_eval(str(questions_file), "--compare", "--json", "--no-answers")
    configs = json.loads(result.stdout)["configurations"]
    assert [c["name"] for c in configs] == ["lexical", "dense", "hybrid", "hybrid+rerank"]
    assert [c["available"] for c in configs] == [True, False, False, False]
    assert all("COHERE_API_KEY" in c["reason"] for c in configs[1:])

    table = run_eval(str(questions_file), "--compare", "--no-answers")
    assert "lexical (configured)" in table.stdout
    assert "dense: unavailable, needs an embedding model" in table.stdout


def test_gold_pages_missing_from_the_index_are_warned_of(run_eval: Any, tmp_path: Path) -> None:
    path = tmp_path / "urls.jsonl"
    asked = {"id": "u", "question": "How much rain does one tip of the bucket measure?"}
    path.write_text(json.dumps({**asked, "gold": [{"path": "docs/sensors/rain-wind"}]}) + "\n")
    result = run_eval(str(path), "--no-answers", "--json")
    assert "1 gold page(s) not in the index: docs/sensors/rain-wind" in result.stderr
    assert json.loads(result.stdout)["questions"] == 1  # still scored, as a miss


def test_table_shows_the_misses_with_what_came_back(run_eval: Any, tmp_path: Path) -> None:
    path = tmp_path / "wrong.jsonl"
    wrong = {"id": "w", "question": "How much rain does one tip of the bucket measure?"}
    path.write_text(json.dumps({**wrong, "gold": [{"path": "03-data/logging.md"}]}) + "\n")
    result = run_eval(str(path), "--no-answers")
    assert "misses (lexical): 1 of 1" in result.stdout
    assert "02-sensors/rain-and-wind.md › Rain gauge" in result.stdout  # what came first
    assert "03-data/logging.md" in result.stdout  # what was expected


@pytest.mark.parametrize(
    ("bars", "code"),
    [
        (["--min-recall", "1.01"], 1),
        (["--min-mrr", "1.01"], 1),
        (["--min-recall", "0", "--min-mrr", "0"], 0),
        (["--min-keywords", "1.01"], 1),
        (["--min-keywords", "0"], 0),
    ],
)
def test_missing_a_bar_fails_the_run(
    run_eval: Any, questions_file: Path, bars: list[str], code: int
) -> None:
    answers = [] if "--min-keywords" in bars else ["--no-answers"]
    result = run_eval(str(questions_file), *answers, *bars)
    assert result.exit_code == code
    assert ("bar missed" in result.stderr) is bool(code)


def test_a_keyword_bar_without_scored_answers_is_missed_and_says_why(
    run_eval: Any, questions_file: Path
) -> None:
    result = run_eval(str(questions_file), "--no-answers", "--min-keywords", "0")
    assert result.exit_code == 1
    assert "keyword coverage was not measured" in " ".join(result.stderr.split())


def test_a_bad_questions_file_exits_2_naming_the_line(run_eval: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n")
    result = run_eval(str(path))
    assert result.exit_code == 2
    assert "bad.jsonl line 1" in result.stderr


def test_help_says_section_recall_is_bounded_by_one_section_per_page(run_eval: Any) -> None:
    text = " ".join(run_eval("--help").stdout.split())
    assert "one section per page" in text and "--min-recall" in text


# -- comparing retrievals with models ---------------------------------------------------------


def test_compare_runs_lexical_dense_hybrid_and_rerank_with_models(
    tmp_path: Path, sample_docs: Path, questions_file: Path
) -> None:
    with FakeCohere() as fake:
        settings = load_settings(
            data_dir=tmp_path / "cohere-data",
            cohere_api_key="test-key",
            cohere_base_url=fake.url,
            retry_budget=2.0,
        )
        providers = build_providers(settings)
        store = open_store(settings)
        try:
            site = site_config(sample_docs, None, None)
            ingest(store, sample_docs, site, settings.chunk_tokens, providers.embedder)
            chosen, configured = configurations(store, settings, providers, compare=True)
            runs = run_all(
                store, providers, chosen, configured, load_questions(questions_file), answers=False
            )
        finally:
            store.close()
            providers.close()
    assert configured == "hybrid+rerank"
    assert [(r.name, r.unavailable) for r in runs] == [
        ("lexical", None),
        ("dense", None),
        ("hybrid", None),
        ("hybrid+rerank", None),
    ]
    for run in runs:
        rain = next(r for r in run.results if r.question.id == "rain")
        assert rain.page_rank is not None and rain.page_rank <= 5, run.name
    assert [r.configured for r in runs] == [False, False, False, True]
