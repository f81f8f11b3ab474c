"""Build the model providers the settings ask for, and watch Cohere's health cheaply."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bookrag.config import Settings
from bookrag.errors import InvalidCredentials, UpstreamError
from bookrag.providers.base import ChatModel, Embedder, Reranker, RetryPolicy

log = logging.getLogger("bookrag")

HEALTH_TTL = 60.0  # seconds a Cohere key check is trusted
HEALTHY = ("connected", "not_configured", "unchecked")  # the states of a service that works


@dataclass
class KeyCheck:
    """Cohere's state for `/health`: checked at most once per `ttl` seconds, no tokens spent."""

    check: Callable[[], bool | None]  # True when the key is accepted, None: cannot tell
    key_name: str = "COHERE_API_KEY"  # the setting a refused key comes from, for the log
    ttl: float = HEALTH_TTL
    _state: str = "unknown"
    _checked_at: float = field(default=-1e18)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> str:
        """`connected`, `invalid_key`, `unavailable`, `unchecked` (the provider has no check
        to call; not a fault) or `unknown`, from cache when fresh.

        Only one caller checks at a time; the others get the last known state at once, so
        a slow provider never holds up `/health`."""
        if time.monotonic() - self._checked_at < self.ttl:
            return self._state
        if not self._lock.acquire(blocking=False):
            return self._state
        try:
            was = self._state
            try:
                accepted = self.check()
                self._state = (
                    "unchecked" if accepted is None else "connected" if accepted else "invalid_key"
                )
            except InvalidCredentials:
                self._state = "invalid_key"
            except UpstreamError:
                self._state = "unavailable"
            self._checked_at = time.monotonic()
            if self._state == "invalid_key" and was != "invalid_key":
                log.error("%s was refused: answers are made without it", self.key_name)
            return self._state
        finally:
            self._lock.release()


@dataclass
class Providers:
    """The models in use; each is None when not configured."""

    embedder: Embedder | None = None
    reranker: Reranker | None = None
    chat: ChatModel | None = None
    cohere: KeyCheck | None = None
    chat_endpoint: KeyCheck | None = None  # an OpenAI-compatible endpoint, when configured
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    closers: list[Callable[[], None]] = field(default_factory=list)
    async_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def states(self) -> dict[str, str]:
        """Each provider's state for `/health`: `cohere` always, `chat_endpoint` when set."""
        states = {"cohere": self.cohere.state() if self.cohere else "not_configured"}
        if self.chat_endpoint is not None:  # OPENAI_BASE_URL
            states["chat_endpoint"] = self.chat_endpoint.state()
        return states

    def chat_refusal(self) -> str | None:
        """Why the chat model refuses what it is asked (a setting is wrong), until it answers."""
        return self.policy.refusal(self.chat) if self.chat is not None else None

    def close(self) -> None:
        """Close the HTTP clients used synchronously."""
        for close in self.closers:
            close()

    async def aclose(self) -> None:
        """Close every HTTP client."""
        self.close()
        for close in self.async_closers:
            await close()


def build_providers(
    settings: Settings, on_failure: Callable[[str], None] | None = None
) -> Providers:
    """Clients for Cohere and/or an OpenAI-compatible endpoint; no network I/O happens here.

    `on_failure` hears of every failed provider call (for metrics)."""
    policy = RetryPolicy(
        budget=settings.retry_budget,
        on_failure=on_failure,
        cooldown=settings.upstream_cooldown,
    )
    providers = Providers(policy=policy)
    if settings.cohere_api_key is not None:
        from bookrag.providers import cohere as cohere_provider

        client, async_client, http, async_http = cohere_provider.make_clients(
            settings.cohere_api_key.get_secret_value(),
            settings.cohere_base_url,
            settings.upstream_timeout,
        )
        providers.closers.append(http.close)
        providers.async_closers.append(async_http.aclose)
        secret = settings.cohere_api_key
        providers.embedder = cohere_provider.CohereEmbedder(
            client, settings.cohere_embed_model, secret, timeout=settings.upstream_timeout
        )
        if settings.rerank:
            providers.reranker = cohere_provider.CohereReranker(
                client, settings.cohere_rerank_model, secret, timeout=settings.upstream_timeout
            )
        chat = cohere_provider.CohereChat(
            client,
            async_client,
            settings.cohere_chat_model,
            settings.chat_temperature,
            settings.chat_max_tokens,
            secret,
            timeout=settings.upstream_timeout,
        )
        providers.chat = chat
        providers.cohere = KeyCheck(chat.check_key)
    if settings.openai_base_url is not None:
        from bookrag.providers import openai_compatible as openai_provider

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        oa_client, oa_async = openai_provider.make_clients(
            settings.openai_base_url, key, settings.upstream_timeout
        )
        providers.closers.append(oa_client.close)
        providers.async_closers.append(oa_async.close)
        endpoint = openai_provider.OpenAIChat(
            oa_client,
            oa_async,
            settings.openai_model,
            settings.chat_temperature,
            settings.chat_max_tokens,
            timeout=settings.upstream_timeout,
        )
        providers.chat = endpoint
        providers.chat_endpoint = KeyCheck(endpoint.check_endpoint, "OPENAI_API_KEY")
    return providers
