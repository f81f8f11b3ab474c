"""Any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp) as the chat model.

Such endpoints have no `documents` parameter, so the sections go in the user message as
numbered sources and the model cites them with `[n]` markers, which are mapped back to
the same span citations Cohere returns. The markers are renumbered as the answer's
citations are (sections in order of first use, `MarkerNumbers`) as the text streams, and
the answer numbers them best first at its end; a stream's pieces of text come without
them, as Cohere's do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai

from bookrag.errors import (
    InvalidCredentials,
    RequestRefused,
    RetryableUpstreamError,
    UpstreamError,
)
from bookrag.providers.base import ChatPrompt, Generation, StreamItem
from bookrag.providers.deadline import within
from bookrag.providers.markers import MarkerNumbers, marker_citations
from bookrag.providers.replies import answered, retry_after

ENDPOINT_CHECK_TIMEOUT = 3  # seconds: a health probe must stay cheap

CITE_INSTRUCTION = (
    "Cite the sources you use with their numbers in square brackets, like [1], right after "
    "the sentence they support."
)


def make_clients(
    base_url: str, api_key: str | None, timeout: float
) -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": api_key or "not-needed",  # local servers accept any key
        "timeout": timeout,
        "max_retries": 0,
    }
    return openai.OpenAI(**options), openai.AsyncOpenAI(**options)


@contextmanager
def translated(operation: str, key: str | None = None) -> Iterator[None]:
    """Turn openai SDK failures into bookrag errors, which carry the endpoint's own reason
    (never the `key`)."""
    try:
        yield
    except openai.AuthenticationError as exc:  # our words: its own may quote the key
        raise InvalidCredentials(
            f"the chat endpoint rejected OPENAI_API_KEY ({operation})"
        ) from exc
    except openai.APITimeoutError as exc:
        raise RetryableUpstreamError(f"chat endpoint {operation} timed out") from exc
    except openai.APIConnectionError as exc:
        raise RetryableUpstreamError(
            f"chat endpoint {operation}: connection failed",
            unreachable=isinstance(exc.__cause__, httpx.ConnectError),
        ) from exc
    except openai.APIStatusError as exc:
        status = exc.status_code
        message = answered("chat endpoint", operation, status, exc.body, key)
        if status == 429 or status >= 500:
            raise RetryableUpstreamError(
                message,
                retry_after=retry_after(dict(exc.response.headers)),
                rate_limited=status == 429,
            ) from exc
        refused = 400 <= status < 500 and status != 403  # 403: this key may not do it
        raise (RequestRefused if refused else UpstreamError)(message) from exc
    except (openai.APIResponseValidationError, ValueError) as exc:  # e.g. invalid JSON
        raise RetryableUpstreamError(f"chat endpoint {operation}: malformed response") from exc


class OpenAIChat:
    service = "the chat endpoint"

    def __init__(
        self,
        client: openai.OpenAI,
        async_client: openai.AsyncOpenAI,
        model: str,
        temperature: float,
        max_tokens: int,
        *,
        timeout: float,
    ) -> None:
        self.client = client
        self.async_client = async_client
        self.timeout = timeout
        self.model = model
        self.name = f"openai:{model}"
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _request(self, prompt: ChatPrompt) -> dict[str, Any]:
        system = prompt.system + ("\n\n" + CITE_INSTRUCTION if prompt.documents else "")
        return {
            "model": self.model,
            "messages": prompt.messages(system, user_message(prompt)),
            "temperature": self.temperature,
            "max_tokens": prompt.max_tokens or self.max_tokens,
        }

    def generate(self, prompt: ChatPrompt) -> Generation:
        with translated("chat", self.client.api_key):
            response = self.client.chat.completions.create(
                **self._request(prompt), timeout=within(self.timeout)
            )
        raw = response.choices[0].message.content or "" if response.choices else ""
        finish = response.choices[0].finish_reason if response.choices else None
        thinking, numbers = Thinking(), MarkerNumbers(prompt.documents)
        text = numbers.feed(thinking.feed(raw) + thinking.flush()) + numbers.flush()
        citations = marker_citations(text, numbers)
        cut = _cut_short("chat", finish)
        return Generation(text, citations, marked=True, truncated=cut, finish_reason=finish)

    async def stream(self, prompt: ChatPrompt) -> AsyncIterator[StreamItem]:
        pieces: list[str] = []
        thinking, numbers = Thinking(), MarkerNumbers(prompt.documents)
        finish = None  # named by the last chunk of the reply: a stream without it was cut
        with translated("chat stream", self.client.api_key):
            stream = await self.async_client.chat.completions.create(
                **self._request(prompt), stream=True
            )
            async for chunk in stream:
                said = chunk.choices[0].delta.content or "" if chunk.choices else ""
                if chunk.choices and chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
                if text := numbers.feed(thinking.feed(said)):
                    pieces.append(text)
                    if numbers.unmarked:  # the answer's numbers are known at its end
                        yield numbers.unmarked
                    for cited in numbers.new_citations():
                        yield cited
        for rest in (numbers.feed(thinking.flush()), numbers.flush()):
            if rest:
                pieces.append(rest)
                if numbers.unmarked:
                    yield numbers.unmarked
                for cited in numbers.new_citations():
                    yield cited
        if finish is None:
            raise RetryableUpstreamError("chat endpoint chat stream ended before its finish_reason")
        answer, cut = "".join(pieces), _cut_short("chat stream", finish)
        citations = marker_citations(answer, numbers)
        yield Generation(answer, citations, marked=True, truncated=cut, finish_reason=finish)

    def check_endpoint(self) -> bool:
        """True when the endpoint answers (one cheap call, no tokens spent): it lists its
        models, or answers at all (some list none). A refused key or no answer raises."""
        try:
            with translated("models", self.client.api_key):
                self.client.with_options(
                    timeout=ENDPOINT_CHECK_TIMEOUT, max_retries=0
                ).models.list()
        except (RetryableUpstreamError, InvalidCredentials):
            raise
        except UpstreamError:  # a 404 or the like: it is up, it only lists no models
            pass
        return True


def _cut_short(operation: str, finish: str | None) -> bool:
    """Whether a reply that finished with `finish` stopped at its token limit ("length"); one
    its content filter withheld raises `UpstreamError`."""
    if finish == "content_filter":
        raise UpstreamError(f"chat endpoint {operation}: the reply was withheld by its filter")
    return finish == "length"


def user_message(prompt: ChatPrompt) -> str:
    """The question, preceded by the numbered sources when there are any."""
    if not prompt.documents:
        return prompt.question
    sources = "\n\n".join(
        f"[{n}] {d.title}{' › ' + d.section if d.section else ''}\n{d.text}"
        for n, d in enumerate(prompt.documents, 1)
    )
    return f"Sources:\n\n{sources}\n\nQuestion: {prompt.question}"


class Thinking:
    """Drops the `<think>…</think>` a reasoning model (Ollama's qwen3 or deepseek-r1, say)
    may start its reply with: its notes, not the answer, and their `[n]` cite nothing.
    Fed piece by piece; a reply that never closes its notes has no answer."""

    _OPEN, _CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self.held = ""
        self.state = "start"  # then "notes" and "after" them, or "answer" at once

    def feed(self, text: str) -> str:
        if self.state == "answer":
            return text
        if self.state == "after":  # the blank lines after the notes are theirs
            text = text.lstrip()
            self.state = "answer" if text else "after"
            return text
        self.held += text
        if self.state == "start":
            begun = self.held.lstrip()
            if self._OPEN.startswith(begun):
                return ""  # blanks, or the tag's first letters: not known yet
            if not begun.startswith(self._OPEN):
                return self._answer(self.held)
            self.state = "notes"
        end = self.held.find(self._CLOSE)
        if end < 0:
            return ""
        rest, self.held, self.state = self.held[end + len(self._CLOSE) :], "", "after"
        return self.feed(rest)

    def flush(self) -> str:
        """What is held at the end: a reply that was only blanks or a tag's first letters."""
        return self._answer(self.held) if self.state == "start" else ""

    def _answer(self, text: str) -> str:
        self.state, self.held = "answer", ""
        return text
