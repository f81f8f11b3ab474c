"""A fake Cohere v2 API for tests that drive the official SDK (`cohere.ClientV2(base_url=...)`).

Answers are deterministic:

- embed: a signed, hashed bag of lower-cased words (crc32), normalised, so texts that
  share words are close; the dimension is `dim`, per model `dims`, or `output_dimension`.
- rerank: the share of the query's distinct words (longer than two letters) that the
  document contains, best first.
- chat: "According to the book, " plus the first sentence of the first document's `text`
  (or `snippet`), cited to that document; "I don't know." without documents. A reply
  queued with `enqueue_chat` replaces the next one, streamed or not. A reply longer than
  the request's `max_tokens` (each word `reply_token_cost` tokens) stops there, with
  `finish_reason` `MAX_TOKENS`, as Cohere's does; `end_reply` makes one end otherwise
  (`ERROR`, `TIMEOUT`, or a stream closed without its `message-end` event).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from fakes.server import FakeService, StreamCut

CitationSpec = tuple[int, int, Sequence[str]]  # (start, end, document ids)
# Chat models that cite only in "FAST" mode (or not at all, "OFF"): asked for "ACCURATE"
# citations, Cohere refuses the request (its API reference, `citation_options.mode`).
FAST_CITATIONS_ONLY = frozenset({"command-a-03-2025", "command-r7b-12-2024"})
PREFIX = "According to the book, "


@dataclass(frozen=True)
class Reply:
    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)  # wire-format citations


# Latin letters to Arabic ones: a "translation" into Urdu's script that keeps everything
# else (placeholders, digits, Markdown) as it was.
_URDU_LETTERS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "ابپتٹثجچحخدڈذرڑزژسشصضطظعغف" * 2
)


def in_urdu_letters(text: str) -> str:
    """`text` letter for letter in Urdu's script, as a fake translation."""
    return text.translate(_URDU_LETTERS)


class FakeCohere(FakeService):
    """Cohere's /v2/embed, /v2/rerank, /v2/chat and /v1/check-api-key, with faults."""

    def __init__(
        self, dim: int = 64, *, dims: Mapping[str, int] | None = None, api_key: str = "test-key"
    ) -> None:
        self.dim = dim
        self.dims = dict(dims or {})
        self.reply_token_cost = 1  # tokens a word of a reply takes (more in Urdu's script)
        self._reranks: deque[list[dict[str, Any]]] = deque()
        self._endings: deque[str | None] = deque()
        super().__init__(api_key)

    def enqueue_rerank(self, results: list[dict[str, Any]], times: int = 1) -> None:
        """Answer the next `times` reranks with these `results` as sent, right or wrong (an
        index out of range, fewer than asked for)."""
        with self._lock:
            self._reranks.extend([results] * times)

    def end_reply(self, finish_reason: str | None, times: int = 1) -> None:
        """End the next `times` chat replies with `finish_reason` (`ERROR` or `TIMEOUT`, with
        an `error` in a stream's `message-end`); None: a stream is closed after its text and
        citations, without its `message-end` event (a reply not streamed is as usual)."""
        with self._lock:
            self._endings.extend([finish_reason] * times)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._reranks.clear()
            self._endings.clear()
            self.reply_token_cost = 1

    def _ending(self, reply: Reply, max_tokens: int | None) -> tuple[Reply, str | None]:
        """The reply as the model ends it, and its finish_reason: cut after `max_tokens`
        (`MAX_TOKENS`, the citations of what is left kept), else as `end_reply` scripted."""
        with self._lock:
            scripted = self._endings.popleft() if self._endings else "COMPLETE"
        words = tokens(reply.text)
        if max_tokens is None or len(words) * self.reply_token_cost <= max_tokens:
            return reply, scripted
        text = "".join(words[: max_tokens // self.reply_token_cost])
        kept = [c for c in reply.citations if c["end"] <= len(text)]
        return Reply(text, kept), "MAX_TOKENS"

    def enqueue_chat(self, text: str, citations: Sequence[CitationSpec] = ()) -> None:
        """Script the next chat reply; each citation is (start, end, [document ids])."""
        self.push_reply((text, tuple(citations)))

    def build_app(self) -> FastAPI:
        app = FastAPI(title="fake Cohere")

        @app.post("/v1/check-api-key")
        async def check_api_key(request: Request) -> Response:
            _, early = await self.intercept(request)
            return early or JSONResponse(
                {"valid": True, "organization_id": "org", "owner_id": "owner"}
            )

        @app.post("/v2/embed")
        async def embed(request: Request) -> Response:
            body, early = await self.intercept(request)
            if early is not None:
                return early
            texts: list[str] = body.get("texts") or []
            dim = body.get("output_dimension") or self.dims.get(body.get("model", ""), self.dim)
            return JSONResponse(
                {
                    "id": str(uuid.uuid4()),
                    "texts": texts,
                    "embeddings": {"float": [embedding(t, dim) for t in texts]},
                    "meta": _meta(sum(len(words(t)) for t in texts)),
                    "response_type": "embeddings_by_type",
                }
            )

        @app.post("/v2/rerank")
        async def rerank(request: Request) -> Response:
            body, early = await self.intercept(request)
            if early is not None:
                return early
            scores = [relevance(body["query"], d) for d in body.get("documents") or []]
            ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
            top_n = body.get("top_n") or len(ranked)
            results = [{"index": i, "relevance_score": scores[i]} for i in ranked[:top_n]]
            with self._lock:
                results = self._reranks.popleft() if self._reranks else results
            return JSONResponse({"id": str(uuid.uuid4()), "results": results, "meta": {}})

        @app.post("/v2/chat")
        async def chat(request: Request) -> Response:
            body, early = await self.intercept(request)
            if early is not None:
                return early
            mode = (body.get("citation_options") or {}).get("mode")
            if body.get("model") in FAST_CITATIONS_ONLY and mode == "ACCURATE":
                message = f"citation mode {mode} is not supported for model {body['model']}"
                return JSONResponse({"message": f"invalid request: {message}"}, status_code=400)
            reply, finish = self._ending(self._reply(body), body.get("max_tokens"))
            if body.get("stream"):
                usage = _usage(body, reply.text)
                events = self._stream(reply, usage, self.next_cut(), self.token_delay, finish)
                return StreamingResponse(events, media_type="text/event-stream")
            message: dict[str, Any] = {
                "role": "assistant",
                "content": [{"type": "text", "text": reply.text}],
            }
            if reply.citations:
                message["citations"] = reply.citations
            return JSONResponse(
                {
                    "id": str(uuid.uuid4()),
                    "finish_reason": finish or "COMPLETE",
                    "message": message,
                    "usage": _usage(body, reply.text),
                }
            )

        return app

    def _reply(self, body: dict[str, Any]) -> Reply:
        documents = _documents(body.get("documents"))
        scripted = self.next_reply()
        if scripted is not None:
            text, specs = scripted
            return Reply(text, [_citation(text, s, e, ids, documents) for s, e, ids in specs])
        if not documents:
            return Reply("I don't know.")
        doc_id, data = next(iter(documents.items()))
        sentence = first_sentence(str(data.get("text") or data.get("snippet") or ""))
        if not sentence:
            return Reply("I don't know.")
        text = PREFIX + sentence
        return Reply(text, [_citation(text, len(PREFIX), len(text), [doc_id], documents)])

    async def _stream(
        self,
        reply: Reply,
        usage: dict[str, Any],
        cut: int | None,
        delay: float,
        finish: str | None = "COMPLETE",
    ) -> AsyncIterator[str]:
        """The v2 event sequence; each citation follows the delta that completes its span.
        It ends with `finish`, or (None) without `content-end` and `message-end`."""
        start = {"role": "assistant", "content": [], "tool_calls": [], "citations": []}
        yield _event("message-start", id=str(uuid.uuid4()), delta={"message": start})
        empty = {"type": "text", "text": ""}
        yield _event("content-start", index=0, delta={"message": {"content": empty}})
        pending = deque(enumerate(sorted(reply.citations, key=lambda c: c["end"])))
        position = 0
        for count, token in enumerate(tokens(reply.text)):
            if cut is not None and count >= cut:
                raise StreamCut(f"stream cut after {cut} tokens")
            if delay:
                await asyncio.sleep(delay)
            yield _event("content-delta", index=0, delta={"message": {"content": {"text": token}}})
            position += len(token)
            while pending and pending[0][1]["end"] <= position:
                for event in _citation_events(*pending.popleft()):
                    yield event
        if cut is not None:
            raise StreamCut(f"stream cut after {cut} tokens")
        while pending:  # spans past the end of a scripted text
            for event in _citation_events(*pending.popleft()):
                yield event
        if finish is None:
            return
        yield _event("content-end", index=0)
        end: dict[str, Any] = {"finish_reason": finish, "usage": usage}
        if finish in ("ERROR", "TIMEOUT"):
            end["error"] = f"the generation stopped: {finish.lower()}"
        yield _event("message-end", delta=end)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def embedding(text: str, dim: int) -> list[float]:
    """A unit vector: each word adds ±1 at a crc32-chosen coordinate (empty text: e0)."""
    vector = [0.0] * dim
    for word in words(text):
        digest = zlib.crc32(word.encode())
        vector[digest % dim] += 1.0 if digest & 0x80000000 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dim - 1)
    return [v / norm for v in vector]


def relevance(query: str, document: str) -> float:
    """The share of the query's distinct words (len > 2) found in the document."""
    wanted = {w for w in words(query) if len(w) > 2}
    return len(wanted & set(words(document))) / len(wanted) if wanted else 0.0


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def tokens(text: str) -> list[str]:
    """Words with their trailing spaces; joined they give back the text."""
    return re.findall(r"\S+\s*|\s+", text)


def _documents(raw: list[Any] | None) -> dict[str, dict[str, Any]]:
    """id -> data, in request order; plain-string documents get ids `doc:<i>`."""
    documents: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(raw or []):
        if isinstance(item, str):
            documents[f"doc:{i}"] = {"text": item}
        else:
            documents[str(item.get("id") or f"doc:{i}")] = dict(item.get("data") or {})
    return documents


def _citation(
    text: str, start: int, end: int, ids: Sequence[str], documents: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    sources = [
        {"type": "document", "id": i, "document": {"id": i, **documents.get(i, {})}} for i in ids
    ]
    return {
        "start": start,
        "end": end,
        "text": text[start:end],
        "sources": sources,
        "type": "TEXT_CONTENT",
    }


def _citation_events(index: int, citation: dict[str, Any]) -> list[str]:
    start = _event("citation-start", index=index, delta={"message": {"citations": citation}})
    return [start, _event("citation-end", index=index)]


def _event(kind: str, **payload: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n"


def _meta(input_tokens: int) -> dict[str, Any]:
    return {"api_version": {"version": "2"}, "billed_units": {"input_tokens": input_tokens}}


def _usage(body: dict[str, Any], answer: str) -> dict[str, Any]:
    counts = {
        "input_tokens": len(words(json.dumps(body.get("messages") or []))),
        "output_tokens": len(words(answer)),
    }
    return {"billed_units": counts, "tokens": counts}
