"""The answer log's tables, the engine that reaches them, and their migrations (Alembic).

Layout (times are UTC; nothing here names a client's address):

- `answers`: one row per answer given by `/chat` or `/stream-chat`.
  `id` is the `answer_id` sent to the reader (random, 32 hex digits); `created_at`;
  `question` (the text, only with `BOOKRAG_LOG_QUESTIONS=true`, else NULL); `terms` (the
  question's stemmed words without stop words, in lower case, sorted and deduplicated: what
  the gap report groups by, `records.question_terms`; the report reads a kept question again
  rather than trust terms an older bookrag wrote); `mode` (`generative`, `extractive` or
  `not_found`); `degraded`; `sources` (the cited section URLs, a JSON list); `latency_ms`;
  `page_url` (the page the reader was on, without query string or fragment); `selection`
  (the first characters of a selected passage, only with `BOOKRAG_LOG_QUESTIONS=true`).
- `feedback`: a reader's verdict on an answer, one per answer and client: `answer_id`,
  `client` (a keyed hash of the client's address and the answer, never the address),
  `helpful`, `comment` (capped), `created_at`.
- `meta`: `client_salt`, the random key of that hash, made by the first migration.

Rows older than `BOOKRAG_RETENTION_DAYS` are deleted by the journal's sweep.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bookrag.config import Settings

MAX_COMMENT_CHARS = 1000
MAX_SELECTION_CHARS = 280
MAX_PAGE_URL_CHARS = 2048
# Any fixed number: PostgreSQL's advisory lock that lets one replica migrate at a time.
_MIGRATION_LOCK = 0x626F6F6B726167

metadata = sa.MetaData()

answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=True),
    sa.Column("terms", sa.Text, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("degraded", sa.Boolean, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("page_url", sa.String(MAX_PAGE_URL_CHARS), nullable=True),
    sa.Column("selection", sa.String(MAX_SELECTION_CHARS), nullable=True),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column(
        "answer_id",
        sa.String(32),
        sa.ForeignKey("answers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("client", sa.String(32), primary_key=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.String(MAX_COMMENT_CHARS), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def database_url(settings: Settings) -> str:
    """`DATABASE_URL` (PostgreSQL through psycopg 3), else SQLite in the data dir."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    return f"sqlite:///{settings.database_path}"


def open_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys on each
    connection. Nothing is connected yet."""
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            # If it cannot be made, the first connection fails, and the log says so.
            with suppress(OSError):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=2, connect_args={"connect_timeout": 5}
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL: readers (the report) never block the writer, and several processes may write.
    # The mode is the file's, set once; while another connection holds the file (two
    # processes opening a new log at once), it is asked for again, briefly, and else left
    # to the next connection: the log works in either mode.
    cursor.execute("PRAGMA busy_timeout=50")
    deadline = time.monotonic() + WAL_PATIENCE
    while str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


WAL_PATIENCE = 5.0  # seconds a connection asks for WAL while the file is held


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "bookrag.feedback:migrations")
    config.attributes["connection"] = connection
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the tables to the newest revision; a database already there is left alone.

    Several processes starting at once take turns: a file lock beside a SQLite database,
    an advisory lock on PostgreSQL."""
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        config = _alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        if MigrationContext.configure(connection).get_current_revision() != head:
            command.upgrade(config, "head")


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
