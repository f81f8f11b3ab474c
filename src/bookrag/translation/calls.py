"""One unit of a page translated by the chat model: the whole reply, streamed, with what the
placeholders hid put back, asked for again (by the retry policy) while it is unusable. A
reply the model stopped at its token limit is unusable (a translation missing its end): it
is asked for again with twice the room, up to MAX_REPLY_TOKENS, and never kept. A page whose
unit failed is a 503 with when to ask again, or a 502 (`page_failure`)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bookrag.book.chunking import count_tokens
from bookrag.errors import ProviderBusy, RetryableUpstreamError, UnusableReply, UpstreamError
from bookrag.providers.base import ChatModel, ChatPrompt, Generation, RetryPolicy
from bookrag.translation.languages import Language
from bookrag.translation.units import Protected, Unit, system_prompt

MAX_REPLY_TOKENS = 4000


async def translate_unit(
    chat: ChatModel, policy: RetryPolicy, unit: Unit, language: Language, least_tokens: int
) -> str:
    """`unit` in `language`; a reply may use 4 tokens a token of its text (at least
    `least_tokens`, at most MAX_REPLY_TOKENS)."""
    protected = Protected.of(unit.text, continues=unit.continues)
    room = min(MAX_REPLY_TOKENS, 4 * count_tokens(protected.text))
    prompt = ChatPrompt(
        system=system_prompt(language),
        question=protected.text,
        max_tokens=max(least_tokens, room),
    )

    async def attempt() -> str:
        nonlocal prompt
        reply = await _complete(chat, prompt)
        if reply.truncated:
            room = prompt.max_tokens or least_tokens
            said = f"the translation of a section stopped at its length limit ({room} tokens)"
            if room >= MAX_REPLY_TOKENS:
                raise UpstreamError(said)  # no more room to give it
            prompt = replace(prompt, max_tokens=min(MAX_REPLY_TOKENS, 2 * room))
            raise UnusableReply(f"{said}; asking again with more room")
        return protected.restore(reply.text, language)

    return await policy.acall("translate", chat, attempt)


def page_failure(
    exc: UpstreamError, policy: RetryPolicy, chat: ChatModel, page: str
) -> UpstreamError | ProviderBusy:
    """What a reader is told of a translation `exc` failed: 503 with when to ask again
    (Retry-After: the provider's, or the rest left) when the provider limits our calls or
    the model rests for translations; else 502. Nothing of the page was saved."""
    wait = exc.retry_after if isinstance(exc, RetryableUpstreamError) else None
    wait = max(wait or 0.0, policy.rest_left(chat))
    if wait > 0 or (isinstance(exc, RetryableUpstreamError) and exc.rate_limited):
        seconds = max(1, math.ceil(wait))
        said = f"{page}: {exc.message} (nothing was saved; try again in {seconds} s)"
        return ProviderBusy(said, retry_after=seconds)
    return UpstreamError(f"{page}: {exc.message} (nothing was saved; try again)")


async def _complete(chat: ChatModel, prompt: ChatPrompt) -> Generation:
    """The model's whole reply, streamed: a long translation keeps the connection busy, so
    the read timeout applies between pieces rather than to the whole reply."""
    stream = chat.stream(prompt)
    reply = Generation("", ())
    try:
        async for item in stream:
            if isinstance(item, Generation):
                reply = item
    finally:
        close: Callable[[], Awaitable[None]] | None = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    return reply
