"""Body limits, rate limits, the bound on answers in flight, and per-request logs/metrics."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

import bookrag.api.app as app_module
from bookrag.answering.figures import note, timed
from bookrag.api import strict_json
from bookrag.api.app import create_app
from bookrag.api.clients import ClientAddress
from bookrag.api.observability import Metrics, Redacting, RequestLog, access_log, log_to_console
from bookrag.api.protection import GENERATION_PATHS, BodyLimit, RateLimit
from bookrag.api.slots import GenerationGate, SlotPool
from bookrag.config import load_settings


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/chat")
    async def chat(request: Request) -> dict[str, int]:
        body = await request.body()
        return {"size": len(body)}

    @app.post("/stream-chat")
    async def slow() -> dict[str, bool]:
        await anyio.sleep(0.5)
        return {"ok": True}

    @app.get("/health")
    def health() -> dict[str, bool]:
        with timed("retrieval"):
            note(degraded=True, question="secret question")
        return {"ok": True}

    return app


def test_oversized_body_is_413_before_parsing() -> None:
    app = BodyLimit(echo_app(), 1024)
    client = TestClient(app)
    assert client.post("/chat", content=b"x" * 1024).json() == {"size": 1024}
    big = client.post("/chat", content=b"x" * 1025)
    assert big.status_code == 413 and "1 KiB" in big.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"y" * 200

    streamed = client.post("/chat", content=chunks())
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", ["127.0.0.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", "198.51.100.7", ["127.0.0.1"], "198.51.100.7"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),  # spoofed left part
        ("10.0.0.2", "198.51.100.7, 10.0.0.1", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "", ["*"], "10.0.0.2"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", ["*"], "203.0.113.9"),  # only the proxy's entry
    ],
)
def test_client_address_trusts_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str, trusted: list[str], expected: str
) -> None:
    scope = {"client": (peer, 1234), "headers": [(b"x-forwarded-for", forwarded.encode())]}
    assert ClientAddress(trusted).of(scope) == expected


def test_rate_limit_answers_429_with_retry_after_per_client() -> None:
    clients = ClientAddress(["*"])  # the test client stands in for a trusted proxy
    app = RateLimit(echo_app(), 3, clients, GENERATION_PATHS)
    client = TestClient(app)
    alice = {"X-Forwarded-For": "198.51.100.1"}
    # Methods a limited path does not answer (405 from the app) use up none of the budget.
    assert all(client.get("/chat", headers=alice).status_code == 405 for _ in range(5))
    codes = [client.post("/chat", content=b"{}", headers=alice).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.post("/chat", content=b"{}", headers=alice)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
    bob = client.post("/chat", content=b"{}", headers={"X-Forwarded-For": "198.51.100.2"})
    assert bob.status_code == 200
    assert all(client.get("/health").status_code == 200 for _ in range(5))  # exempt


def test_no_waiting_still_serves_when_a_slot_is_free() -> None:
    gate = SlotPool(limit=1, per_client=1, wait=0)
    app = GenerationGate(echo_app(), gate, ClientAddress([]), GENERATION_PATHS)
    assert TestClient(app).post("/stream-chat").status_code == 200


def test_excess_answers_wait_then_get_503_with_retry_after() -> None:
    gate = SlotPool(limit=1, per_client=1, wait=0.1)
    app = GenerationGate(echo_app(), gate, ClientAddress(["*"]), GENERATION_PATHS)
    results: list[int] = []
    with TestClient(app) as client:

        def ask(n: int) -> None:
            sent = client.post("/stream-chat", headers={"X-Forwarded-For": f"198.51.100.{n}"})
            results.append(sent.status_code)
            if sent.status_code == 503:
                assert sent.headers["retry-after"] == "1"

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [200, 503, 503]  # three readers, one slot
        assert client.post("/stream-chat").status_code == 200  # the slot was given back


def test_bad_input_is_not_kept_waiting_for_a_slot() -> None:
    held, done = threading.Event(), threading.Event()
    app = FastAPI()

    @app.post("/stream-chat")
    async def holds_its_slot() -> dict[str, bool]:
        held.set()
        while not done.is_set():
            await anyio.sleep(0.01)
        return {"ok": True}

    @app.post("/chat")
    async def chat(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    gate = SlotPool(limit=1, per_client=1, wait=30)
    admits = lambda scope, body: body != b"{bad"  # noqa: E731
    guarded = GenerationGate(app, gate, ClientAddress([]), GENERATION_PATHS, admits)
    with TestClient(guarded) as client:
        holder = threading.Thread(target=lambda: client.post("/stream-chat"))
        holder.start()
        assert held.wait(10)
        bad = client.post("/chat", content=b"{bad")  # straight through, to be refused
        still_held = not done.is_set() and gate.held("testclient") == 1
        done.set()
        holder.join()
        good = client.post("/chat", content=b'{"question": "rain"}')  # the slot is free again
    assert bad.json() == {"size": 4} and still_held
    assert good.status_code == 200 and gate.held("testclient") == 0


def test_one_json_log_line_per_request_without_the_question(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    app = RequestLog(echo_app(), metrics, log_questions=False, client=lambda s: "c")
    client = TestClient(app)
    with caplog.at_level(logging.INFO, logger="bookrag.access"):
        response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "bookrag.access"]
    assert line["request_id"] == "abc-123" and line["route"] == "/health"
    assert line["status"] == 200 and line["degraded"] is True
    assert line["latency_ms"] >= 0 and "retrieval_ms" in line
    assert "question" not in line
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32
    samples = {s.name: s for m in metrics.registry.collect() for s in m.samples}
    assert samples["bookrag_requests_total"].value >= 1


def test_no_log_line_shows_a_password_in_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OpenAI SDK's HTTP client logs each request's URL at INFO, and an
    # `OPENAI_BASE_URL` may carry a password.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(access_log, "handlers", [])
    monkeypatch.setattr(access_log, "propagate", True)
    for name in ("httpx", "httpx2", "httpcore", "urllib3"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    log_to_console()
    assert not logging.getLogger("httpx2").isEnabledFor(logging.INFO)
    assert all(isinstance(h.formatter, Redacting) for h in [*root.handlers, *access_log.handlers])
    record = logging.LogRecord(
        "bookrag", logging.WARNING, __file__, 1, "POST %s failed", ("http://bot:Pa55@h:1/v1",), None
    )
    line = Redacting("%(message)s").format(record)
    assert line == "POST http://bot:***@h:1/v1 failed"
    at_sign = logging.LogRecord("x", logging.INFO, __file__, 1, "http://bot:p@ss@h/v1", (), None)
    assert Redacting("%(message)s").format(at_sign) == "http://bot:***@h/v1"  # as httpx reads it
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "see https://h/a:b@c", (), None)
    assert Redacting("%(message)s").format(plain) == "see https://h/a:b@c"  # no userinfo there


@pytest.mark.parametrize(
    ("body", "status"),
    [(b'{"question": "rain", "x": [[], {}]}', 200), (b'{"question": "rain", "x": [[], {} ', 400)],
)
def test_a_chat_body_is_parsed_once(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, status: int
) -> None:
    # The gate handing out answer slots reads the body to let bad input through at once; the
    # route takes the value (or the error) it read. A body of a million tiny JSON values takes
    # a tenth of a second to parse, on the event loop: a client must not get that done twice.
    parsed: list[bytes] = []
    read_json = strict_json.read_json

    def counted(data: bytes) -> object:
        parsed.append(data)
        return read_json(data)

    monkeypatch.setattr(strict_json, "read_json", counted)
    monkeypatch.setattr(app_module, "read_json", counted, raising=False)  # where it was read
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=sample_docs)
    with TestClient(create_app(settings)) as client:
        response = client.post("/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert parsed == [body]


def test_a_client_over_its_rate_is_refused_before_its_body_is_read(
    tmp_path: Path, sample_docs: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=sample_docs, rate_limit=1)
    oversized = b"x" * (settings.max_body_bytes + 1)
    with TestClient(create_app(settings)) as client:
        first = client.post("/chat", json={"question": "How much rain is one tip?"})
        second = client.post("/chat", content=oversized)
    assert first.status_code == 200
    assert second.status_code == 429  # not 413: the body was never read
