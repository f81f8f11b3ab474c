"""Readers' feedback, the answer log and the gap report, on SQLite always and on PostgreSQL
where `TEST_POSTGRES_URL` names one (`.ci/run` starts Debian's PostgreSQL for it)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from bookrag.answering.models import Answer, Question
from bookrag.api.answer_log import logged
from bookrag.api.app import create_app
from bookrag.cli import app as cli_app
from bookrag.config import load_settings
from bookrag.errors import StoreUnavailable
from bookrag.feedback import database as database_module
from bookrag.feedback import journal as journal_module
from bookrag.feedback import records, redaction
from bookrag.feedback.database import (
    MAX_COMMENT_CHARS,
    answers,
    current_revision,
    database_url,
    feedback,
    meta,
    migrate,
    open_engine,
)
from bookrag.feedback.grouping import Asked, PageLink, group_questions
from bookrag.feedback.journal import FeedbackUnavailable, Journal, UnknownAnswer
from bookrag.feedback.records import CHECK_HEADER, AnswerRecord, Verdict, make_record
from bookrag.feedback.report import gap_report, parse_period
from bookrag.feedback.report_page import render_html

POSTGRES = os.environ.get("TEST_POSTGRES_URL")
RAIN = "How much rain does one tip of the bucket measure?"
SOIL = "How do I measure soil moisture?"


def _reset_postgres(url: str) -> None:
    engine = open_engine(database_url(load_settings(database_url=url)))
    with engine.begin() as connection:
        connection.execute(
            sa.text("DROP TABLE IF EXISTS feedback, answers, meta, alembic_version CASCADE")
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL as `DATABASE_URL` takes it: an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'answers.db'}"
    if not POSTGRES:
        pytest.skip(
            "PostgreSQL tests need TEST_POSTGRES_URL (postgresql://...); .ci/run starts "
            "Debian's postgresql and sets it"
        )
    _reset_postgres(POSTGRES)
    return POSTGRES


def engine_for(url: str) -> sa.Engine:
    return open_engine(database_url(load_settings(database_url=url)))


@contextmanager
def running_journal(url: str, retention_days: int = 30) -> Iterator[Journal]:
    journal = Journal(engine_for(url), CollectorRegistry(), retention_days)
    journal.start()
    try:
        yield journal
    finally:
        journal.close()


def answer_of(mode: str, sources: list[str] | None = None) -> Answer:
    text = "I couldn't find this in the book." if mode == "not_found" else "An answer."
    return Answer(answer=text, sources=sources or [], mode=mode, extractive=mode != "generative")  # type: ignore[arg-type]


def rows(url: str, table: sa.Table) -> list[dict[str, Any]]:
    engine = engine_for(url)
    try:  # disposed even when the table is not there yet (`wait_for_rows` asks again)
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(table))]
    finally:
        engine.dispose()


def api(tmp_path: Path, sample_docs: Path, **settings: Any) -> TestClient:
    return TestClient(
        create_app(load_settings(data_dir=tmp_path / "data", docs_dir=sample_docs, **settings))
    )


def wait_for_rows(url: str, table: sa.Table, count: int) -> list[dict[str, Any]]:
    """The table's rows once there are `count` (the writer thread works behind answers)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            found = rows(url, table)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # not migrated yet
            found = []
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return found


# -- answers carry an id, and readers' verdicts are kept -----------------------------------


def test_chat_and_stream_answers_carry_an_answer_id(client: TestClient) -> None:
    chat = client.post("/chat", json={"question": RAIN}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", chat["answer_id"])
    body = client.post("/stream-chat", json={"question": RAIN}).text
    final = [json.loads(line[6:]) for line in body.split("\n") if line.startswith("data: ")][-1]
    streamed = json.loads(final["response"])
    assert re.fullmatch(r"[0-9a-f]{32}", streamed["answer_id"])
    assert streamed["answer_id"] != chat["answer_id"]
    assert streamed["answer"] == chat["answer"] and streamed["sources"] == chat["sources"]


def test_feedback_is_kept_and_a_second_verdict_from_the_client_replaces_the_first(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    with api(tmp_path, sample_docs, database_url=db_url) as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        first = client.post("/feedback", json={"answer_id": answer_id, "helpful": True})
        assert first.status_code == 200
        assert first.json() == {"success": True, "answer_id": answer_id, "helpful": True}
        second = client.post(
            "/feedback",
            json={"answer_id": answer_id, "helpful": False, "comment": "  Wrong units.  "},
        )
        assert second.status_code == 200
    verdicts = rows(db_url, feedback)
    assert len(verdicts) == 1
    assert verdicts[0]["helpful"] is False and verdicts[0]["comment"] == "Wrong units."


def test_the_same_verdict_sent_again_without_a_comment_keeps_the_comment(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    with api(tmp_path, sample_docs, database_url=db_url) as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]

        def vote(helpful: bool, comment: str | None = None) -> tuple[bool, str | None]:
            body = {"answer_id": answer_id, "helpful": helpful, "comment": comment}
            assert client.post("/feedback", json=body).status_code == 200
            (verdict,) = rows(db_url, feedback)
            return verdict["helpful"], verdict["comment"]

        said = "Say how often it is emptied."
        assert vote(False, said) == (False, said)
        assert vote(False) == (False, said)  # 👎 clicked again
        assert vote(False, "  ") == (False, said)
        assert vote(False, "Also the units.") == (False, "Also the units.")
        assert vote(True) == (True, None)  # a changed verdict is a new judgement
        assert vote(False) == (False, None)


def test_one_ipv6_network_gives_one_verdict_as_it_is_one_client_to_the_limits(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    # One /64 holds any number of addresses: voting from each must not count as many readers.
    with api(tmp_path, sample_docs, database_url=db_url, trusted_proxies="*") as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        for address in ("2001:db8::1", "2001:db8::2", "2001:db8::ffff", "2001:db8:0:1::1"):
            sent = client.post(
                "/feedback",
                json={"answer_id": answer_id, "helpful": address.endswith("1")},
                headers={"X-Forwarded-For": address},
            )
            assert sent.status_code == 200
    verdicts = rows(db_url, feedback)
    assert len(verdicts) == 2  # one per /64: 2001:db8:0:0::/64 and 2001:db8:0:1::/64


def test_a_nul_character_is_dropped_not_fatal_on_either_database(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    # PostgreSQL's text columns refuse U+0000: the answer and the verdict must still be kept.
    with api(tmp_path, sample_docs, database_url=db_url, log_questions=True) as client:
        asked = {"question": "rain\x00 gauge", "selected_text": "one tip\x00 of the bucket"}
        answer_id = client.post("/chat", json=asked).json()["answer_id"]
        wait_for_rows(db_url, answers, 1)
        given = {"answer_id": answer_id, "helpful": False, "comment": "wrong\x00 units"}
        assert client.post("/feedback", json=given).status_code == 200
    (row,) = rows(db_url, answers)
    assert (row["question"], row["selection"]) == ("rain gauge", "one tip of the bucket")
    assert [v["comment"] for v in rows(db_url, feedback)] == ["wrong units"]


def test_a_lone_surrogate_is_kept_as_a_replacement_character_on_either_database(
    db_url: str,
) -> None:
    # JSON can carry "\ud800"; UTF-8 cannot, so neither database would take it as it is.
    with running_journal(db_url) as journal:
        question = Question("rain\ud800 gauge", selected_text="one tip\udfff of the bucket")
        journal.record(make_record(question, answer_of("extractive"), 1.0, keep_text=True))
        wait_for_rows(db_url, answers, 1)
    (row,) = rows(db_url, answers)
    assert row["question"] == "rain\ufffd gauge"
    assert row["selection"] == "one tip\ufffd of the bucket"


def test_an_unexpected_failure_drops_only_the_rows_at_fault_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'answers.db'}"

    def as_row(record: AnswerRecord) -> dict[str, object]:
        if record.question == "boom":
            raise RuntimeError("a bug in building the row")
        return records.as_row(record)

    monkeypatch.setattr(journal_module, "as_row", as_row)
    registry = CollectorRegistry()
    journal = Journal(engine_for(url), registry, 30)
    for question in ("wind vane", "boom", "anemometer"):  # one batch, written at start
        journal.record(make_record(Question(question), answer_of("extractive"), 1.0, True))
    journal.start()
    try:
        wait_for_rows(url, answers, 2)  # the batch's good rows are kept, one by one
        journal.record(make_record(Question("boom"), answer_of("extractive"), 1.0, True))
        journal.record(make_record(Question("rain gauge"), answer_of("extractive"), 1.0, True))
        wait_for_rows(url, answers, 3)  # the writer went on after each failure
    finally:
        journal.close()
    dropped = {"reason": "database_error"}
    assert registry.get_sample_value("bookrag_answer_log_dropped_total", dropped) == 2
    kept = sorted(str(r["question"]) for r in rows(url, answers))
    assert kept == ["anemometer", "rain gauge", "wind vane"]


def test_a_verdict_whose_request_gave_up_waiting_does_not_stop_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'answers.db'}"
    monkeypatch.setattr(journal_module, "FEEDBACK_WAIT", 0.2)
    with running_journal(url) as journal:
        record = make_record(Question(RAIN), answer_of("extractive"), 1.0, keep_text=False)
        journal.record(record)
        wait_for_rows(url, answers, 1)
        write = journal._write

        def busy(batch: list[object]) -> None:  # the writer behind on other work
            time.sleep(0.6)
            write(batch)

        monkeypatch.setattr(journal, "_write", busy)
        with pytest.raises(FeedbackUnavailable, match="did not answer in time"):
            asyncio.run(journal.give_feedback(Verdict(record.id, "203.0.113.7", True, None)))
        time.sleep(0.8)  # the writer reaches the verdict its request gave up on
        monkeypatch.setattr(journal, "_write", write)
        asyncio.run(journal.give_feedback(Verdict(record.id, "198.51.100.2", False, None)))
    assert [v["helpful"] for v in rows(url, feedback)] == [False]  # the first was not kept


def test_each_client_has_its_own_verdict_on_an_answer(db_url: str) -> None:
    with running_journal(db_url) as journal:
        record = make_record(Question(RAIN), answer_of("extractive"), 12.0, keep_text=False)
        journal.record(record)
        for client, helpful in (("203.0.113.7", True), ("198.51.100.2", False)):
            asyncio.run(journal.give_feedback(Verdict(record.id, client, helpful, None)))
    verdicts = rows(db_url, feedback)
    assert sorted(v["helpful"] for v in verdicts) == [False, True]
    stored = json.dumps(verdicts, default=str)
    assert "203.0.113.7" not in stored and "198.51.100.2" not in stored


def test_feedback_waits_briefly_for_an_answer_another_process_is_still_writing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    other = Journal(engine_for(url), CollectorRegistry(), 30)  # a replica's writer, not running
    record = make_record(Question(RAIN), answer_of("extractive"), 1.0, keep_text=False)
    other.record(record)
    with running_journal(url) as journal:

        async def verdict_while_the_other_writes() -> None:
            pending = asyncio.create_task(
                journal.give_feedback(Verdict(record.id, "192.0.2.1", True, None))
            )
            await asyncio.sleep(0.3)
            await asyncio.to_thread(other.start)  # it writes the answer now
            await pending

        asyncio.run(verdict_while_the_other_writes())
    other.close()
    assert [v["answer_id"] for v in rows(url, feedback)] == [record.id]


def test_feedback_on_an_unknown_answer_is_404_in_words_for_a_reader(client: TestClient) -> None:
    for answer_id in ("0" * 32, "not-an-answer-id"):
        response = client.post("/feedback", json={"answer_id": answer_id, "helpful": True})
        assert response.status_code == 404
        assert response.json()["error"] == (
            "This answer can no longer be rated: it is older than 30 days, "
            "or this server did not give it."
        )


def test_a_deployments_smoke_check_is_answered_but_not_logged(
    tmp_path: Path, sample_docs: Path
) -> None:
    with api(tmp_path, sample_docs) as client:
        checked = client.post("/chat", json={"question": RAIN}, headers={CHECK_HEADER: "1"})
        streamed = client.post("/stream-chat", json={"question": RAIN}, headers={CHECK_HEADER: "1"})
        asked = client.post("/chat", json={"question": RAIN}).json()
    assert checked.json()["sources"] and checked.json()["answer_id"] is None
    final = json.loads(streamed.text.strip().split("data: ")[-1])
    assert json.loads(final["response"])["answer_id"] is None
    logged = rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers)  # written at exit
    assert [row["id"] for row in logged] == [asked["answer_id"]]


def test_feedback_turned_off_says_so_rather_than_blame_the_answer(
    tmp_path: Path, sample_docs: Path
) -> None:
    with api(tmp_path, sample_docs, feedback=False, admin_token="tok") as client:
        assert client.post("/chat", json={"question": RAIN}).json()["answer_id"] is None
        response = client.post("/feedback", json={"answer_id": "0" * 32, "helpful": True})
        # A setting, not an outage: a monitor reading 503 would page someone.
        report = client.get("/admin/report", headers={"Authorization": "Bearer tok"})
    assert response.status_code == 404
    assert response.json()["error"] == (
        "feedback is turned off on this server (BOOKRAG_FEEDBACK=false)"
    )
    assert report.status_code == 404
    assert report.json()["error"].startswith("the answer log is off on this server")


def test_feedback_on_an_answer_past_the_retention_period_is_404(db_url: str) -> None:
    with running_journal(db_url, retention_days=7) as journal:
        old = make_record(Question(RAIN), answer_of("extractive"), 5.0, keep_text=False)
        journal.record(replace(old, created_at=datetime.now(UTC) - timedelta(days=8)))
        with pytest.raises(UnknownAnswer):
            asyncio.run(journal.give_feedback(Verdict(old.id, "192.0.2.1", True, None)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answer_id": "a" * 32, "helpful": True, "comment": "x" * 1001}, "comment"),
        ({"answer_id": "a" * 32, "helpful": "yes"}, "helpful"),
        ({"answer_id": "a" * 32}, "helpful"),
        ({"helpful": False}, "answer_id"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field


def test_feedback_is_rate_limited(tmp_path: Path, sample_docs: Path) -> None:
    with api(tmp_path, sample_docs, rate_limit=3) as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        statuses = [
            client.post("/feedback", json={"answer_id": answer_id, "helpful": True}).status_code
            for _ in range(3)
        ]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


# -- what is kept, and for how long ---------------------------------------------------------


def test_question_text_is_kept_only_with_log_questions(tmp_path: Path, sample_docs: Path) -> None:
    page = "https://pocket-weather.example.org/docs/sensors/rain-wind?token=abc#rain-gauge"
    for keep in (False, True):
        data = tmp_path / f"keep-{keep}"
        settings = load_settings(data_dir=data, docs_dir=sample_docs, log_questions=keep)
        with TestClient(create_app(settings)) as client:
            client.post(
                "/chat",
                json={"question": RAIN, "page_url": page, "selected_text": "tip " * 200},
            )
        url = f"sqlite:///{data / 'bookrag.db'}"
        (row,) = wait_for_rows(url, answers, 1)
        assert row["terms"] == "bucket measur much one rain tip"
        assert row["page_url"] == "https://pocket-weather.example.org/docs/sensors/rain-wind"
        assert row["mode"] == "extractive" and row["latency_ms"] > 0
        assert json.loads(row["sources"])[0].endswith("#rain-gauge")
        if keep:
            assert row["question"] == RAIN
            assert len(row["selection"]) == 280
        else:
            assert row["question"] is None and row["selection"] is None
        # Never the client's address (Starlette's test client calls itself "testclient").
        assert "testclient" not in json.dumps(row, default=str)


SECRETS = [
    "alice.smith+books@corp.example",
    "hunter2secret",
    "Passw0rd2024",
    "sk-abcdef1234567890abcdef1234567890",
    "sk-proj-Ab12Cd34Ef56Gh78Ij90",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "AKIAIOSFODNN7EXAMPLE",
    "deadbeefdeadbeefcafe",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "+1 (555) 123-4567",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "03001234567",
]
NAMES = ["ros2", "bme280", "llama3", "gpt-4o", "esp32", "x86_64", "rp2040", "mpu6050"]
NAMES += ["python3.11", "resnet50", "utf-8", "0.2794 mm", "115200 baud", "ROS 2 Humble", "2024"]


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_looking_word_reaches_neither_the_terms_nor_a_comment(secret: str) -> None:
    text = f"How do I reset {secret} tonight?"
    assert records.question_terms(text) == "reset tonight"
    assert redaction.redact(text) == "How do I reset [removed] tonight?"


@pytest.mark.parametrize("name", NAMES)
def test_a_technical_name_with_a_number_is_kept(name: str) -> None:
    text = f"How do I reset {name} tonight?"
    assert redaction.redact(text) == text
    assert set(records.question_terms(name).split()) - {"reset", "tonight"}


def test_a_url_keeps_its_host_but_not_its_user_and_password() -> None:
    text = "Why does https://bob:Tr0ub4dor@mirror.example.org/docs fail?"
    assert redaction.redact(text) == "Why does https://[removed]@mirror.example.org/docs fail?"
    assert records.question_terms(text) == "doc exampl fail https mirror org"


def test_by_default_the_log_keeps_no_email_key_or_number_a_reader_typed(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    question = (
        "my password is hunter2secret and email me at alice@corp.example: "
        "how do I reset the Kubernetes dashboard token?"
    )
    comment = "Wrong. Mail bob@corp.example, token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    with api(tmp_path, sample_docs, database_url=db_url) as client:
        answer_id = client.post("/chat", json={"question": question}).json()["answer_id"]
        body = {"answer_id": answer_id, "helpful": False, "comment": comment}
        assert client.post("/feedback", json=body).status_code == 200
    (row,) = rows(db_url, answers)
    assert row["question"] is None
    assert row["terms"] == "dashboard email kubernet password reset token"
    (verdict,) = rows(db_url, feedback)
    assert verdict["comment"] == "Wrong. Mail [removed], token [removed]"


def test_a_comment_longer_once_redacted_is_kept_cut_to_its_column(
    tmp_path: Path, sample_docs: Path, db_url: str
) -> None:
    comment = " ".join(["a@b.cc"] * 142)  # 993 characters; each address becomes 9
    with api(tmp_path, sample_docs, database_url=db_url) as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        body = {"answer_id": answer_id, "helpful": False, "comment": comment}
        assert client.post("/feedback", json=body).status_code == 200
    (verdict,) = rows(db_url, feedback)
    assert verdict["helpful"] is False and len(verdict["comment"]) == MAX_COMMENT_CHARS
    assert verdict["comment"].startswith("[removed] [removed]") and "@" not in verdict["comment"]


def test_retention_sweep_deletes_old_answers_and_their_feedback(db_url: str) -> None:
    from bookrag.feedback.journal import sweep

    with running_journal(db_url) as journal:  # the writer sweeps once it is up
        old = make_record(Question(RAIN), answer_of("extractive"), 5.0, keep_text=False)
        new = make_record(Question(SOIL), answer_of("not_found"), 5.0, keep_text=False)
        journal.record(replace(old, created_at=datetime.now(UTC) - timedelta(days=40)))
        journal.record(new)
        asyncio.run(journal.give_feedback(Verdict(new.id, "192.0.2.1", False, "missing")))
    assert [r["id"] for r in rows(db_url, answers)] == [new.id]
    engine = engine_for(db_url)
    with engine.begin() as connection:  # the new answer, and its feedback, grow old
        connection.execute(
            answers.update().values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    assert sweep(engine, datetime.now(UTC) - timedelta(days=30)) == 1
    engine.dispose()
    assert rows(db_url, answers) == [] and rows(db_url, feedback) == []


# -- faults -----------------------------------------------------------------------------------


def test_a_database_that_is_down_never_fails_an_answer(tmp_path: Path, sample_docs: Path) -> None:
    nobody = "postgresql://bookrag@127.0.0.1:9/nowhere"  # the discard port: refused at once
    with api(tmp_path, sample_docs, database_url=nobody) as client:
        chat = client.post("/chat", json={"question": RAIN})
        assert chat.status_code == 200 and chat.json()["answer_id"]
        verdict = client.post(
            "/feedback", json={"answer_id": chat.json()["answer_id"], "helpful": True}
        )
        assert verdict.status_code == 503
        assert "127.0.0.1" not in verdict.text
        metrics = client.get("/metrics").text
    dropped = re.search(
        r'bookrag_answer_log_dropped_total\{reason="database_error"\} (\S+)', metrics
    )
    assert dropped and float(dropped.group(1)) >= 1


def test_a_full_queue_drops_the_record_and_counts_it(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    journal = Journal(engine_for(f"sqlite:///{tmp_path / 'a.db'}"), registry, 30, queue_size=2)
    for _ in range(5):  # the writer is not running: nothing drains the queue
        journal.record(make_record(Question(RAIN), answer_of("extractive"), 1.0, False))
    value = registry.get_sample_value("bookrag_answer_log_dropped_total", {"reason": "queue_full"})
    assert value == 3


def full_sqlite(tmp_path: Path) -> sa.Engine:
    """A migrated SQLite log that can grow no further: SQLite's own "database or disk is
    full", as on a full disk (the limit holds for connections made after this)."""
    engine = engine_for(f"sqlite:///{tmp_path / 'full.db'}")
    migrate(engine)
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    engine.dispose()
    sa.event.listen(
        engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages}")
    )
    return engine


def test_a_full_database_drops_records_and_counts_them(tmp_path: Path) -> None:
    engine = full_sqlite(tmp_path)
    registry = CollectorRegistry()
    journal = Journal(engine, registry, 30)
    journal.start()
    for i in range(50):
        question = Question(f"{RAIN} {'and more ' * 150}{i}")
        journal.record(make_record(question, answer_of("extractive"), 1.0, keep_text=True))
    journal.close()
    written = registry.get_sample_value("bookrag_answer_log_written_total")
    dropped = registry.get_sample_value(
        "bookrag_answer_log_dropped_total", {"reason": "database_error"}
    )
    assert written is not None and dropped is not None
    assert dropped >= 40 and written + dropped == 50  # the first few fit in free space
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(answers)) == written
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()


def test_a_verdict_on_an_answer_that_was_not_logged_is_503_not_404(tmp_path: Path) -> None:
    engine = full_sqlite(tmp_path)
    registry = CollectorRegistry()
    journal = Journal(engine, registry, 30)
    journal.start()
    given = [
        make_record(Question(f"{RAIN} {'and more ' * 150}{i}"), answer_of("extractive"), 1.0, True)
        for i in range(20)
    ]
    try:
        for record in given:
            journal.record(record)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            counted = [
                registry.get_sample_value("bookrag_answer_log_written_total") or 0,
                registry.get_sample_value(
                    "bookrag_answer_log_dropped_total", {"reason": "database_error"}
                )
                or 0,
            ]
            if sum(counted) == len(given):
                break
            time.sleep(0.05)
        with engine.connect() as connection:
            kept = set(connection.scalars(sa.select(answers.c.id)))
        lost = next(r.id for r in given if r.id not in kept)
        with pytest.raises(FeedbackUnavailable, match="could not be kept"):
            asyncio.run(journal.give_feedback(Verdict(lost, "192.0.2.1", False, None)))
    finally:
        journal.close()


def test_migrating_twice_changes_nothing(db_url: str) -> None:
    engine = engine_for(db_url)
    assert current_revision(engine) is None
    migrate(engine)
    with engine.begin() as connection:
        salt = connection.scalar(sa.select(meta.c.value))
        connection.execute(answers.insert(), [_row_at(datetime.now(UTC))])
    migrate(engine)
    assert current_revision(engine) == "0001"
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(meta)) == 1
        assert connection.scalar(sa.select(meta.c.value)) == salt
        assert connection.scalar(sa.select(sa.func.count()).select_from(answers)) == 1
    engine.dispose()


def _row_at(when: datetime) -> dict[str, Any]:
    return {
        "id": os.urandom(16).hex(),
        "created_at": when,
        "question": None,
        "terms": "rain",
        "mode": "extractive",
        "degraded": False,
        "sources": "[]",
        "latency_ms": 1.0,
        "page_url": None,
        "selection": None,
    }


def _write_from_a_process(url: str, count: int) -> None:
    with running_journal(url) as journal:
        for i in range(count):
            record = make_record(Question(f"{RAIN} {i}"), answer_of("extractive"), 1.0, False)
            journal.record(record)
            if i % 10 == 0:
                asyncio.run(journal.give_feedback(Verdict(record.id, "192.0.2.1", True, None)))


def test_a_new_sqlite_log_opens_while_another_connection_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Switching a file to WAL needs it to itself: while another process reads it, SQLite
    # says "database is locked". The connection opens anyway (WAL is asked for again by
    # the next one), rather than the log being unavailable.
    monkeypatch.setattr(database_module, "WAL_PATIENCE", 0.2)
    path = tmp_path / "answers.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN")
    other.execute("SELECT * FROM t").fetchall()  # holds a read lock on the file
    engine = open_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
        other.execute("COMMIT")
        with engine.connect() as connection:  # a new connection asks again, and gets it
            pass
        engine.dispose()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
        other.close()


def test_several_processes_writing_to_one_sqlite_file_lose_and_corrupt_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_write_from_a_process, args=(url, 300)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    engine = engine_for(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert connection.scalar(sa.select(sa.func.count()).select_from(answers)) == 1200
        assert connection.scalar(sa.select(sa.func.count()).select_from(feedback)) == 120
    assert current_revision(engine) == "0001"
    engine.dispose()


# -- the gap report ---------------------------------------------------------------------------


def test_report_groups_unanswered_questions_and_counts_rates(db_url: str) -> None:
    now = datetime.now(UTC)
    cited = "https://book.example.org/docs/rain#gauge"
    asked = [
        (SOIL, "not_found", 0),
        ("how to measure the soil moisture", "not_found", 0),
        ("Soil moisture sensor: how do I measure it?", "not_found", 1),
        ("Can I send readings to Home Assistant over MQTT?", "not_found", 2),
        (RAIN, "extractive", 2),
        (RAIN, "extractive", 9),  # outside the 7 days
    ]
    with running_journal(db_url) as journal:
        ids = []
        for text, mode, days_ago in asked:
            record = make_record(Question(text), answer_of(mode, [cited]), 3.0, keep_text=True)
            journal.record(replace(record, created_at=now - timedelta(days=days_ago, minutes=1)))
            ids.append(record.id)
        asyncio.run(
            journal.give_feedback(Verdict(ids[4], "192.0.2.1", False, "Wrong <b>units</b>"))
        )
        asyncio.run(journal.give_feedback(Verdict(ids[0], "192.0.2.1", True, None)))
    looked_up: list[str] = []

    def closest(text: str) -> PageLink:
        looked_up.append(text)
        return PageLink("Sensors", "https://book.example.org/docs/sensors")

    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("7d"), closest, now=now)
    engine.dispose()
    assert (report.answers, report.refusals, report.rated) == (5, 4, 2)
    assert report.refusal_rate == pytest.approx(0.8)
    assert report.feedback_rate == pytest.approx(0.4)
    assert report.helpful_rate == pytest.approx(0.5)
    soil, mqtt = report.gaps
    assert soil.count == 3 and soil.example == SOIL and soil.wordings == 2
    assert mqtt.count == 1 and "MQTT" in mqtt.example
    assert soil.closest == PageLink("Sensors", "https://book.example.org/docs/sensors")
    assert looked_up == [SOIL, mqtt.example]
    (unhelpful,) = report.unhelpful
    assert unhelpful.question == RAIN and unhelpful.comment == "Wrong <b>units</b>"
    assert report.cited_pages == [("https://book.example.org/docs/rain", 5)]
    assert len(report.days) == 8 and sum(d.answers for d in report.days) == 5
    assert report.days[-1].refusals == 2 and report.days[-1].answers == 2


def test_a_question_refused_while_a_provider_failed_is_no_gap(db_url: str) -> None:
    now = datetime.now(UTC)
    failed = answer_of("not_found").model_copy(update={"degraded": True})
    with running_journal(db_url) as journal:
        for question, answered in ((SOIL, answer_of("not_found")), (RAIN, failed)):
            record = make_record(Question(question), answered, 3.0, keep_text=True)
            journal.record(replace(record, created_at=now - timedelta(minutes=1)))
    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("7d"), now=now)
    engine.dispose()
    assert report.refusals == 2  # readers were refused twice ...
    assert [gap.example for gap in report.gaps] == [SOIL]  # ... once for want of the book


def test_gap_groups_fall_back_to_terms_when_question_text_is_not_kept() -> None:
    now = datetime.now(UTC)
    gaps = group_questions(
        [Asked(None, "measur moistur soil", now), Asked(None, "moistur soil", now)]
    )
    assert len(gaps) == 1 and gaps[0].count == 2 and gaps[0].example == "measur moistur soil"


def test_questions_that_differ_in_what_they_ask_about_are_not_one_gap() -> None:
    now = datetime.now(UTC)
    asked = [
        *(Asked(q, t, now) for q, t in [("How do I send data via MQTT?", "data mqtt send")] * 3),
        Asked("How do I send data via Telegram?", "data send telegram", now),
        Asked("How do I send data via Twitter?", "data send twitter", now),
        Asked("How do I send data over MQTT to a server?", "data mqtt send server", now),
        Asked("سورج کیا ہے؟", "سورج کیا ہے", now),
        Asked("چاند کیا ہے؟", "چاند کیا ہے", now),
    ]
    gaps = {g.example: g for g in group_questions(asked)}
    assert gaps["How do I send data via MQTT?"].count == 4  # the same question, reworded
    assert gaps["How do I send data via MQTT?"].also == [
        "How do I send data over MQTT to a server?"
    ]
    for own in ("Telegram", "Twitter"):
        assert gaps[f"How do I send data via {own}?"].count == 1
    assert gaps["سورج کیا ہے؟"].count == gaps["چاند کیا ہے؟"].count == 1


def test_the_same_question_in_another_letter_case_is_one_gap(db_url: str) -> None:
    now = datetime.now(UTC)
    same = [
        ("How to connect the station to LoRaWAN?", "how to connect the station to lorawan?"),
        ("HOW TO CONNECT THE STATION TO LORAWAN?", "How to connect the station to LoRaWAN"),
        ("What is GraphQL?", "what is graphql"),
        ("How do I use OAuth2?", "how do i use oauth 2"),
        ("fine tuning llama3 with lora", "How do I fine-tune Llama 3 with LoRA adapters?"),
        ("ROS2 nodes", "ros 2 nodes"),
    ]
    for one, other in same:
        asked = [Asked(q, records.question_terms(q), now) for q in (one, other)]
        assert [g.count for g in group_questions(asked)] == [2], (one, other)
    # Rows an older bookrag logged with case-split terms regroup when their text was kept.
    with running_journal(db_url) as journal:
        for question, old_terms in [
            ("How to connect the station to LoRaWAN?", "connect lo lorawan ra station wan"),
            ("How to connect the station to LoRaWAN?", "connect lo lorawan ra station wan"),
            ("how to connect the station to lorawan?", "connect lorawan station"),
            ("HOW TO CONNECT THE STATION TO LORAWAN?", "connect lorawan station"),
        ]:
            record = make_record(Question(question), answer_of("not_found"), 1.0, True)
            journal.record(replace(record, terms=old_terms, created_at=now))
    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("1h"), now=now + timedelta(seconds=1))
    engine.dispose()
    assert [(g.count, g.terms) for g in report.gaps] == [(4, "connect lorawan station")]


def test_a_wording_exactly_at_the_threshold_joins_its_group() -> None:
    # "w0 w2 w3" overlaps "w0 w1 w2 w3 w4" by exactly half its weight (log 21 / log 441):
    # rounding must neither drop it from the candidates nor change with the hash seed.
    now = datetime.now(UTC)
    wordings = ["w0 w1 w2 w3 w4"] * 3 + ["w0 w2 w3", "w0", "w0 w1", "w3"]
    gaps = {g.terms: g for g in group_questions([Asked(None, t, now) for t in wordings])}
    assert gaps["w0 w1 w2 w3 w4"].count == 4 and gaps["w0 w1 w2 w3 w4"].wordings == 2


def test_questions_with_no_searchable_word_are_told_apart_by_their_words() -> None:
    now = datetime.now(UTC)
    asked = [Asked(q, "", now) for q in ("What is it?", "what is it", "🌧️🌧️", "Is it?")]
    gaps = {g.example: g.count for g in group_questions(asked)}
    assert gaps == {"What is it?": 2, "🌧️🌧️": 1, "Is it?": 1}
    unkept = group_questions([Asked(None, "", now), Asked(None, "", now)])
    assert [(g.example, g.count) for g in unkept] == [("(no searchable words)", 2)]


def test_a_question_with_no_searchable_word_is_shown_as_asked_and_searched_for_nothing(
    db_url: str,
) -> None:
    now = datetime.now(UTC)
    page = "https://pocket-weather.example.org/docs/sensors/rain-wind"
    xylophone, zebra = "Xylophone quantum basket weaving protocol", "Zebra firmware OTA rollback"
    asked = [
        Question("", xylophone, page),
        Question("", zebra, page),
        Question("?!"),
        Question("?!", zebra, page),
    ]
    with running_journal(db_url) as journal:
        for keep in (True, False):
            for question in asked:
                record = make_record(question, answer_of("not_found"), 1.0, keep_text=keep)
                journal.record(replace(record, created_at=now))
    looked_up: list[str] = []

    def closest(text: str) -> PageLink:
        looked_up.append(text)
        return PageLink("Sensors", "https://book.example.org/docs/sensors")

    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("1h"), closest, now=now + timedelta(seconds=1))
    engine.dispose()
    assert sorted((g.example, g.count, g.asked_from) for g in report.gaps) == [
        ("(no searchable words)", 1, None),  # "?!" asked on no page
        ("(no searchable words)", 3, page),
        (f"(the selection “{xylophone}”)", 1, page),
        (f"(the selection “{zebra}”)", 1, page),
        ("?!", 1, None),
        (f"?! (on the selection “{zebra}”)", 1, page),
    ]
    assert looked_up == [] and all(g.closest is None for g in report.gaps)
    page_html = render_html(report)
    assert f'asked on <a href="{page}">' in page_html


def test_the_report_caps_its_lists_and_its_period_and_says_when_nobody_voted(
    db_url: str,
) -> None:
    now = datetime.now(UTC)
    with running_journal(db_url) as journal:
        for i in range(5):
            record = make_record(Question(f"{RAIN} {i}"), answer_of("extractive"), 1.0, True)
            journal.record(replace(record, created_at=now - timedelta(minutes=5)))
            asyncio.run(journal.give_feedback(Verdict(record.id, "192.0.2.1", False, f"no {i}")))
        ahead = make_record(Question(SOIL), answer_of("not_found"), 1.0, True)
        journal.record(replace(ahead, created_at=now + timedelta(hours=2)))  # a clock ahead
    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("99999w"), now=now, top=2, kept=timedelta(days=30))
    unvoted = gap_report(engine, parse_period("1h"), now=now - timedelta(days=1))
    engine.dispose()
    assert report.since == now - timedelta(days=30) and len(report.days) == 31
    assert report.unhelpful_count == 5 and len(report.unhelpful) == 2
    assert report.answers == sum(d.answers for d in report.days) == 5
    assert unvoted.helpful_rate is None and unvoted.to_json()["helpful_rate"] is None


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "7y", "-1d"])
def test_a_malformed_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_admin_report_is_404_without_a_token_and_401_with_a_wrong_one(
    tmp_path: Path, sample_docs: Path
) -> None:
    with api(tmp_path / "off", sample_docs) as client:
        assert client.get("/admin/report").status_code == 404
    with api(tmp_path / "on", sample_docs, admin_token="right-token") as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "right-token"}):
            response = client.get("/admin/report", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "right-token" not in response.text


def test_admin_report_shows_gaps_with_the_closest_page_escaped(
    tmp_path: Path, sample_docs: Path
) -> None:
    token = {"Authorization": "Bearer right-token"}
    question = "How do I measure soil moisture with a <script>probe</script>?"
    with api(tmp_path, sample_docs, admin_token="right-token", log_questions=True) as client:
        for _ in range(2):
            assert client.post("/chat", json={"question": question}).json()["mode"] == "not_found"
        wait_for_rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers, 2)
        page = client.get("/admin/report?since=24h", headers=token)
        data = client.get("/admin/report?format=json", headers=token).json()
        bad = client.get("/admin/report?since=forever", headers=token)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>probe" not in page.text and "&lt;script&gt;probe" in page.text
    assert "<svg" in page.text
    (gap,) = data["gaps"]
    assert gap["count"] == 2 and gap["example"] == question
    assert gap["closest"]["url"].startswith("https://pocket-weather.example.org/docs/")
    assert data["refusal_rate"] == 1.0
    assert bad.status_code == 422 and "since" in bad.json()["error"]


def test_wordings_of_what_the_book_lacks_are_one_gap_however_else_they_differ(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Apart on all their terms (Jaccard 0.3), one on the only term the sample book lacks.
    zigbee = [
        "How do I connect the station to Zigbee?",
        "Can the station send its readings over Zigbee?",
    ]
    others = ["How do I send data via Telegram?", "How do I send data via Twitter?"]
    token = {"Authorization": "Bearer right-token"}
    with api(tmp_path, sample_docs, admin_token="right-token", log_questions=True) as client:
        for question in [*zigbee, *others]:
            assert client.post("/chat", json={"question": question}).json()["mode"] == "not_found"
        wait_for_rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers, 4)
        served = client.get("/admin/report?format=json", headers=token).json()["gaps"]
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    printed = CliRunner().invoke(cli_app, ["report", "--json"])
    assert printed.exit_code == 0, printed.output
    for gaps in (served, json.loads(printed.stdout)["gaps"]):
        by_terms = {gap["terms"]: gap for gap in gaps}
        assert sorted(by_terms) == ["telegram", "twitter", "zigbe"]
        assert by_terms["zigbe"]["count"] == 2 and by_terms["zigbe"]["wordings"] == 2
    engine = engine_for(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}")
    unaware = gap_report(engine, parse_period("1h"))  # no book to ask: grouped by all terms
    engine.dispose()
    assert sorted(gap.count for gap in unaware.gaps) == [1, 1, 1, 1]


def test_a_page_url_is_http_and_kept_without_credentials_and_the_report_runs_nothing(
    tmp_path: Path, sample_docs: Path
) -> None:
    token = {"Authorization": "Bearer right-token"}
    secret_page = "https://reader:pa55word@pocket-weather.example.org/docs/intro"
    with api(tmp_path, sample_docs, admin_token="right-token") as client:
        refused = [
            client.post("/chat", json={"question": "rain gauge", "page_url": url})
            for url in (
                "javascript:alert(document.cookie)",
                "data:text/html,<b>x</b>",
                "//evil.example/phish",  # another site, without a scheme
                "/\\evil.example/phish",  # the same: browsers read `\` as `/`
            )
        ]
        asked = client.post("/chat", json={"question": "rain gauge", "page_url": secret_page})
        wait_for_rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers, 1)
        page = client.get("/admin/report?since=24h", headers=token)
    assert [r.status_code for r in refused] == [422] * 4 and asked.status_code == 200
    assert all("http(s)" in r.json()["error"] for r in refused)
    assert "pa55word" not in page.text
    assert 'href="https://pocket-weather.example.org/docs/intro"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_log_keeps_the_page_asked_from_as_the_book_publishes_it_or_none(
    tmp_path: Path, sample_docs: Path
) -> None:
    token = {"Authorization": "Bearer right-token"}
    asked_from = (
        "http://localhost:3000/docs/sensors/rain-wind#calibration",  # the author's preview
        "https://evil.example.com/reset-your-admin-token",  # a page of no book
    )
    with api(tmp_path, sample_docs, admin_token="right-token") as client:
        for page in asked_from:
            client.post("/chat", json={"question": "rain gauge", "page_url": page})
        logged = wait_for_rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers, 2)
        report = client.get("/admin/report?since=24h", headers=token)
    assert sorted(str(r["page_url"]) for r in logged) == [
        "None",
        "https://pocket-weather.example.org/docs/sensors/rain-wind",
    ]
    assert "evil.example.com" not in report.text and "localhost" not in report.text


class GoneStore:
    """Page records that cannot be read: the store went away after the answer was made."""

    def find(self, page_url: str) -> dict[str, Any]:
        raise StoreUnavailable("the vector store is unavailable")


class KeptRecords:
    """An answer log that keeps what it is given."""

    def __init__(self) -> None:
        self.kept: list[AnswerRecord] = []

    def record(self, record: AnswerRecord) -> None:
        self.kept.append(record)


def test_an_answer_is_logged_and_given_even_when_its_page_cannot_be_looked_up() -> None:
    book = SimpleNamespace(pages=GoneStore())
    journal = KeptRecords()
    settings = load_settings(log_questions=False)
    question = Question("rain gauge", page_url="https://pocket-weather.example.org/docs/intro")
    given = logged(journal, book, settings, question, answer_of("extractive"), 0.0)  # type: ignore[arg-type]
    assert given.answer_id == journal.kept[0].id and journal.kept[0].page_url is None


def test_report_command_prints_the_report_and_json(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with api(tmp_path, sample_docs, log_questions=True) as client:
        client.post("/chat", json={"question": SOIL})
        client.post("/chat", json={"question": RAIN})
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(data))
    runner = CliRunner()
    text = runner.invoke(cli_app, ["report", "--since", "2d"], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "2 questions, 1 not answered" in text.output
    assert "soil moisture" in text.output and "pocket-weather.example.org" in text.output
    assert "asked from" in text.output  # the pages readers asked from, as in HTML and JSON
    as_json = runner.invoke(cli_app, ["report", "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert body["answers"] == 2 and body["gaps"][0]["example"] == SOIL
    bad = runner.invoke(cli_app, ["report", "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_a_comment_on_a_helpful_answer_is_in_every_report(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = {"Authorization": "Bearer right-token"}
    said = "Clear, and the <b>units</b> are right."
    with api(tmp_path, sample_docs, admin_token="right-token") as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        assert client.post("/chat", json={"question": SOIL}).json()["mode"] == "not_found"
        body = {"answer_id": answer_id, "helpful": True, "comment": said}
        assert client.post("/feedback", json=body).status_code == 200
        page = client.get("/admin/report", headers=token).text
        data = client.get("/admin/report?format=json", headers=token).json()
    assert "Clear, and the &lt;b&gt;units&lt;/b&gt; are right." in page
    (praised,) = data["helpful_comments"]
    assert praised["comment"] == said and praised["question"] == "bucket measur much one rain tip"
    assert data["unhelpful"] == [] and data["helpful"] == 1
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    printed = CliRunner().invoke(cli_app, ["report"], env={"COLUMNS": "200"})
    assert printed.exit_code == 0 and said in printed.output
    # Without question text the terms are the question: printed once, not in two columns.
    assert printed.output.count("measur moistur soil") == 1


DEPLOY_PAGE = "https://book.example.org/docs/deploy"


def test_answers_marked_unhelpful_are_grouped_by_question_with_their_comments(
    db_url: str,
) -> None:
    now = datetime.now(UTC)
    verdicts = [
        ("How do I deploy an agent to AWS Lambda?", "Nothing about Lambda, cites ArgoCD"),
        ("deploying agents on aws lambda", "Wrong page."),
        ("Can I deploy the agent to AWS Lambda?", None),
        ("How do I deploy an agent to AWS Lambda", "Wrong page."),
        ("How do I measure soil moisture?", "Too short."),
    ]
    with running_journal(db_url) as journal:
        for minutes, (question, comment) in enumerate(verdicts):
            asked = Question(question, page_url=DEPLOY_PAGE if "ambda" in question else None)
            record = make_record(asked, answer_of("extractive"), 1.0, True)
            journal.record(replace(record, created_at=now - timedelta(minutes=9)))
            asyncio.run(
                journal.give_feedback(Verdict(record.id, f"192.0.2.{minutes}", False, comment))
            )
    engine = engine_for(db_url)
    report = gap_report(engine, parse_period("1h"), now=now + timedelta(minutes=1))
    engine.dispose()
    lambda_, soil = report.unhelpful_groups
    assert lambda_.count == 4 and "Lambda" in lambda_.example
    assert lambda_.comments == ["Wrong page.", "Nothing about Lambda, cites ArgoCD"]
    assert soil.count == 1 and soil.comments == ["Too short."]
    assert lambda_.asked_from == DEPLOY_PAGE and soil.asked_from is None
    assert len(report.unhelpful) == 5  # the latest, one by one, as before
    page = render_html(report)
    assert "Answers marked unhelpful, by question" in page and "cites ArgoCD" in page


def test_report_command_creates_no_log_where_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "elsewhere"))
    missing = CliRunner().invoke(cli_app, ["report"])
    monkeypatch.setenv("BOOKRAG_FEEDBACK", "false")
    off = CliRunner().invoke(cli_app, ["report"])
    assert missing.exit_code == 1 and "no answer log at" in missing.output
    assert "BOOKRAG_DATA_DIR" in missing.output
    assert off.exit_code == 1 and "BOOKRAG_FEEDBACK=false" in off.output
    assert not (tmp_path / "elsewhere" / "bookrag.db").exists()


def test_report_command_leaves_a_data_folder_without_an_index_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer log copied from a server to read its report elsewhere: an empty index
    # folder was created beside it, to find no page.
    data = tmp_path / "copied"
    data.mkdir()
    engine = open_engine(f"sqlite:///{data / 'bookrag.db'}")
    migrate(engine)
    engine.dispose()
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(data))
    printed = CliRunner().invoke(cli_app, ["report"], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert "no links to pages" in printed.output
    assert not (data / "qdrant").exists()


def test_neither_report_shows_a_readers_control_characters(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attack = "bad \x1b[2J\x1b]0;pwned\x07 end \u202eevil"
    with api(tmp_path, sample_docs, log_questions=True, admin_token="t") as client:
        answer_id = client.post("/chat", json={"question": RAIN}).json()["answer_id"]
        sent = client.post(
            "/feedback", json={"answer_id": answer_id, "helpful": False, "comment": attack}
        )
        assert sent.status_code == 200
        client.post("/chat", json={"question": "Is the گیج \u200c calibrated? \x1b[31m"})
        wait_for_rows(f"sqlite:///{tmp_path / 'data' / 'bookrag.db'}", answers, 2)
        page = client.get("/admin/report?since=24h", headers={"Authorization": "Bearer t"})
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    printed = CliRunner().invoke(cli_app, ["report"], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert "\x1b" not in printed.output and "\x07" not in printed.output
    assert "\u202e" not in printed.output
    # Nor the HTML report: an override would turn the rest of its line around.
    assert page.status_code == 200 and "\u202e" not in page.text and "\x1b" not in page.text
    assert "bad \ufffd[2J" in page.text and "گیج \u200c" in page.text
    assert "bad \ufffd[2J" in printed.output and "گیج \u200c" in printed.output
    as_json = CliRunner().invoke(cli_app, ["report", "--json"])
    assert as_json.exit_code == 0 and as_json.output.isascii()  # escaped, as JSON allows
    assert json.loads(as_json.output)["unhelpful"][0]["comment"] == attack  # kept whole
