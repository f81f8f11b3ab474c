"""One deadline for all the provider calls of an answer (BOOKRAG_ANSWER_DEADLINE): once it
has passed no call is started and no retry waited for, and the answer degrades as for any
failure; a try under way times out at it. Checked by the calls the fake Cohere receives and
the answers' modes, not by timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookrag.api.app import create_app
from bookrag.config import load_settings
from fakes import FakeCohere, FakeOpenAI

RAIN_PAGE = "https://pocket-weather.example.org/docs/sensors/rain-wind"
QUESTION = {"question": "How much rain is one tip of the bucket?"}


@pytest.fixture
def fake() -> Iterator[FakeCohere]:
    with FakeCohere(dims={"embed-english-v3.0": 64}) as server:
        yield server


def serve(fake: FakeCohere, tmp_path: Path, docs: Path, deadline: float) -> TestClient:
    settings = load_settings(
        data_dir=tmp_path / "data",
        docs_dir=docs,
        cohere_api_key="test-key",
        cohere_base_url=fake.url,
        retry_budget=15.0,
        upstream_timeout=10.0,
        answer_deadline=deadline,
    )
    return TestClient(create_app(settings))


def streamed(client: TestClient) -> dict[str, Any]:
    """The final answer of `/stream-chat` for QUESTION."""
    with client.stream("POST", "/stream-chat", json=QUESTION) as response:
        text = "".join(response.iter_text())
    data = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    answer: dict[str, Any] = json.loads(json.loads(data[-1])["response"])
    return answer


@pytest.mark.parametrize("route", ["/chat", "/stream-chat"])
def test_no_call_is_started_once_the_answers_deadline_has_passed(
    fake: FakeCohere, tmp_path: Path, sample_docs: Path, route: str
) -> None:
    # A slow provider: the question's embedding takes longer than the whole deadline. Its try
    # times out at the deadline, and neither reranking nor the chat model is called after it:
    # the answer is the book's own sentences.
    with serve(fake, tmp_path, sample_docs, deadline=0.5) as client:
        fake.reset()
        fake.delay("/v2/embed", 1.0)
        body = streamed(client) if route == "/stream-chat" else client.post(route, json=QUESTION)
        body = body if isinstance(body, dict) else body.json()
    assert len(fake.calls("/v2/embed")) == 1
    assert fake.calls("/v2/rerank") == [] and fake.calls("/v2/chat") == []
    assert body["mode"] == "extractive" and body["degraded"] is True
    assert body["sources"][0].startswith(RAIN_PAGE)


def test_a_generation_under_way_times_out_at_the_deadline(
    fake: FakeCohere, tmp_path: Path, sample_docs: Path
) -> None:
    # The chat model answers after 5 s, well within BOOKRAG_UPSTREAM_TIMEOUT (10 s) but past
    # the answer's 1 s deadline: the try is cut at the deadline, not waited for, and the
    # reader gets the book's own sentences. Before, it was waited for to its end.
    with serve(fake, tmp_path, sample_docs, deadline=1.0) as client:
        fake.reset()
        fake.delay("/v2/chat", 5.0)
        body = client.post("/chat", json=QUESTION).json()
    assert len(fake.calls("/v2/chat")) == 1
    assert body["mode"] == "extractive" and body["degraded"] is True
    assert body["sources"][0].startswith(RAIN_PAGE)


def test_an_openai_compatible_generation_times_out_at_the_deadline(
    tmp_path: Path, sample_docs: Path
) -> None:
    with FakeOpenAI(models=("llama3.1",)) as endpoint:
        settings = load_settings(
            data_dir=tmp_path / "data",
            docs_dir=sample_docs,
            openai_base_url=endpoint.url,
            openai_model="llama3.1",
            openai_api_key="test-key",
            upstream_timeout=10.0,
            answer_deadline=1.0,
        )
        with TestClient(create_app(settings)) as client:
            endpoint.delay("/v1/chat/completions", 5.0)
            body = client.post("/chat", json=QUESTION).json()
        assert len(endpoint.calls("/v1/chat/completions")) == 1
    assert body["mode"] == "extractive" and body["degraded"] is True


def test_a_retry_is_not_waited_for_past_the_deadline_nor_rests_the_provider(
    fake: FakeCohere, tmp_path: Path, sample_docs: Path
) -> None:
    # A rate limit asking for 5 s, within the call's 15 s budget but past the answer's 1 s
    # deadline: the question is searched lexically now rather than retried, and the endpoint
    # is not rested for the next reader, whose deadline is their own.
    with serve(fake, tmp_path, sample_docs, deadline=1.0) as client:
        fake.reset()
        fake.fail("/v2/embed", status=429, retry_after=5, times=1)
        first = client.post("/chat", json=QUESTION).json()
        assert len(fake.calls("/v2/embed")) == 1
        assert first["degraded"] is True and first["sources"][0].startswith(RAIN_PAGE)
        second = client.post("/chat", json=QUESTION).json()
    assert len(fake.calls("/v2/embed")) == 2
    assert second["mode"] == "generative" and second["degraded"] is False


def test_no_deadline_when_set_to_zero(fake: FakeCohere, tmp_path: Path, sample_docs: Path) -> None:
    with serve(fake, tmp_path, sample_docs, deadline=0) as client:
        fake.reset()
        fake.delay("/v2/embed", 1.0)
        body = client.post("/chat", json=QUESTION).json()
    assert fake.calls("/v2/rerank") and fake.calls("/v2/chat")
    assert body["mode"] == "generative" and body["degraded"] is False
