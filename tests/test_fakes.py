"""The fake Cohere and OpenAI servers, driven through the official SDKs over real HTTP."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import cohere
import httpx
import httpx2
import openai
import pytest
from cohere.base_client import BaseCohere
from cohere.core.api_error import ApiError
from fastapi import FastAPI

from fakes import FakeCohere, FakeOpenAI, ServedApp

DOCS = [
    {"id": "rain", "data": {"title": "Rain", "text": "The bucket tips at 0.2 mm. Then it resets."}},
    {"id": "wind", "data": {"title": "Wind", "text": "The cups spin in the wind."}},
]
ASK = [{"role": "user", "content": "How much rain does one tip measure?"}]
SOURCES = (
    "Sources:\n\n[1] Rain › Gauge\nThe bucket tips at 0.2 mm. Then it resets.\n\n"
    "[2] Wind\nThe cups spin.\n\nQuestion: How much rain does one tip measure?"
)
OPENAI_ASK = [{"role": "system", "content": "Cite sources."}, {"role": "user", "content": SOURCES}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_cohere() -> Iterator[FakeCohere]:
    with FakeCohere(dims={"embed-multilingual-v3.0": 48}) as fake:
        yield fake


@pytest.fixture
def co(fake_cohere: FakeCohere) -> Iterator[cohere.ClientV2]:
    with cohere.ClientV2(api_key="test-key", base_url=fake_cohere.url, max_retries=0) as client:
        yield client


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["fake-model", "other-model"]) as fake:
        yield fake


@pytest.fixture
def oa(fake_openai: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test-key", base_url=fake_openai.url, max_retries=0) as client:
        yield client


def embed(client: cohere.ClientV2, texts: list[str], model: str = "embed-english-v3.0") -> Any:
    return client.embed(
        model=model, texts=texts, input_type="search_document", embedding_types=["float"]
    ).embeddings.float_


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# -- ServedApp --------------------------------------------------------------------------


def test_served_app_answers_on_a_free_port_and_leaves_no_thread_behind() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    served = ServedApp(app)
    with pytest.raises(RuntimeError):
        served.url  # noqa: B018 - not started yet
    with served:
        assert served.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{served.url}/ping").json() == {"pong": "yes"}
    assert not [t for t in threading.enumerate() if t.name == "fake-server"]


# -- Cohere: endpoints ------------------------------------------------------------------


def test_check_api_key_accepts_the_fake_key(co: cohere.ClientV2) -> None:
    # ClientV2.check_api_key is a stub that raises ValueError in cohere 7.x; the real call
    # lives on BaseCohere.
    response = BaseCohere.check_api_key(co)
    assert (response.valid, response.organization_id, response.owner_id) == (True, "org", "owner")


def test_a_wrong_key_is_401_with_a_message_on_every_endpoint(fake_cohere: FakeCohere) -> None:
    with cohere.ClientV2(api_key="wrong", base_url=fake_cohere.url, max_retries=0) as client:
        calls = [
            lambda: BaseCohere.check_api_key(client),
            lambda: embed(client, ["x"]),
            lambda: client.rerank(model="r", query="q", documents=["d"]),
            lambda: client.chat(model="c", messages=ASK),
            lambda: list(client.chat_stream(model="c", messages=ASK)),
        ]
        for call in calls:
            with pytest.raises(cohere.UnauthorizedError) as caught:
                call()
            assert caught.value.status_code == 401
            assert caught.value.body == {"message": "invalid api token"}


def test_embeddings_are_unit_vectors_of_the_model_dimension(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    english = embed(co, ["The rain gauge", ""])
    multilingual = embed(co, ["The rain gauge"], model="embed-multilingual-v3.0")
    assert [len(v) for v in english] == [64, 64]
    assert len(multilingual[0]) == 48
    assert all(math.isclose(cosine(v, v), 1.0) for v in [*english, *multilingual])
    assert embed(co, ["the RAIN gauge"])[0] == english[0]  # deterministic, case-blind
    body = fake_cohere.calls("/v2/embed")[0].json
    assert body["texts"] == ["The rain gauge", ""]
    assert body["input_type"] == "search_document"
    assert body["embedding_types"] == ["float"]


def test_texts_sharing_words_embed_closer_than_unrelated_texts(co: cohere.ClientV2) -> None:
    query, near, far = embed(
        co, ["rain gauge bucket", "the rain gauge bucket tips", "wind vane cups spin"]
    )
    assert cosine(query, near) > 0.5 > cosine(query, far)


def test_rerank_puts_documents_sharing_more_query_words_first(co: cohere.ClientV2) -> None:
    documents = ["wind cups spin", "the rain gauge tips its bucket", "a rain barrel"]
    response = co.rerank(
        model="rerank-v3.5", query="How does the rain gauge bucket work?", documents=documents
    )
    ranked = [(r.index, round(r.relevance_score, 3)) for r in response.results]
    # distinct query words longer than two letters: how, does, the, rain, gauge, bucket, work
    assert ranked == [(1, round(4 / 7, 3)), (2, round(1 / 7, 3)), (0, 0.0)]
    top = co.rerank(model="rerank-v3.5", query="rain gauge", documents=documents, top_n=1)
    assert [r.index for r in top.results] == [1]


def test_chat_quotes_and_cites_the_first_documents_first_sentence(co: cohere.ClientV2) -> None:
    response = co.chat(model="command-r", messages=ASK, documents=DOCS)
    text = response.message.content[0].text
    assert text == "According to the book, The bucket tips at 0.2 mm."
    assert response.finish_reason == "COMPLETE"
    [citation] = response.message.citations
    assert text[citation.start : citation.end] == citation.text == "The bucket tips at 0.2 mm."
    [source] = citation.sources
    assert (source.type, source.id, source.document["title"]) == ("document", "rain", "Rain")


def test_chat_without_documents_does_not_know(co: cohere.ClientV2) -> None:
    response = co.chat(model="command-r", messages=ASK)
    assert response.message.content[0].text == "I don't know."
    assert not response.message.citations


def test_enqueued_replies_answer_the_next_chats_in_order(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.enqueue_chat("Wind and rain.", citations=[(0, 4, ["wind"]), (9, 13, ["rain"])])
    fake_cohere.enqueue_chat("Streamed reply.")
    first = co.chat(model="c", messages=ASK, documents=DOCS)
    assert first.message.content[0].text == "Wind and rain."
    assert [(c.text, c.sources[0].id) for c in first.message.citations] == [
        ("Wind", "wind"),
        ("rain", "rain"),
    ]
    streamed = co.chat_stream(model="c", messages=ASK, documents=DOCS)
    deltas = [e.delta.message.content.text for e in streamed if e.type == "content-delta"]
    assert "".join(deltas) == "Streamed reply."
    assert co.chat(model="c", messages=ASK).message.content[0].text == "I don't know."


def test_chat_stream_sends_deltas_then_a_citation_naming_the_document(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    events = list(co.chat_stream(model="command-r", messages=ASK, documents=DOCS))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message-start", "content-start"]
    assert kinds[-4:] == ["citation-start", "citation-end", "content-end", "message-end"]
    deltas = [e.delta.message.content.text for e in events if e.type == "content-delta"]
    assert len(deltas) == 10  # one per word
    assert "".join(deltas) == "According to the book, The bucket tips at 0.2 mm."
    citation = events[kinds.index("citation-start")].delta.message.citations
    assert citation.text == "The bucket tips at 0.2 mm."
    assert [s.id for s in citation.sources] == ["rain"]
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert fake_cohere.calls("/v2/chat")[0].json["stream"] is True


@pytest.mark.anyio
async def test_async_chat_stream_yields_the_same_events(fake_cohere: FakeCohere) -> None:
    async with cohere.AsyncClientV2(
        api_key="test-key", base_url=fake_cohere.url, max_retries=0
    ) as client:
        events = [e async for e in client.chat_stream(model="c", messages=ASK, documents=DOCS)]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "According to the book, The bucket tips at 0.2 mm."
    [start] = [e for e in events if e.type == "citation-start"]
    assert start.delta.message.citations.sources[0].id == "rain"


def test_a_reply_past_max_tokens_stops_there_with_max_tokens(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    whole = co.chat(model="c", messages=ASK, documents=DOCS, max_tokens=100)
    cut = co.chat(model="c", messages=ASK, documents=DOCS, max_tokens=4)
    events = list(co.chat_stream(model="c", messages=ASK, documents=DOCS, max_tokens=4))
    assert whole.finish_reason == "COMPLETE"
    assert (
        cut.finish_reason == "MAX_TOKENS"
        and cut.message.content[0].text == "According to the book, "
    )
    assert not cut.message.citations  # its span was not written
    assert events[-1].type == "message-end" and events[-1].delta.finish_reason == "MAX_TOKENS"
    fake_cohere.reply_token_cost = 2  # a word takes two tokens: half the words fit
    halved = co.chat(model="c", messages=ASK, documents=DOCS, max_tokens=4)
    assert halved.message.content[0].text == "According to "


def test_end_reply_ends_a_chat_as_scripted(co: cohere.ClientV2, fake_cohere: FakeCohere) -> None:
    fake_cohere.end_reply("ERROR")
    fake_cohere.end_reply("TIMEOUT")
    fake_cohere.end_reply(None)
    assert co.chat(model="c", messages=ASK, documents=DOCS).finish_reason == "ERROR"
    [end] = [e for e in co.chat_stream(model="c", messages=ASK) if e.type == "message-end"]
    assert end.delta.finish_reason == "TIMEOUT" and end.delta.error
    events = list(co.chat_stream(model="c", messages=ASK, documents=DOCS))
    assert [e.type for e in events][-2:] == ["citation-start", "citation-end"]  # no end


# -- Cohere: faults ---------------------------------------------------------------------


def test_429_raises_too_many_requests_with_retry_after_visible(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.fail("/v2/embed", status=429, retry_after=1)
    with pytest.raises(cohere.TooManyRequestsError) as caught:
        embed(co, ["x"])
    assert caught.value.status_code == 429
    assert caught.value.headers is not None and caught.value.headers["retry-after"] == "1"
    assert len(embed(co, ["x"])) == 1  # the fault is used up


def test_500_raises_internal_server_error(co: cohere.ClientV2, fake_cohere: FakeCohere) -> None:
    fake_cohere.fail("/v2/rerank", status=500)
    with pytest.raises(cohere.InternalServerError) as caught:
        co.rerank(model="r", query="rain", documents=["rain"])
    assert caught.value.status_code == 500


def test_faults_are_consumed_in_order_per_path(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.fail("/v2/chat", status=503, times=2)
    fake_cohere.fail("/v2/chat", status=500)
    for expected in (cohere.ServiceUnavailableError, cohere.ServiceUnavailableError):
        with pytest.raises(expected):
            co.chat(model="c", messages=ASK)
    assert len(embed(co, ["unaffected path"])) == 1
    with pytest.raises(cohere.InternalServerError):
        co.chat(model="c", messages=ASK)
    assert co.chat(model="c", messages=ASK).message.content[0].text == "I don't know."


def test_sdk_retries_honour_the_retry_after_headers(fake_cohere: FakeCohere) -> None:
    fake_cohere.fail("/v2/embed", status=429, retry_after=0.05)
    with cohere.ClientV2(api_key="test-key", base_url=fake_cohere.url) as client:  # 2 retries
        assert len(embed(client, ["x"])) == 1
    assert len(fake_cohere.calls("/v2/embed")) == 2


def test_a_malformed_body_raises_api_error_with_status_200(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.malformed("/v2/embed")
    with pytest.raises(ApiError) as caught:
        embed(co, ["x"])
    assert caught.value.status_code == 200
    assert isinstance(caught.value.body, str)


def test_a_delay_longer_than_the_timeout_raises_read_timeout(fake_cohere: FakeCohere) -> None:
    fake_cohere.delay("/v2/rerank", 0.2)
    client = cohere.ClientV2(
        api_key="test-key", base_url=fake_cohere.url, max_retries=0, timeout=0.05
    )
    with client, pytest.raises(httpx.ReadTimeout):
        client.rerank(model="r", query="rain", documents=["rain"])
    fake_cohere.delay("/v2/rerank", 0.1)
    with cohere.ClientV2(api_key="test-key", base_url=fake_cohere.url, max_retries=0) as client:
        started = time.monotonic()
        client.rerank(model="r", query="rain", documents=["rain"])
        assert time.monotonic() - started >= 0.1


def test_a_cut_stream_raises_remote_protocol_error_mid_iteration(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.cut_stream(after_tokens=3)
    deltas: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        for event in co.chat_stream(model="c", messages=ASK, documents=DOCS):
            if event.type == "content-delta":
                deltas.append(event.delta.message.content.text)
    assert deltas == ["According ", "to ", "the "]
    whole = list(co.chat_stream(model="c", messages=ASK, documents=DOCS))
    assert whole[-1].type == "message-end"  # the next stream is whole again


@pytest.mark.anyio
async def test_async_cut_stream_raises_remote_protocol_error(fake_cohere: FakeCohere) -> None:
    fake_cohere.cut_stream(after_tokens=1)
    async with cohere.AsyncClientV2(
        api_key="test-key", base_url=fake_cohere.url, max_retries=0
    ) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async for _ in client.chat_stream(model="c", messages=ASK, documents=DOCS):
                pass


def test_stream_token_delay_spaces_out_the_deltas(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.stream_token_delay(0.03)
    started = time.monotonic()
    events = list(co.chat_stream(model="c", messages=ASK, documents=DOCS))
    assert time.monotonic() - started >= 10 * 0.03
    assert events[-1].type == "message-end"


def test_recorder_keeps_requests_without_the_key_and_reset_forgets(
    co: cohere.ClientV2, fake_cohere: FakeCohere
) -> None:
    fake_cohere.fail("/v2/embed", times=3)
    co.rerank(model="r", query="rain", documents=["rain"])
    [request] = fake_cohere.requests
    assert (request.method, request.path) == ("POST", "/v2/rerank")
    assert request.json["query"] == "rain"
    assert request.headers["authorization"] == "<redacted>"
    assert "test-key" not in json.dumps(request.headers)
    fake_cohere.reset()
    assert fake_cohere.requests == []
    assert len(embed(co, ["x"])) == 1  # the queued failures are gone too


# -- OpenAI -----------------------------------------------------------------------------


def test_openai_models_lists_the_configured_models(oa: openai.OpenAI) -> None:
    assert [m.id for m in oa.models.list()] == ["fake-model", "other-model"]


def test_openai_chat_quotes_the_first_numbered_source_and_cites_it(
    oa: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    completion = oa.chat.completions.create(model="fake-model", messages=OPENAI_ASK)
    assert completion.choices[0].message.content == "The bucket tips at 0.2 mm. [1]"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    recorded = fake_openai.calls("/v1/chat/completions")[0]
    assert recorded.json["messages"] == OPENAI_ASK
    assert recorded.headers["authorization"] == "<redacted>"


def test_openai_chat_without_sources_does_not_know(oa: openai.OpenAI) -> None:
    completion = oa.chat.completions.create(model="m", messages=ASK)
    assert completion.choices[0].message.content == "I don't know."


def test_openai_stream_sends_chunks_then_done(oa: openai.OpenAI) -> None:
    stream = oa.chat.completions.create(
        model="m", messages=OPENAI_ASK, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The bucket tips at 0.2 mm. [1]"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_openai_finish_reason_says_length_past_max_tokens_or_as_scripted(
    oa: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    cut = oa.chat.completions.create(model="m", messages=OPENAI_ASK, max_tokens=3)
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "The bucket tips "
    fake_openai.end_reply("content_filter")
    filtered = oa.chat.completions.create(model="m", messages=OPENAI_ASK)
    assert filtered.choices[0].finish_reason == "content_filter"
    fake_openai.end_reply(None)
    chunks = list(oa.chat.completions.create(model="m", messages=OPENAI_ASK, stream=True))
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)


def test_openai_enqueued_replies_come_first(oa: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue_chat("Scripted [2].")
    fake_openai.enqueue_chat("Scripted stream.")
    first = oa.chat.completions.create(model="m", messages=OPENAI_ASK)
    assert first.choices[0].message.content == "Scripted [2]."
    stream = oa.chat.completions.create(model="m", messages=OPENAI_ASK, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "Scripted stream."


def test_openai_faults_raise_the_sdks_status_errors(
    oa: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail("/v1/chat/completions", status=429, retry_after=2)
    fake_openai.fail("/v1/chat/completions", status=500)
    with pytest.raises(openai.RateLimitError) as limited:
        oa.chat.completions.create(model="m", messages=ASK)
    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError) as failed:
        oa.chat.completions.create(model="m", messages=ASK)
    assert failed.value.status_code == 500
    assert oa.chat.completions.create(model="m", messages=ASK).choices[0].message.content


def test_openai_wrong_key_raises_authentication_error(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(api_key="wrong", base_url=fake_openai.url, max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    assert caught.value.body == {  # as api.openai.com words it, quoting the key
        "message": "Incorrect API key provided: wrong. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }


def test_openai_malformed_body_raises_json_decode_error(
    oa: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    fake_openai.malformed("/v1/chat/completions")
    with pytest.raises(json.JSONDecodeError):
        oa.chat.completions.create(model="m", messages=ASK)


def test_openai_delay_past_the_timeout_raises_api_timeout_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.delay("/v1/models", 0.2)
    client = openai.OpenAI(
        api_key="test-key", base_url=fake_openai.url, max_retries=0, timeout=0.05
    )
    with client, pytest.raises(openai.APITimeoutError):
        client.models.list()


def test_openai_cut_stream_raises_api_connection_error(
    oa: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    fake_openai.cut_stream(after_tokens=2)
    pieces: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in oa.chat.completions.create(model="m", messages=OPENAI_ASK, stream=True):
            pieces.append(chunk.choices[0].delta.content or "")
    assert "".join(pieces) == "The bucket "
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)


@pytest.mark.anyio
async def test_openai_async_stream_and_cut(fake_openai: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(
        api_key="test-key", base_url=fake_openai.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=OPENAI_ASK, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert text == "The bucket tips at 0.2 mm. [1]"
        fake_openai.cut_stream(after_tokens=1)
        stream = await client.chat.completions.create(model="m", messages=OPENAI_ASK, stream=True)
        with pytest.raises(openai.APIConnectionError):
            async for _ in stream:
                pass
