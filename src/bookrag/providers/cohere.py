"""Cohere (v2 API, official SDK) as embedder, reranker and chat model.

SDK retries are off: `base.RetryPolicy` retries once, for every provider. SDK and
transport exceptions become `bookrag.errors` here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import cohere
import httpx
import pydantic
from cohere.base_client import BaseCohere
from cohere.core.api_error import ApiError
from cohere.core.request_options import RequestOptions
from pydantic import SecretStr

from bookrag.errors import (
    InvalidCredentials,
    RequestRefused,
    RetryableUpstreamError,
    UpstreamError,
)
from bookrag.providers.base import (
    ChatPrompt,
    Generation,
    InputType,
    SourceDocument,
    SpanCitation,
    StreamItem,
)
from bookrag.providers.deadline import within
from bookrag.providers.replies import answered, reason, retry_after

EMBED_BATCH = 96  # the most texts Cohere embeds in one call
KEY_CHECK_TIMEOUT = 3  # seconds: a health probe must stay cheap


def make_clients(
    api_key: str, base_url: str | None, timeout: float
) -> tuple[cohere.ClientV2, cohere.AsyncClientV2, httpx.Client, httpx.AsyncClient]:
    """A sync and an async client sharing the key, address and timeout, SDK retries off,
    with the HTTP clients under them (ours to close)."""
    http = httpx.Client(timeout=timeout)
    async_http = httpx.AsyncClient(timeout=timeout)
    options: dict[str, Any] = {"timeout": timeout, "max_retries": 0}
    if base_url:
        options["base_url"] = base_url.rstrip("/")
    sync_client = cohere.ClientV2(api_key=api_key, httpx_client=http, **options)
    async_client = cohere.AsyncClientV2(api_key=api_key, httpx_client=async_http, **options)
    return sync_client, async_client, http, async_http


@contextmanager
def translated(operation: str, key: SecretStr | None = None) -> Iterator[None]:
    """Turn Cohere SDK and transport failures into bookrag errors, which carry Cohere's own
    reason (never the `key`)."""
    try:
        yield
    except ApiError as exc:
        raise _from_api_error(operation, exc, key) from exc
    except httpx.TimeoutException as exc:
        raise RetryableUpstreamError(f"Cohere {operation} timed out") from exc
    except httpx.TransportError as exc:
        raise RetryableUpstreamError(
            f"Cohere {operation}: connection failed ({type(exc).__name__})",
            unreachable=isinstance(exc, httpx.ConnectError),
        ) from exc
    except (json.JSONDecodeError, pydantic.ValidationError) as exc:
        raise RetryableUpstreamError(f"Cohere {operation}: malformed response") from exc


def _from_api_error(operation: str, exc: ApiError, key: SecretStr | None) -> UpstreamError:
    status = exc.status_code or 0
    if status in (401, 403):  # our words: its own may quote the key
        return InvalidCredentials(f"Cohere rejected COHERE_API_KEY ({status}) during {operation}")
    secret = key.get_secret_value() if key is not None else None
    message = answered("Cohere", operation, status, exc.body, secret)
    if status == 429 or status >= 500 or status in (408, 409):
        return RetryableUpstreamError(
            message, retry_after=retry_after(exc.headers), rate_limited=status == 429
        )
    if status == 200:  # a 2xx whose body could not be read
        return RetryableUpstreamError(f"Cohere {operation}: malformed response")
    if 400 <= status < 500:
        return RequestRefused(message)
    return UpstreamError(message)


class _CohereModel:
    """One Cohere model called with the client; each try ends by the answer's deadline."""

    service = "Cohere"

    def __init__(
        self,
        client: cohere.ClientV2,
        model: str,
        key: SecretStr | None = None,
        *,
        timeout: float,
    ) -> None:
        self.client = client
        self.model = model
        self.key = key  # kept out of error messages
        self.timeout = timeout


class CohereEmbedder(_CohereModel):
    """Embeddings for chunks (`search_document`) and questions (`search_query`)."""

    batch_size = EMBED_BATCH

    def embed_batch(self, texts: Sequence[str], input_type: InputType) -> list[list[float]]:
        with translated("embed", self.key):
            response = self.client.embed(
                model=self.model,
                texts=list(texts),
                input_type=input_type,
                embedding_types=["float"],
                request_options=_in_time(self.timeout),
            )
        floats = response.embeddings.float_ if response.embeddings else None
        if not floats or len(floats) != len(texts):
            raise RetryableUpstreamError("Cohere embed: response without the embeddings asked for")
        return [list(v) for v in floats]


class CohereReranker(_CohereModel):
    """The candidates reordered by how well each answers the query."""

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        with translated("rerank", self.key):
            response = self.client.rerank(
                model=self.model,
                query=query,
                documents=list(documents),
                top_n=top_n,
                request_options=_in_time(self.timeout),
            )
        ranked = [(r.index, r.relevance_score) for r in response.results or []]
        if not _ranks(ranked, len(documents), min(top_n, len(documents))):
            raise RetryableUpstreamError("Cohere rerank: malformed response (not a ranking)")
        return sorted(ranked, key=lambda pair: -pair[1])


class CohereChat:
    """Grounded generation with `documents` and citations (chat v2)."""

    service = "Cohere"

    def __init__(
        self,
        client: cohere.ClientV2,
        async_client: cohere.AsyncClientV2,
        model: str,
        temperature: float,
        max_tokens: int,
        key: SecretStr | None = None,
        *,
        timeout: float,
    ) -> None:
        self.client = client
        self.async_client = async_client
        self.key = key  # kept out of error messages
        self.timeout = timeout
        self.name = f"cohere:{model}"
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _request(self, prompt: ChatPrompt) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages(prompt.system, prompt.question),
            "temperature": self.temperature,
            "max_tokens": prompt.max_tokens or self.max_tokens,
        }
        if prompt.documents:
            request["documents"] = [_document(d) for d in prompt.documents]
            # FAST: every chat model takes it (command-a-03-2025, the default, and command-r7b
            # refuse "ACCURATE"), and a stream gets each citation right after the text it
            # cites rather than all of them at the end.
            request["citation_options"] = {"mode": "FAST"}
        return request

    def generate(self, prompt: ChatPrompt) -> Generation:
        with translated("chat", self.key):
            response = self.client.chat(
                **self._request(prompt), request_options=_in_time(self.timeout)
            )
        content = response.message.content or []
        text = "".join(getattr(item, "text", "") or "" for item in content)
        citations = tuple(_span(c) for c in response.message.citations or [])
        finish = response.finish_reason
        truncated = _cut_short("chat", finish, None, self.key)
        return Generation(text, citations, truncated=truncated, finish_reason=finish)

    async def stream(self, prompt: ChatPrompt) -> AsyncIterator[StreamItem]:
        pieces: list[str] = []
        citations: list[SpanCitation] = []
        end = None  # the `message-end` event: a stream without one was cut short
        with translated("chat stream", self.key):
            async for event in self.async_client.chat_stream(**self._request(prompt)):
                if event.type == "content-delta":
                    text = _delta_text(event)
                    if text:
                        pieces.append(text)
                        yield text
                elif event.type == "citation-start":
                    cited = _delta_citation(event)
                    if cited is not None:
                        citations.append(_span(cited))
                        yield citations[-1]
                elif event.type == "message-end":
                    end = event
        if end is None:
            raise RetryableUpstreamError("Cohere chat stream ended before its message-end")
        finish, error = _path(end, "delta", "finish_reason"), _path(end, "delta", "error")
        truncated = _cut_short("chat stream", finish, error, self.key)
        answer = "".join(pieces)
        yield Generation(answer, tuple(citations), truncated=truncated, finish_reason=finish)

    def check_key(self) -> bool | None:
        """True if Cohere accepts the key (one cheap call, no tokens spent); None when the
        deployment at COHERE_BASE_URL has no key check to call (a 404 or 405 for it)."""
        with translated("check-api-key", self.key):
            try:
                # ClientV2 hides the v1 endpoint behind a deprecation error; the base client
                # has it.
                response = BaseCohere.check_api_key(
                    self.client, request_options={"timeout_in_seconds": KEY_CHECK_TIMEOUT}
                )
            except ApiError as exc:
                if exc.status_code in (404, 405):  # a proxy or private deployment without it
                    return None
                raise
            return bool(response.valid)


def _in_time(timeout: float) -> RequestOptions:
    """A try's options: it times out at the answer's deadline if that comes first."""
    return {"timeout": within(timeout)}


def _cut_short(operation: str, finish: Any, error: Any, key: SecretStr | None) -> bool:
    """Whether a reply Cohere finished with `finish` stopped at its token limit (MAX_TOKENS);
    one it could not finish (ERROR, TIMEOUT) raises `RetryableUpstreamError`."""
    if finish in ("ERROR", "TIMEOUT"):
        said = reason(error, key.get_secret_value() if key is not None else None)
        raise RetryableUpstreamError(
            f"Cohere {operation} stopped with {finish}" + (f": {said}" if said else "")
        )
    return bool(finish == "MAX_TOKENS")


def _ranks(ranked: list[tuple[Any, Any]], documents: int, wanted: int) -> bool:
    """Whether a rerank reply ranks at least `wanted` of the `documents`, each once, by a
    score from 0 to 1 (the SDK does not check its reply: a proxy may send anything)."""
    indexes = [i for i, _ in ranked if type(i) is int and 0 <= i < documents]
    scores = [s for _, s in ranked if isinstance(s, (int, float)) and 0 <= s <= 1]
    return len(set(indexes)) == len(scores) == len(ranked) >= wanted


def _document(doc: SourceDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "data": {"title": doc.title, "section": doc.section, "url": doc.url, "text": doc.text},
    }


def _span(citation: Any) -> SpanCitation:
    ids = tuple(str(s.id) for s in citation.sources or [] if getattr(s, "id", None))
    return SpanCitation(citation.start or 0, citation.end or 0, citation.text or "", ids)


def _path(obj: Any, *names: str) -> Any:
    for name in names:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _delta_text(event: Any) -> str | None:
    text: str | None = _path(event, "delta", "message", "content", "text")
    return text


def _delta_citation(event: Any) -> Any:
    return _path(event, "delta", "message", "citations")
