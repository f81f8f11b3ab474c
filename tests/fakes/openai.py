"""A fake OpenAI-compatible chat endpoint for tests that drive the official `openai` SDK.

The default answer quotes the first sentence of the first numbered source in the messages
and cites it: for a source written as `[2] Title` followed by lines of text, the first
sentence of those lines (or of the rest of the `[2]` line when nothing follows it) plus
" [2]". Without sources it answers "I don't know.". `enqueue_chat` scripts the next reply.
A reply longer than the request's `max_tokens` (a word a token) stops there with
`finish_reason` "length"; `end_reply` makes one end otherwise ("content_filter", or a stream
without the chunk that carries its finish_reason).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from fakes.cohere import first_sentence, tokens, words
from fakes.server import FakeService, StreamCut

_MARKER = re.compile(r"\[(\d+)\]\s*(.*)")
_ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded"}


class FakeOpenAI(FakeService):
    """/v1/chat/completions (plain and streamed) and /v1/models, with faults."""

    def __init__(
        self, models: Sequence[str] = ("fake-model",), *, api_key: str = "test-key"
    ) -> None:
        self.models = list(models)
        self._endings: deque[str | None] = deque()
        super().__init__(api_key)

    @property
    def url(self) -> str:
        """The SDK's `base_url`, `/v1` included as for api.openai.com."""
        return f"{super().url}/v1"

    def enqueue_chat(self, text: str) -> None:
        """Script the next chat completion (streamed or not), FIFO."""
        self.push_reply(text)

    def end_reply(self, finish_reason: str | None, times: int = 1) -> None:
        """End the next `times` completions with `finish_reason`; None: a stream sends its
        text, then `[DONE]` without any chunk naming its finish_reason."""
        with self._lock:
            self._endings.extend([finish_reason] * times)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._endings.clear()

    def _ending(self, text: str, max_tokens: int | None) -> tuple[str, str | None]:
        with self._lock:
            scripted = self._endings.popleft() if self._endings else "stop"
        words = tokens(text)
        if max_tokens is None or len(words) <= max_tokens:
            return text, scripted
        return "".join(words[:max_tokens]), "length"

    def key_refused(self, given: str) -> str:
        # As api.openai.com says it: the key given is quoted (masked when long).
        shown = given if len(given) < 12 else f"{given[:3]}{'*' * (len(given) - 7)}{given[-4:]}"
        return (
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
        code = "invalid_api_key" if status == 401 else None
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def build_app(self) -> FastAPI:
        app = FastAPI(title="fake OpenAI")

        @app.get("/v1/models")
        async def models(request: Request) -> Response:
            _, early = await self.intercept(request)
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return early or JSONResponse({"object": "list", "data": data})

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body, early = await self.intercept(request)
            if early is not None:
                return early
            text = self.next_reply()
            if text is None:
                text = default_answer(body.get("messages") or [])
            text, finish = self._ending(text, body.get("max_tokens"))
            head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time())}
            head["model"] = body.get("model", "fake-model")
            usage = _usage(body, text)
            if body.get("stream"):
                with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                chunks = self._stream(head, text, usage if with_usage else None, finish)
                return StreamingResponse(chunks, media_type="text/event-stream")
            message = {"role": "assistant", "content": text, "refusal": None}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            return JSONResponse(
                {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            )

        return app

    async def _stream(
        self,
        head: dict[str, Any],
        text: str,
        usage: dict[str, int] | None,
        finish: str | None = "stop",
    ) -> AsyncIterator[str]:
        cut, delay = self.next_cut(), self.token_delay

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return _data({**head, "object": "chat.completion.chunk", "choices": [choice]})

        yield chunk({"role": "assistant", "content": ""})
        for count, token in enumerate(tokens(text)):
            if cut is not None and count >= cut:
                raise StreamCut(f"stream cut after {cut} tokens")
            if delay:
                await asyncio.sleep(delay)
            yield chunk({"content": token})
        if cut is not None:
            raise StreamCut(f"stream cut after {cut} tokens")
        if finish is not None:
            yield chunk({}, finish=finish)
        if usage is not None:
            yield _data({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        yield "data: [DONE]\n\n"


def default_answer(messages: list[dict[str, Any]]) -> str:
    """The first sentence of the first numbered source, cited; else "I don't know."."""
    for message in messages:
        for number, source in numbered_sources(_content(message.get("content"))):
            if sentence := first_sentence(source):
                return f"{sentence} [{number}]"
    return "I don't know."


def numbered_sources(text: str) -> Iterator[tuple[str, str]]:
    """(n, text) for each line `[n] ...`: the lines below it up to a blank or `[m]` line,
    or the rest of its own line when there are none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if marker := _MARKER.match(line):
            below = []
            for after in lines[i + 1 :]:
                if not after.strip() or _MARKER.match(after):
                    break
                below.append(after.strip())
            yield marker.group(1), " ".join(below) or marker.group(2)


def _content(content: Any) -> str:
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _usage(body: dict[str, Any], answer: str) -> dict[str, int]:
    prompt = len(words(json.dumps(body.get("messages") or [])))
    completion = len(words(answer))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
