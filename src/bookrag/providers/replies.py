"""What a provider's error reply tells us: how long it asks us to wait (`Retry-After`), and
its own reason, shortened to a line with the key hidden, for our error messages."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

REASON_CHARS = 200  # the most of a provider's own reason an error message carries


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def reason(body: object, secret: str | None = None) -> str:
    """The provider's own words in an error body: its `message` (Cohere's body, OpenAI's
    `error` object), `detail` or `error`, or a body of plain text; on one line, at most
    REASON_CHARS characters, `secret` (the API key) never in it. "" when it says nothing
    readable (an HTML error page from a proxy, say)."""
    said: object = body
    if isinstance(body, Mapping):
        said = next((body[k] for k in ("message", "detail", "error") if k in body), None)
    if not isinstance(said, str) or said.lstrip().startswith("<"):
        return ""
    said = " ".join(said.split())
    if secret:
        said = said.replace(secret, "***")
    return said if len(said) <= REASON_CHARS else f"{said[: REASON_CHARS - 1]}…"


def answered(service: str, operation: str, status: int, body: object, secret: str | None) -> str:
    """`Cohere chat answered 404: model 'x' not found` (the reason left out when there is none)."""
    said = reason(body, secret)
    return f"{service} {operation} answered {status}" + (f": {said}" if said else "")
