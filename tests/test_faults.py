"""Faults a public deployment meets, through the real app: oversized bodies, one client
flooding it, a Qdrant server that is down or hangs, an ingest killed or stopped midway, a
disk with no room to merge the index, and a model provider that fails; and what an
operator then sees: error bodies without secrets or tracebacks, `/metrics`, and one JSON
log line per request.

The Qdrant server is played by sockets on 127.0.0.1 (a closed port, a listener that never
answers) and, for recovery, by a stand-in answering the few REST calls the app makes to
start and to answer `/health`: no Qdrant server binary is available offline, so recovery
against a real Qdrant server is not checked here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response  # what Starlette's TestClient returns when httpx2 is installed
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from bookrag.answering.models import Question
from bookrag.answering.pipeline import NOT_INDEXED, Book, answer
from bookrag.api.app import create_app
from bookrag.book.chunking import chunk_page
from bookrag.book.loader import SkipPage, discover, load_page, read_source
from bookrag.cli import app
from bookrag.config import Settings, load_settings
from bookrag.errors import ConfigError, StoreUnavailable
from bookrag.index.connection import open_store
from bookrag.index.engine_edge import MIN_FREE_BYTES
from bookrag.index.ingest import IngestInterrupted, index_pages, ingest, site_config
from bookrag.index.outcomes import PageOutcome, Unchanged
from bookrag.index.points import stored_hash
from bookrag.index.store import BookStore
from fakes import FakeCohere
from fakes.cohere import Reply

ORIGIN = "http://localhost:3000"  # in the default ALLOWED_ORIGINS
QUESTION = "How much rain does one tip of the bucket measure?"
RAIN_PAGE = "https://pocket-weather.example.org/docs/sensors/rain-wind"
SENTINEL = "sk-SENTINEL-3f9c2d7e-never-show-me"
POST_ROUTES = ("/chat", "/stream-chat", "/search", "/translate")


@contextmanager
def serve(tmp_path: Path, docs: Path | None, **overrides: Any) -> Iterator[TestClient]:
    """The API as `bookrag serve [--docs DOCS]` runs it, with these settings."""
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=docs, **overrides)
    with TestClient(create_app(settings)) as client:
        yield client


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def error_message(response: Response) -> str:
    """The message of an error answer, checking its shape: the contract's JSON body
    `{"success": false, "error": ...}`, or on /stream-chat possibly one server-sent event
    `{"error": ..., "done": true}`."""
    if response.headers["content-type"].startswith("text/event-stream"):
        assert response.request.url.path == "/stream-chat", response.request.url
        [event] = sse_events(response.text)
        assert set(event) == {"error", "done"} and event["done"] is True, event
        message = event["error"]
    else:
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"success", "error"} and body["success"] is False, body
        message = body["error"]
    assert isinstance(message, str) and message
    assert "Traceback" not in response.text
    return message


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- request bodies ----------------------------------------------------------------------


def test_oversized_body_is_413_json_that_the_book_site_can_read(
    tmp_path: Path, sample_docs: Path
) -> None:
    body = {"question": QUESTION, "selected_text": "rain " * 500}
    assert len(json.dumps(body)) > 2048
    with serve(tmp_path, sample_docs, max_body_bytes=2048) as client:
        fits = client.post("/chat", json={"question": QUESTION, "selected_text": "rain " * 380})
        assert fits.status_code == 200, fits.text
        for route in POST_ROUTES:
            response = client.post(route, json=body, headers={"Origin": ORIGIN})
            assert response.status_code == 413, route
            if route == "/stream-chat":  # the contract's error event, as a stream reader sees it
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.text == (
                    'data: {"error": "request body is larger than 2 KiB", "done": true}\n\n'
                )
            else:
                assert response.headers["content-type"] == "application/json"
                assert response.json() == {
                    "success": False,
                    "error": "request body is larger than 2 KiB",
                }
            assert response.headers["access-control-allow-origin"] == ORIGIN
            assert response.headers["x-request-id"]


def test_chunked_body_without_content_length_is_counted_and_refused(
    tmp_path: Path, sample_docs: Path
) -> None:
    payload = json.dumps({"question": QUESTION, "selected_text": "rain " * 500}).encode()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    with serve(tmp_path, sample_docs, max_body_bytes=2048) as client:
        response = client.post(
            "/chat",
            content=pieces(),
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"] == "request body is larger than 2 KiB"
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_a_limit_of_no_whole_kib_is_said_exactly(tmp_path: Path, sample_docs: Path) -> None:
    # 2,000 bytes was said "larger than 1 KiB" (rounded down): a body of 1.5 KiB was refused.
    with serve(tmp_path, sample_docs, max_body_bytes=2000) as client:
        response = client.post("/chat", json={"question": "x" * 3000})
    assert response.status_code == 413
    assert response.json()["error"] == "request body is larger than 2,000 bytes"


def test_the_question_limit_set_for_a_server_is_its_search_and_widget_limit_too(
    tmp_path: Path, sample_docs: Path
) -> None:
    # /search kept 2,000 characters and the widget's box held 2,000 whatever the server was
    # set to: a longer limit refused searches it allows questions; a shorter one let the
    # widget send questions the server then refused.
    with serve(tmp_path, sample_docs, max_question_chars=3000, max_selected_chars=900) as client:
        rain = "rain " * 500  # 2,500 characters
        assert client.post("/search", json={"query": rain}).status_code == 200
        assert client.post("/chat", json={"question": rain}).status_code == 200
        refused = client.post("/search", json={"query": rain * 2})
        script = client.get("/widget.js")
        again = client.get("/widget.js", headers={"If-None-Match": script.headers["etag"]})
    assert refused.status_code == 422
    assert refused.json()["error"] == "query: longer than 3000 characters"
    assert "const LIMITS = { question: 3000, selection: 900 };" in script.text
    assert again.status_code == 304
    with serve(tmp_path / "default", sample_docs) as client:
        default = client.get("/widget.js")
    assert "const LIMITS = { question: 2000, selection: 20000 };" in default.text
    assert default.headers["etag"] != script.headers["etag"]


def test_body_that_is_not_utf8_is_400_in_the_contract_error_shape(
    tmp_path: Path, sample_docs: Path
) -> None:
    with serve(tmp_path, sample_docs) as client:
        for route in POST_ROUTES:
            response = client.post(
                route,
                content=b"\x80{",
                headers={"Content-Type": "application/json", "Origin": ORIGIN},
            )
            assert response.status_code == 400, route
            error_message(response)
            assert response.headers["access-control-allow-origin"] == ORIGIN


def test_unknown_route_and_wrong_method_answer_in_the_contract_shape(
    tmp_path: Path, sample_docs: Path
) -> None:
    """A 405 keeps the exception's headers: it says which methods the route allows (RFC 9110
    requires `Allow`), although the app's handler builds the contract's error body."""
    with serve(tmp_path, sample_docs) as client:
        unknown = client.get("/no-such-route", headers={"Origin": ORIGIN})
        wrong = client.put("/chat", json={"question": QUESTION}, headers={"Origin": ORIGIN})
    for response, status in ((unknown, 404), (wrong, 405)):
        assert response.status_code == status
        error_message(response)
        assert response.headers["access-control-allow-origin"] == ORIGIN
    assert wrong.headers.get("allow") == "POST"


# -- rate limits ---------------------------------------------------------------------------


def test_fourth_answer_in_a_minute_from_one_client_is_429_with_retry_after(
    tmp_path: Path, sample_docs: Path
) -> None:
    with serve(tmp_path, sample_docs, rate_limit=3) as client:
        codes = [client.post("/chat", json={"question": QUESTION}).status_code for _ in range(3)]
        refused = client.post("/chat", json={"question": QUESTION}, headers={"Origin": ORIGIN})
        streamed = client.post("/stream-chat", json={"question": QUESTION})
        health = [client.get("/health").status_code for _ in range(10)]
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.json() == {
        "success": False,
        "error": f"too many requests; try again in {wait} seconds",
        "retry_after": wait,
    }
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert "Retry-After" in refused.headers["access-control-expose-headers"]
    assert streamed.status_code == 429  # one budget across the answering routes
    assert health == [200] * 10  # exempt


@pytest.mark.parametrize(
    ("trusted", "peer", "honoured"),
    [
        ("127.0.0.1,::1", "testclient", False),  # the default list; an untrusted peer
        ("10.0.0.0/8", "127.0.0.1", False),
        ("127.0.0.1,::1", "127.0.0.1", True),  # behind a local reverse proxy
        ("*", "testclient", True),  # behind a platform proxy such as Spaces'
    ],
)
def test_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it(
    tmp_path: Path, sample_docs: Path, trusted: str, peer: str, honoured: bool
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", docs_dir=sample_docs, rate_limit=3, trusted_proxies=trusted
    )
    with TestClient(create_app(settings), client=(peer, 50000)) as client:

        def ask(claimed: str) -> int:
            headers = {"X-Forwarded-For": claimed}
            return client.post("/chat", json={"question": QUESTION}, headers=headers).status_code

        # Four requests, each claiming to come from another client.
        codes = [ask(f"198.51.100.{n}") for n in range(1, 5)]
        if honoured:
            assert codes == [200, 200, 200, 200]
            assert [ask("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        else:
            assert codes == [200, 200, 200, 429]  # the header changed nothing


# -- Qdrant server down --------------------------------------------------------------------


class StalledListener:
    """A port that accepts connections and never answers: a hung Qdrant server."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.socket.settimeout(0.05)
        self.port: int = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and drop every held connection: from now on the port refuses."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.socket.close()
        for connection in self.connections:
            connection.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _QuietHandler(BaseHTTPRequestHandler):
    """A stand-in server's handler: it replies whole bodies and logs nothing."""

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _StandInHandler(_QuietHandler):
    """The few REST calls of Qdrant the app makes to start and to answer `/health`, for an
    empty server: the collection does not exist (nor an alias of that name), and creating it
    succeeds."""

    def _answer(self, result: object) -> None:
        body = json.dumps({"result": result, "status": "ok", "time": 0.0}).encode()
        self._reply(200, "application/json", body)

    def do_GET(self) -> None:
        if urlsplit(self.path).path.endswith("/exists"):
            self._answer({"exists": False})
        elif urlsplit(self.path).path == "/aliases":
            self._answer({"aliases": []})
        else:
            self._answer({"title": "qdrant stand-in", "version": "1.15.0"})

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path.endswith("/index"):
            self._answer({"operation_id": 0, "status": "completed"})
        else:
            self._answer(True)


class _RejectingHandler(_QuietHandler):
    """A Qdrant server that refuses the API key on every call, as Qdrant Cloud does."""

    def _refuse(self) -> None:
        body = b'{"status": {"error": "Unauthorized: invalid API key"}}'
        self._reply(401, "application/json", body)

    do_GET = do_PUT = do_POST = _refuse


class _NotQdrantHandler(_QuietHandler):
    """Another service at QDRANT_URL (a web app, a proxy's page): 200 and HTML to all."""

    def _page(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(200, "text/html", b"<!doctype html><title>Welcome</title>")

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _page


@contextmanager
def qdrant_stand_in(
    port: int, handler: type[BaseHTTPRequestHandler] = _StandInHandler
) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("with_docs", [False, True], ids=["serve", "serve --docs"])
def test_a_qdrant_url_that_is_no_qdrant_server_is_503_saying_so(
    tmp_path: Path, sample_docs: Path, caplog: pytest.LogCaptureFixture, with_docs: bool
) -> None:
    # A QDRANT_URL naming another service that answers 200 (a typo'd port, a proxy's page):
    # start-up failed with tracebacks, or every question was a 500.
    port = closed_port()
    with (
        qdrant_stand_in(port, _NotQdrantHandler),
        caplog.at_level(logging.ERROR, logger="bookrag"),
        serve(
            tmp_path, sample_docs if with_docs else None, qdrant_url=f"http://127.0.0.1:{port}"
        ) as client,
    ):
        answers_of_a_store_that_is_down(client)
        chat = client.post("/chat", json={"question": QUESTION})
    assert "not as a Qdrant server" in error_message(chat)
    assert "Traceback" not in caplog.text


def test_a_rejected_qdrant_api_key_is_named_not_reported_as_an_outage(tmp_path: Path) -> None:
    port = closed_port()
    settings = load_settings(
        data_dir=tmp_path / "data", qdrant_url=f"http://127.0.0.1:{port}", qdrant_api_key=SENTINEL
    )
    with qdrant_stand_in(port, _RejectingHandler), pytest.raises(StoreUnavailable) as refused:
        open_store(settings).search("rain gauge", 5)
    assert "refused the request (401): QDRANT_API_KEY" in refused.value.message
    assert SENTINEL not in refused.value.message


def assert_store_unavailable(response: Response) -> None:
    """503 with the contract's error body naming the vector store, and nothing else."""
    assert response.status_code == 503, response.text
    assert "vector store" in error_message(response)


def assert_degraded_health(response: Response) -> None:
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["qdrant"] == "unavailable"
    assert "pages" not in body["index"]


def answers_of_a_store_that_is_down(client: TestClient) -> None:
    """Every route that needs the index says so with 503, quickly enough to be useful."""
    assert_degraded_health(client.get("/health"))
    assert_store_unavailable(client.post("/chat", json={"question": QUESTION}))
    assert_store_unavailable(client.post("/search", json={"query": "rain gauge"}))
    assert_store_unavailable(client.post("/translate", json={"page_url": RAIN_PAGE}))
    streamed = client.post("/stream-chat", json={"question": QUESTION})
    assert streamed.status_code in (200, 503)  # 200 if the stream had begun
    [event] = sse_events(streamed.text)
    assert event["done"] is True and "vector store" in event["error"]
    assert client.get("/metrics").status_code == 200  # request counters still report


@pytest.mark.parametrize("with_docs", [False, True], ids=["serve", "serve --docs"])
def test_app_starts_with_qdrant_down_and_answers_503_naming_the_vector_store(
    tmp_path: Path, sample_docs: Path, caplog: pytest.LogCaptureFixture, with_docs: bool
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    docs = sample_docs if with_docs else None
    with (
        caplog.at_level(logging.INFO, logger="bookrag"),
        serve(tmp_path, docs, qdrant_url=url, qdrant_timeout=1) as client,
    ):
        started = time.monotonic()
        answers_of_a_store_that_is_down(client)
        assert time.monotonic() - started < 5  # a refused connection fails at once
    assert any("vector store is unavailable" in r.getMessage() for r in caplog.records)
    assert f"Qdrant server at {url}" in caplog.text  # which server: a typo'd port shows
    assert "Traceback" not in caplog.text


def test_an_app_started_again_after_its_docs_changed_starts(
    tmp_path: Path, sample_docs: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(sample_docs, docs)
    app = create_app(load_settings(data_dir=tmp_path / "data", docs_dir=docs))
    with TestClient(app) as client:
        assert client.get("/health").json()["refresh"]["status"] == "ok"
    page = docs / "intro.md"
    page.write_text(page.read_text() + "\nThe station also reads ZANZIBAR gusts.\n")
    with TestClient(app) as client:  # the first start's book is closed by now
        health = client.get("/health").json()
        found = client.post("/search", json={"query": "ZANZIBAR gusts"}).json()
    assert health["refresh"]["status"] == "ok" and health["refresh"]["last_changes"]["indexed"] == 1
    assert found["results"][0]["path"] == "intro.md"


def test_health_reports_the_start_up_indexing_of_the_docs_folder(
    tmp_path: Path, sample_docs: Path
) -> None:
    with serve(tmp_path, sample_docs) as client:
        refresh = client.get("/health").json()["refresh"]
    assert refresh["status"] == "ok" and refresh["error"] is None
    assert refresh["source"] == sample_docs.name  # the folder, not the server's path to it
    assert refresh["last_started"] and refresh["last_finished"]
    assert refresh["last_changes"]["indexed"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a page")
    with serve(tmp_path, empty) as client:  # the same index: what it holds is kept
        health = client.get("/health").json()
        answer = client.post("/chat", json={"question": QUESTION})
    assert health["refresh"]["status"] == "failed"
    assert "no Markdown pages" in health["refresh"]["error"]
    assert str(tmp_path) not in json.dumps(health)
    assert health["index"]["pages"] > 0
    assert answer.status_code == 200 and answer.json()["sources"]


def test_a_question_to_an_empty_index_is_503_not_a_refusal(tmp_path: Path) -> None:
    with serve(tmp_path, None) as client:  # nothing was ever indexed
        asked = client.post("/chat", json={"question": QUESTION})
        streamed = client.post("/stream-chat", json={"question": QUESTION})
        health = client.get("/health")
    assert asked.status_code == 503 and "not indexed yet" in asked.json()["error"]
    # The stream is refused with the same status, before it starts, not as a 200.
    assert streamed.status_code == 503
    [event] = sse_events(streamed.text)
    assert event["done"] is True and "not indexed yet" in event["error"]
    # Nothing can be answered: to the book's chat window, the backend is down.
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["index"]["pages"] == 0
    assert "not indexed yet" in health.json()["index"]["error"]


def test_hung_qdrant_gives_503_within_the_timeout_then_refusals_fail_fast(
    tmp_path: Path,
) -> None:
    with StalledListener() as stalled:
        started = time.monotonic()
        with serve(tmp_path, None, qdrant_url=stalled.url, qdrant_timeout=1) as client:
            assert time.monotonic() - started < 10  # start-up gave up waiting, and serves
            for ask in (
                lambda: assert_degraded_health(client.get("/health")),
                lambda: assert_store_unavailable(client.post("/chat", json={"question": "x"})),
                lambda: assert_store_unavailable(client.post("/search", json={"query": "rain"})),
            ):
                asked = time.monotonic()
                ask()
                assert time.monotonic() - asked < 5  # QDRANT_TIMEOUT=1, not a hang

            stalled.close()  # the server went away altogether: its port now refuses
            asked = time.monotonic()
            for _ in range(3):
                answers_of_a_store_that_is_down(client)
            assert time.monotonic() - asked < 5
            assert stalled.connections  # the app did reach the hung server


def test_health_recovers_by_itself_when_qdrant_answers_again(tmp_path: Path) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    with serve(tmp_path, None, qdrant_url=url, qdrant_timeout=1) as client:
        assert_degraded_health(client.get("/health"))
        with qdrant_stand_in(port):
            health = client.get("/health").json()
            assert health["services"]["qdrant"] == "connected", health
            # Still 503, for the stand-in holds no book: the reason is that, not Qdrant.
            assert health["index"] == {**health["index"], "pages": 0, "error": NOT_INDEXED}
        assert_degraded_health(client.get("/health"))  # and notices it going away again


def test_a_damaged_embedded_index_is_degraded_health_and_errors_name_no_server_path(
    tmp_path: Path, sample_docs: Path
) -> None:
    with serve(tmp_path, sample_docs):
        pass  # indexed
    pages = list((tmp_path / "data" / "qdrant").glob("edge/book/segments/*/payload_storage/*.dat"))
    assert pages, "Qdrant Edge keeps payloads elsewhere now: this test needs a new target"
    for page in pages:  # bytes flipped all through: the files no longer decode
        damaged = bytearray(page.read_bytes())
        damaged[::97] = bytes((b + 101) % 256 for b in damaged[::97])
        page.write_bytes(bytes(damaged))
    with serve(tmp_path, None) as client:
        health = client.get("/health")
        searched = client.post("/search", json={"query": "rain gauge"})
    assert health.status_code == 503 and health.json()["services"]["qdrant"] == "unavailable"
    assert searched.status_code == 503
    said = error_message(searched)
    assert "BOOKRAG_DATA_DIR/qdrant/edge/book" in said and "disk" in said
    assert str(tmp_path) not in searched.text and str(tmp_path) not in health.text


def test_sub_second_qdrant_timeout_is_honoured_or_refused_never_zero(tmp_path: Path) -> None:
    """QDRANT_TIMEOUT=0.5 once passed validation (`gt=0`) and then reached QdrantClient as
    `int(0.5) == 0`, a timeout that fails every call. Either honour it or refuse to start,
    naming the variable."""
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    try:
        settings = load_settings(data_dir=tmp_path / "data", qdrant_url=url, qdrant_timeout=0.5)
    except ConfigError as refused:
        assert str(refused).startswith("QDRANT_TIMEOUT:")
        return
    with qdrant_stand_in(port), TestClient(create_app(settings)) as client:
        health = client.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["services"]["qdrant"] == "connected"


def test_opening_a_qdrant_server_store_neither_calls_it_nor_warns(tmp_path: Path) -> None:
    """With qdrant-client's default `check_compatibility=True`, opening the store fetches
    the server's version in a background thread (I/O in a constructor) and, with Qdrant
    down or slow, warns "Failed to obtain server version" from that thread: noise in the
    log at every start, and an unhandled thread exception under warnings-as-errors."""
    with StalledListener() as stalled, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(
            data_dir=tmp_path / "data", qdrant_url=stalled.url, qdrant_timeout=1
        )
        store = open_store(settings)
        time.sleep(0.2)
        contacted = len(stalled.connections)
        store.close()
        for thread in threading.enumerate():
            if "_check_compatibility" in thread.name:
                thread.join(timeout=5)
    assert contacted == 0
    assert [str(w.message) for w in caught] == []


# -- ingest interrupted ----------------------------------------------------------------------

GENERATED = "90-generated"
WORDS = (  # none of them in the sample book, so its pages stay findable by their titles
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt labore dolore magna aliqua enim minim veniam quis nostrud"
).split()


def marker(number: int) -> str:
    """A word only page `number` of the generated pages contains."""
    return f"glimmer{number:03d}x"


def write_generated_pages(docs: Path, version: int, count: int = 200) -> None:
    """Version `version` of ~200 generated pages: their text, and how many sections each
    has, change with the version, and each version drops a few pages of the previous one."""
    folder = docs / GENERATED
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for number in range(count - 5 * version):
        sections = []
        for section in range(2 + (number + version) % 3):
            text = " ".join(
                WORDS[(number * 7 + section * 3 + i + version) % len(WORDS)] for i in range(90)
            )
            sections.append(f"## Part {section}\n\n{text}.\n")
        (folder / f"page-{number:03d}.md").write_text(
            f"# Generated page {number}\n\nVersion {version}; the word {marker(number)} "
            f"appears only here.\n\n" + "\n".join(sections),
            encoding="utf-8",
        )


def published(docs: Path) -> dict[str, tuple[str, int]]:
    """What a complete ingest holds: each published page's content hash and chunk count."""
    site = site_config(docs, None, None)
    expected = {}
    for path in discover(docs):
        try:
            page = load_page(read_source(docs, path, site), site)
        except SkipPage:
            continue
        expected[page.source] = (stored_hash(page.content_hash, 350), len(chunk_page(page, 350)))
    return expected


def index_problems(store: BookStore, expected: dict[str, tuple[str, int]]) -> list[str]:
    """Every way the index differs from a complete ingest of the book, in words."""
    problems = []
    records = {p["source"]: p for p in store.pages()}
    chunks = store.chunks()
    per_page = Counter(c["source"] for c in chunks)
    if set(records) != set(expected):
        missing, extra = sorted(set(expected) - set(records)), sorted(set(records) - set(expected))
        problems.append(f"page records: missing {missing[:5]}, extra {extra[:5]}")
    for source, record in records.items():
        if record["chunks"] != per_page[source]:
            problems.append(
                f"{source}: record says {record['chunks']} chunks, index has {per_page[source]}"
            )
        if source in expected and record["page_hash"] != expected[source][0]:
            problems.append(f"{source}: an old version")
        if source in expected and per_page[source] != expected[source][1]:
            problems.append(f"{source}: {per_page[source]} chunks, expected {expected[source][1]}")
    orphans = sorted(set(per_page) - set(records))
    if orphans:
        problems.append(f"chunks without a page record: {orphans[:5]}")
    keys = Counter((c["source"], c["chunk_index"]) for c in chunks)
    duplicates = [key for key, n in keys.items() if n > 1]
    if duplicates:
        problems.append(f"duplicate chunks: {duplicates[:5]}")
    stale = [
        c["source"]
        for c in chunks
        if c["source"] in records and records[c["source"]]["page_hash"] != c["page_hash"]
    ]
    if stale:
        problems.append(f"chunks of another version than their page: {sorted(set(stale))[:5]}")
    stats = store.stats()
    if (stats.pages, stats.chunks) != (len(records), len(chunks)):
        problems.append(
            f"statistics say {stats.pages} pages, {stats.chunks} chunks; "
            f"the index holds {len(records)} and {len(chunks)}"
        )
    return problems


def unfindable_pages(store: BookStore, expected: dict[str, tuple[str, int]]) -> list[str]:
    """Pages a search for their own words does not find: a generated page by its marker
    word (ranked first), a page of the sample book by its title (in the top five)."""
    titles = {p["source"]: p["title"] for p in store.pages()}
    lost = []
    for source in expected:
        if source.startswith(GENERATED):
            query, top = marker(int(source.split("-")[-1].removesuffix(".md"))), 1
        else:
            query, top = titles[source], 5
        found = [hit.payload["source"] for hit in store.search(query, 10)[:top]]
        if source not in found:
            lost.append(f"{source} (searched {query!r})")
    return lost


def ingest_command(docs: Path) -> list[str]:
    return [sys.executable, "-m", "bookrag", "ingest", str(docs)]


def ingest_env(data: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_"))
    }
    return {**env, "BOOKRAG_DATA_DIR": str(data)}


def index_written_at(data: Path) -> float:
    """When a file of the embedded index last changed (0 before there is one). Qdrant writes
    through temporary files and folders, which may be gone by the time they are read."""
    latest = 0.0
    for folder, _, files in os.walk(data / "qdrant" / "edge" / "book" / "segments"):
        for name in files:  # os.walk itself passes over a folder that vanished
            with suppress(FileNotFoundError):
                latest = max(latest, os.stat(os.path.join(folder, name)).st_mtime)
    return latest


def test_ingest_killed_midway_then_rerun_leaves_a_consistent_index(
    tmp_path: Path, book_copy: Path
) -> None:
    docs, data = book_copy / "docs", tmp_path / "data"
    env = ingest_env(data)

    # A complete ingest first, timed from its first write to the index until it ends, so
    # the kills below land at known fractions of the writing, however fast this machine is.
    write_generated_pages(docs, version=0)
    process = subprocess.Popen(
        ingest_command(docs), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    while not index_written_at(data) and process.poll() is None:
        time.sleep(0.01)
    writing = time.monotonic()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()
    writing = time.monotonic() - writing

    killed_midway = 0
    for version, fraction in enumerate((0.15, 0.5, 0.85), start=1):
        write_generated_pages(docs, version)
        expected = published(docs)
        before = index_written_at(data)
        process = subprocess.Popen(
            ingest_command(docs),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while index_written_at(data) == before and process.poll() is None:
            time.sleep(0.005)
        time.sleep(fraction * writing)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.returncode == -signal.SIGKILL:
            with closing_store(data) as store:
                if index_problems(store, expected):
                    killed_midway += 1

        rerun = subprocess.run(ingest_command(docs), env=env, capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr.decode()
        with closing_store(data) as store:
            assert index_problems(store, expected) == [], f"version {version}"
            assert unfindable_pages(store, expected) == [], f"version {version}"
    assert killed_midway >= 2  # the kills did interrupt writing (else this proved little)


@contextmanager
def closing_store(data: Path) -> Iterator[BookStore]:
    store = open_store(load_settings(data_dir=data))
    try:
        yield store
    finally:
        store.close()


class Killed(BaseException):
    """The process dying at this point (not an error anything would catch)."""


def test_crash_after_the_last_page_is_written_is_caught_up_by_the_next_ingest(
    book_copy: Path, store: BookStore
) -> None:
    """The statistics (`/health`'s pages and chunks; on a Qdrant server also the term
    statistics behind the relevance floor) are refreshed by the next ingest after a crash
    between the last page write and the refresh, although it finds every page unchanged."""
    docs = book_copy / "docs"
    site = site_config(docs, None, None)
    ingest(store, docs, site, 350)
    (docs / "zz-new.md").write_text("# Anemometer cups\n\nThree cups catch the wind.\n")
    total = len(discover(docs))
    seen: list[str] = []

    def die_after_the_last_page(source: str) -> None:
        seen.append(source)
        if len(seen) == total:
            raise Killed

    with pytest.raises(Killed):
        ingest(store, docs, site, 350, on_page=die_after_the_last_page)
    ingest(store, docs, site, 350)
    assert index_problems(store, published(docs)) == []


def test_chunks_of_a_removed_page_do_not_outlive_a_crash_during_its_removal(
    book_copy: Path, store: BookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between deleting a removed page's record and deleting its chunks leaves
    chunks that no page record names: the next ingest removes them, so they do not stay
    searchable."""
    docs = book_copy / "docs"
    site = site_config(docs, None, None)
    ingest(store, docs, site, 350)
    (docs / "03-data" / "troubleshooting.md").unlink()
    deletes: list[object] = []

    def dying(delete: Any) -> Any:
        def die_on_the_second_delete(*args: Any, **kwargs: Any) -> Any:
            deletes.append(args)
            if len(deletes) == 2:
                raise Killed
            return delete(*args, **kwargs)

        return die_on_the_second_delete

    for name in ("delete", "delete_ids"):  # by filter (the chunks), by id (the record)
        monkeypatch.setattr(store.engine, name, dying(getattr(store.engine, name)))
    with pytest.raises(Killed):
        ingest(store, docs, site, 350)
    monkeypatch.undo()
    ingest(store, docs, site, 350)
    assert index_problems(store, published(docs)) == []


ZORBLAX = "# Zorblax\n\nZorblax is a kettle descaling protocol: vinegar, then two rinses.\n"


def test_an_ingest_stopped_by_ctrl_c_counts_the_pages_it_wrote(
    book_copy: Path, store: BookStore, settings: Settings
) -> None:
    """Ctrl-C (KeyboardInterrupt) midway commits and counts what was written, as a failure
    does: `/health` tells the pages indexed, and the relevance floor, counted over them,
    answers a question about a page the run wrote rather than refusing it."""
    docs = book_copy / "docs"
    site = site_config(docs, None, None)
    ingest(store, docs, site, 350)
    (docs / "00-zorblax.md").write_text(ZORBLAX)

    def read_then_interrupted(known: dict[str, dict[str, Any]]) -> Iterator[PageOutcome]:
        yield from (Unchanged(source) for source in known)
        yield load_page(read_source(docs, docs / "00-zorblax.md", site), site)
        raise KeyboardInterrupt  # pressed while the next page is read

    with pytest.raises(IngestInterrupted) as stopped:
        index_pages(store, read_then_interrupted, 350)
    assert stopped.value.written == 1
    stats = store.stats()
    assert (stats.pages, stats.chunks) == (10, store.chunk_count())
    result = answer(Book.open(store, settings), Question("What is Zorblax?"))
    assert result.mode != "not_found" and "vinegar" in result.answer
    assert result.sources[0].endswith("/zorblax")


# `bookrag ingest DOCS` sent SIGTERM, as `docker stop` sends it, once it has handled N pages.
SIGTERM_AFTER_PAGES = """
import os, signal, sys
from bookrag import cli

docs, pages = sys.argv[1], int(sys.argv[2])
ingest = cli.ingest

def ingest_sent_sigterm(*args, on_page, **kwargs):
    seen = []

    def page_then_sigterm(source):
        on_page(source)
        seen.append(source)
        if len(seen) == pages:
            os.kill(os.getpid(), signal.SIGTERM)

    return ingest(*args, on_page=page_then_sigterm, **kwargs)

cli.ingest = ingest_sent_sigterm
sys.argv = ["bookrag", "ingest", docs]
cli.main()
"""


def test_an_ingest_sent_sigterm_says_what_it_counted_and_exits_143(
    tmp_path: Path, sample_docs: Path
) -> None:
    """`docker stop` or a cancelled CI job stops `bookrag ingest` as Ctrl-C does: one line
    says how many pages were written and counted, and the exit status is the signal's."""
    data = tmp_path / "data"
    stopped = subprocess.run(
        [sys.executable, "-c", SIGTERM_AFTER_PAGES, str(sample_docs), "5"],
        env=ingest_env(data),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    said = re.search(
        r"interrupted: (\d) pages written and counted; run `bookrag ingest` again", stopped.stderr
    )
    assert said, stopped.stderr
    assert "Traceback" not in stopped.stderr
    with closing_store(data) as store:
        written = len(store.pages())
        assert 0 < written < len(published(sample_docs))  # stopped midway
        assert store.stats().pages == written == int(said[1])
        assert store.stats().chunks == store.chunk_count()


# -- a nearly full disk ---------------------------------------------------------------------


# Room on the embedded index's disk for a page's writes (64 MB and a little), not for
# merging its segments (64 MB and the size of the index: 0.4 MB for the sample book).
ROOM_TO_WRITE_NOT_TO_MERGE = MIN_FREE_BYTES + 100 * 2**10


def leave_room_to_write_not_to_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.disk_usage

    def disk_usage(path: Any) -> Any:
        return real(path)._replace(free=ROOM_TO_WRITE_NOT_TO_MERGE)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


def add_a_section(docs: Path) -> None:
    page = docs / "intro.md"
    page.write_text(page.read_text() + "\n## Lemonspire note\n\nThe station reads lemonspire.\n")


def test_an_ingest_with_no_room_to_merge_succeeds_with_a_warning(
    book_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merging after the writes needs room for a copy of the index: without it the change is
    written and counted all the same, so the run succeeds (the unmerged index answers the
    same), with its summary and a warning rather than "free some space"."""
    docs = book_copy / "docs"
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    add_a_section(docs)
    handler = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        leave_room_to_write_not_to_merge(patch)
        result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert re.search(r"pages indexed\s*│\s*1\s", result.output)
    assert "warning: the index's segments were not merged" in result.output
    assert "Free some space" not in result.output
    assert signal.getsignal(signal.SIGTERM) == handler  # put back after the run
    found = runner.invoke(app, ["search", "lemonspire"])
    assert "intro" in found.output and "lemonspire" in found.output
    again = runner.invoke(app, ["ingest", str(docs)])
    assert re.search(r"pages indexed\s*│\s*0\s", again.output)


def test_a_refresh_with_no_room_to_merge_is_ok_with_a_warning(
    book_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = book_copy / "docs"
    with serve(tmp_path, docs):
        pass
    add_a_section(docs)
    leave_room_to_write_not_to_merge(monkeypatch)
    with serve(tmp_path, docs) as client:
        refresh = client.get("/health").json()["refresh"]
        found = client.post("/search", json={"query": "lemonspire"}).json()
    assert refresh["status"] == "ok" and refresh["error"] is None, refresh
    assert refresh["last_changes"]["indexed"] == 1
    [warning] = refresh["last_changes"]["warnings"]
    assert "not merged" in warning
    assert found["results"][0]["path"] == "intro.md"


# An ingest of DOCS with room to write but not to merge, in a process that then dies
# before it closes the index (so before its last flush).
UNMERGED_THEN_KILLED = f"""
import os, shutil, sys
from pathlib import Path
from bookrag.config import load_settings
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config

real = shutil.disk_usage
shutil.disk_usage = lambda path: real(path)._replace(free={ROOM_TO_WRITE_NOT_TO_MERGE})
docs = Path(sys.argv[1])
store = open_store(load_settings())
report = ingest(store, docs, site_config(docs, None, None), 350)
print(len(report.indexed), len(report.warnings))
os._exit(0)
"""


def test_a_change_left_unmerged_is_durable(book_copy: Path, tmp_path: Path) -> None:
    """With no room to merge, what was written is flushed all the same: a process that
    dies after such an ingest leaves the page and its statistics counted."""
    docs, data = book_copy / "docs", tmp_path / "data"
    with closing_store(data) as store:
        ingest(store, docs, site_config(docs, None, None), 350)
    add_a_section(docs)
    died = subprocess.run(
        [sys.executable, "-c", UNMERGED_THEN_KILLED, str(docs)],
        env=ingest_env(data),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert died.stdout.split() == ["1", "1"], died.stderr  # one page written, one warning
    with closing_store(data) as store:
        assert index_problems(store, published(docs)) == []


# -- secrets, metrics and logs -------------------------------------------------------------


class TranslatingCohere(FakeCohere):
    """The fake Cohere; a chat without documents (a translation) answers in capitals."""

    def _reply(self, body: dict[str, Any]) -> Reply:
        if body.get("documents"):
            return super()._reply(body)
        return Reply(str(body["messages"][-1]["content"]).upper())


@pytest.fixture
def cohere() -> Iterator[TranslatingCohere]:
    with TranslatingCohere(api_key=SENTINEL) as fake:
        yield fake


@contextmanager
def serve_with_cohere(
    tmp_path: Path, docs: Path, fake: FakeCohere, **overrides: Any
) -> Iterator[TestClient]:
    options: dict[str, Any] = {
        "cohere_api_key": SENTINEL,
        "cohere_base_url": fake.url,
        "retry_budget": 0.5,
        "upstream_timeout": 1.0,
        "upstream_cooldown": 0,  # these tests fail a call, then expect the next to work
        **overrides,
    }
    with serve(tmp_path, docs, **options) as client:
        fake.reset()  # forget the start-up ingest
        yield client


def everything_a_client_sees(response: Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{headers}\n\n{response.text}"


def bad_requests_and_failures(client: TestClient, fake: FakeCohere) -> list[Response]:
    """Bad input on every route, then every Cohere call failing, slow, or refusing the key."""
    sent = []

    def post(route: str, headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        sent.append(client.post(route, headers={"Origin": ORIGIN, **(headers or {})}, **kwargs))

    for route in ("/chat", "/stream-chat"):
        post(route, json={})
        post(route, json={"question": "x" * 3000})
        post(route, json={"question": 42, "history": "nope"})
        post(route, content=b'{"question": ', headers={"Content-Type": "application/json"})
    post("/search", json={"query": ""})
    post("/search", json={"query": "rain", "limit": 0})
    post("/translate", json={"page_url": "https://example.org/docs/no-such-page"})
    post("/translate", json={"page_url": RAIN_PAGE, "target_language": "klingon"})
    for failure in (
        lambda: [
            fake.fail(p, status=500, retry_after=None, times=100)
            for p in ("/v2/chat", "/v2/embed", "/v2/rerank")
        ],
        lambda: [
            fake.fail(p, status=401, retry_after=None, times=100)
            for p in ("/v2/chat", "/v2/embed", "/v2/rerank", "/v1/check-api-key")
        ],
        lambda: fake.delay("/v2/chat", 1.5, times=100),
    ):
        fake.reset()
        failure()
        post("/chat", json={"question": QUESTION})
        post("/stream-chat", json={"question": QUESTION})
        post("/search", json={"query": "rain gauge"})
        post("/translate", json={"page_url": RAIN_PAGE})
        sent.append(client.get("/health"))
    fake.reset()
    return sent


def test_no_error_body_header_or_log_line_shows_the_key_or_a_traceback(
    tmp_path: Path, sample_docs: Path, cohere: TranslatingCohere, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), serve_with_cohere(tmp_path, sample_docs, cohere) as client:
        responses = bad_requests_and_failures(client, cohere)
    statuses = Counter(r.status_code for r in responses)
    assert {400, 404, 422, 502}.issubset(statuses), statuses  # the faults did happen
    assert not {500, 501, 504} & set(statuses), statuses
    for response in responses:
        seen = everything_a_client_sees(response)
        assert SENTINEL not in seen, seen
        assert "Traceback" not in seen, seen
    assert caplog.records
    assert SENTINEL not in caplog.text
    assert "Traceback" not in caplog.text


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_latency_upstream_errors_cache_hits_and_pages(
    tmp_path: Path, sample_docs: Path, cohere: TranslatingCohere
) -> None:
    with serve_with_cohere(tmp_path, sample_docs, cohere) as client:
        assert client.post("/chat", json={"question": QUESTION}).json()["mode"] == "generative"
        cohere.fail("/v2/chat", status=500, retry_after=None, times=100)
        assert client.post("/chat", json={"question": QUESTION}).json()["degraded"] is True
        cohere.reset()
        first = client.post("/translate", json={"page_url": RAIN_PAGE}).json()
        again = client.post("/translate", json={"page_url": RAIN_PAGE}).json()
        assert (first["cached"], again["cached"]) == (False, True)
        exposed = client.get("/metrics")
    assert exposed.headers["content-type"].startswith("text/plain")
    samples = metric_samples(exposed.text)
    assert samples[("bookrag_requests_total", (("route", "/chat"), ("status", "200")))] == 2
    assert samples[("bookrag_requests_total", (("route", "/translate"), ("status", "200")))] == 2
    assert samples[("bookrag_request_seconds_count", (("route", "/chat"),))] == 2
    assert samples[("bookrag_request_seconds_bucket", (("le", "+Inf"), ("route", "/chat")))] == 2
    assert samples[("bookrag_request_seconds_sum", (("route", "/chat"),))] > 0
    assert samples[("bookrag_upstream_errors_total", (("operation", "chat"),))] >= 1
    assert samples[("bookrag_translation_cache_hits_total", ())] == 1
    assert samples[("bookrag_index_pages", ())] == 9


def access_lines(caplog: pytest.LogCaptureFixture, route: str) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "bookrag.access"]
    return [line for line in lines if line["route"] == route]


@pytest.mark.parametrize("log_questions", [False, True])
def test_one_json_log_line_per_answer_with_its_timings_and_no_question_unless_asked(
    tmp_path: Path,
    sample_docs: Path,
    cohere: TranslatingCohere,
    caplog: pytest.LogCaptureFixture,
    log_questions: bool,
) -> None:
    with (
        serve_with_cohere(tmp_path, sample_docs, cohere, log_questions=log_questions) as client,
        caplog.at_level(logging.INFO, logger="bookrag.access"),
    ):
        answered = client.post("/chat", json={"question": QUESTION})
        streamed = client.post("/stream-chat", json={"question": QUESTION})
        cohere.fail("/v2/chat", status=500, retry_after=None, times=100)
        degraded = client.post("/chat", json={"question": QUESTION})
    [line, degraded_line] = access_lines(caplog, "/chat")
    [stream_line] = access_lines(caplog, "/stream-chat")
    assert line["request_id"] == answered.headers["x-request-id"]
    assert stream_line["request_id"] == streamed.headers["x-request-id"]
    for entry in (line, stream_line):
        assert entry["method"] == "POST" and entry["status"] == 200
        assert entry["mode"] == "generative" and entry["degraded"] is False
        assert entry["retrieval_ms"] > 0 and entry["generation_ms"] > 0
        assert entry["latency_ms"] >= entry["retrieval_ms"] + entry["generation_ms"]
    # Time to first token: after retrieval, before the stream ends.
    assert stream_line["retrieval_ms"] < stream_line["first_token_ms"] <= stream_line["latency_ms"]
    assert "first_token_ms" not in line and "_started" not in line
    assert degraded_line["request_id"] == degraded.headers["x-request-id"]
    assert degraded_line["degraded"] is True and degraded_line["mode"] == "extractive"
    for entry in (line, stream_line, degraded_line):
        if log_questions:
            assert entry["question"] == QUESTION
        else:
            assert "question" not in entry
            assert "bucket" not in json.dumps(entry)
