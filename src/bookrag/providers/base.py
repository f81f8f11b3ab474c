"""The seams to model providers: small Protocols, the data that crosses them, and the one
place where retries with backoff (honouring `Retry-After`) and batching live.

Provider modules (`cohere`, `openai_compatible`) implement the Protocols and
translate their SDK's exceptions into `bookrag.errors`; nothing else knows an SDK.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, Protocol, TypeAlias, TypeVar

from bookrag.errors import RequestRefused, RetryableUpstreamError, UnusableReply, UpstreamError
from bookrag.providers.deadline import time_left

log = logging.getLogger("bookrag.providers")

T = TypeVar("T")
InputType = Literal["search_document", "search_query"]


@dataclass(frozen=True)
class SourceDocument:
    """One retrieved section, as a chat model sees it."""

    id: str
    title: str
    section: str
    url: str
    text: str


@dataclass(frozen=True)
class SpanCitation:
    """A span of the generated answer and the documents that support it."""

    start: int
    end: int
    text: str
    document_ids: tuple[str, ...]


@dataclass(frozen=True)
class Generation:
    """A finished answer from a chat model.

    `marked`: the text already carries `[n]` markers where it cites (else, as with Cohere,
    the citations' spans say where). `truncated`: the model stopped at its token limit
    (`max_tokens`), mid-answer. `finish_reason`: why it stopped, in the provider's words. A
    reply the provider could not finish (an error, a timeout, a stream that ended before
    its end) is no `Generation`: the provider raises `UpstreamError` instead."""

    text: str
    citations: tuple[SpanCitation, ...]
    marked: bool = False
    truncated: bool = False
    finish_reason: str | None = None


# What a chat model's stream gives: pieces of text as they come, each citation as soon as
# the model has made it (after the text it cites), then the finished `Generation`.
StreamItem: TypeAlias = str | SpanCitation | Generation


@dataclass(frozen=True)
class ChatPrompt:
    """What a chat model is asked: instructions, earlier turns, the question and documents."""

    system: str
    question: str
    documents: tuple[SourceDocument, ...] = ()
    history: tuple[tuple[str, str], ...] = ()  # (role, content)
    max_tokens: int | None = None

    def messages(self, system: str, user: str) -> list[dict[str, str]]:
        """Chat messages: our instructions, the earlier turns, then the reader's message."""
        return [
            {"role": "system", "content": system},
            *({"role": role, "content": content} for role, content in self.history),
            {"role": "user", "content": user},
        ]


class Upstream(Protocol):
    """A client of one provider endpoint (`RetryPolicy` rests one that keeps failing)."""

    service: str  # who answers the calls: a provider that cannot be reached rests whole


class Embedder(Upstream, Protocol):
    model: str
    batch_size: int

    def embed_batch(self, texts: Sequence[str], input_type: InputType) -> list[list[float]]:
        """Embed at most `batch_size` texts in one call."""
        ...


class Reranker(Upstream, Protocol):
    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        """(index into `documents`, relevance 0..1), best first."""
        ...


class ChatModel(Upstream, Protocol):
    name: str

    def generate(self, prompt: ChatPrompt) -> Generation:
        """Answer in one piece."""
        ...

    def stream(self, prompt: ChatPrompt) -> AsyncIterator[StreamItem]:
        """Text pieces as they arrive, each citation once made, then the `Generation`."""
        ...


MAX_REST = 600.0  # seconds: the longest a Retry-After may rest an endpoint for


@dataclass(frozen=True)
class RetryPolicy:
    """Retry retryable upstream failures with exponential backoff within a time budget.

    An endpoint whose retries ran out is rested for `cooldown` seconds (or as long as its
    `Retry-After` asked): calls to it fail at once, so that while it is down each answer
    degrades at once instead of spending the budget again on every request. A provider
    that could not be reached at all rests whole, every endpoint of it; a reply that came
    back unusable (`UnusableReply`) rests nothing, as the service did answer. An endpoint
    rests for one family of operations (answers; translations, `apart`), so a page whose
    translation failed never stops the answers.

    A request the endpoint refused as asked (`RequestRefused`: a setting is wrong) is
    logged as an error and kept (`refusal`) until the endpoint answers again.
    """

    budget: float = 15.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    on_failure: Callable[[str], None] | None = None  # told the operation of each failed try
    cooldown: float = 30.0
    family: str = "answers"  # whose calls these are: an endpoint rests for one family
    # A client for a family (by its id: clients live as long as the app) or a whole service:
    # until when. Shared by the families (`apart`).
    _resting: dict[tuple[str, int] | str, float] = field(default_factory=dict)
    _refused: dict[int, str] = field(default_factory=dict)  # a client: what it last refused

    def apart(self, family: str) -> RetryPolicy:
        """This policy for another family of operations: its endpoints rest apart from this
        family's, while a provider that cannot be reached rests for both."""
        return replace(self, family=family)

    def rest_left(self, upstream: Upstream) -> float:
        """Seconds until `upstream` is called again: 0 when neither it nor its service rests."""
        keys = ((self.family, id(upstream)), upstream.service)
        return max(0.0, max(self._resting.get(k, 0.0) for k in keys) - time.monotonic())

    def check(self, upstream: Upstream, operation: str) -> None:
        """Raise `UpstreamError` at once while `upstream`, or its whole service, rests, or
        once the answer's deadline has passed (`deadline`)."""
        left = self.rest_left(upstream)
        if left > 0:
            raise UpstreamError(
                f"{upstream.service} {operation} is not called for {left:.0f}s: it kept failing"
            )
        if time_left() <= 0:
            raise UpstreamError(f"{upstream.service} {operation} not called: no time left")

    def refusal(self, upstream: Upstream) -> str | None:
        """Why `upstream` refused the last request it was sent, unless it has answered since."""
        return self._refused.get(id(upstream))

    def succeeded(self, upstream: Upstream) -> None:
        """`upstream` answered: neither it nor its service rests any longer."""
        self._resting.pop((self.family, id(upstream)), None)
        self._resting.pop(upstream.service, None)
        self._refused.pop(id(upstream), None)

    def failed(self, operation: str) -> None:
        """Report one failed try of `operation`."""
        if self.on_failure is not None:
            self.on_failure(operation)

    def next_delay(self, attempt: int, exc: RetryableUpstreamError, elapsed: float) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None when out of budget."""
        if exc.retry_after is not None:
            delay = exc.retry_after
        else:
            delay = min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.75, 1.25)
        if elapsed + delay > self.budget:
            return None
        return delay

    def after_failure(
        self, operation: str, exc: UpstreamError, attempt: int, started: float, upstream: Upstream
    ) -> float:
        """Count a failed try; return how long to wait before the next, or raise `exc` when
        it is not worth retrying or the budget is spent (then `upstream` rests)."""
        self.failed(operation)
        if isinstance(exc, RequestRefused) and self._refused.get(id(upstream)) != exc.message:
            log.error("%s refused: %s; check the settings", operation, exc.message)
            self._refused[id(upstream)] = exc.message
        if not isinstance(exc, RetryableUpstreamError):
            raise exc  # a refused key or request: calling again would not help, nor hurt
        delay = self.next_delay(attempt, exc, time.monotonic() - started)
        if delay is not None and delay >= time_left():
            raise exc  # the answer's deadline comes first: no reason to rest the endpoint
        if delay is None:
            self._rest(upstream, operation, exc)
            raise exc
        log.warning("%s failed (%s); retrying in %.1fs", operation, exc.message, delay)
        return delay

    def _rest(self, upstream: Upstream, operation: str, exc: RetryableUpstreamError) -> None:
        if self.cooldown <= 0 or isinstance(exc, UnusableReply):
            return
        rest = max(self.cooldown, min(exc.retry_after or 0.0, MAX_REST))
        key = upstream.service if exc.unreachable else (self.family, id(upstream))
        name = "" if exc.unreachable else f" {operation}"
        self._resting[key] = time.monotonic() + rest
        log.warning(
            "%s%s is not called for %.0fs after: %s", upstream.service, name, rest, exc.message
        )

    def call(self, operation: str, upstream: Upstream, fn: Callable[[], T]) -> T:
        """Run `fn` (a call to `upstream`), retrying retryable failures until the budget
        would be exceeded."""
        self.check(upstream, operation)
        started, attempt = time.monotonic(), 0
        while True:
            try:
                result = fn()
            except UpstreamError as exc:
                time.sleep(self.after_failure(operation, exc, attempt, started, upstream))
                attempt += 1
            else:
                self.succeeded(upstream)
                return result

    async def acall(self, operation: str, upstream: Upstream, fn: Callable[[], Awaitable[T]]) -> T:
        """The async twin of `call`."""
        self.check(upstream, operation)
        started, attempt = time.monotonic(), 0
        while True:
            try:
                result = await fn()
            except UpstreamError as exc:
                await asyncio.sleep(self.after_failure(operation, exc, attempt, started, upstream))
                attempt += 1
            else:
                self.succeeded(upstream)
                return result

    async def astream(
        self,
        operation: str,
        upstream: Upstream,
        stream: Callable[[], AsyncIterator[StreamItem]],
    ) -> AsyncIterator[StreamItem]:
        """The items of `stream()` (a call to `upstream`), started again after a retryable
        failure as `acall` would, until text has come: after that a failure is raised, as
        the reader has part of an answer and must not get a second one silently."""
        self.check(upstream, operation)
        started, attempt = time.monotonic(), 0
        while True:
            sent_text = False
            try:
                async for item in stream():
                    sent_text = sent_text or isinstance(item, str)
                    yield item
            except UpstreamError as exc:
                if sent_text:
                    self.failed(operation)
                    raise
                await asyncio.sleep(self.after_failure(operation, exc, attempt, started, upstream))
                attempt += 1
            else:
                self.succeeded(upstream)
                return


def embed_all(
    embedder: Embedder, texts: Sequence[str], input_type: InputType, policy: RetryPolicy
) -> list[list[float]]:
    """Embed any number of texts in batches of the embedder's size."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), embedder.batch_size):
        batch = texts[start : start + embedder.batch_size]
        embed = partial(embedder.embed_batch, batch, input_type)
        vectors.extend(policy.call("embed", embedder, embed))
    return vectors
