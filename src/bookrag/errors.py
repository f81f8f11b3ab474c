"""One error hierarchy: each class knows the HTTP status and says what went wrong.

Provider and store modules translate library exceptions into these (`raise ... from exc`);
the API has one handler that turns them into a status code and `{"error": ...}`.
"""

from __future__ import annotations


class BookragError(Exception):
    """Base class: a failure with a message safe to show to a client."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(BookragError):
    """The request is well-formed JSON but asks for something impossible."""

    status_code = 422


class PageNotFound(BookragError):
    """No indexed page answers to the given URL or path."""

    status_code = 404


class PageParseError(BookragError):
    """A page's Markdown or front matter could not be read."""

    status_code = 422


class DocsNotFound(BookragError):
    """The docs folder to ingest does not exist, or holds no pages."""

    status_code = 400


class SiteError(BookragError):
    """A book's site cannot be read as a book: no sitemap, no doc pages, another host."""

    status_code = 400


class IndexLocked(BookragError):
    """Another process holds the embedded index."""

    status_code = 503


class StoreUnavailable(BookragError):
    """The vector store could not be reached or answered with an error."""

    status_code = 503


class NoRoom(StoreUnavailable):
    """The disk holding the embedded index has too little room free to write it safely:
    `free` bytes, where `needed` are."""

    def __init__(self, message: str, free: int, needed: int) -> None:
        super().__init__(message)
        self.free = free
        self.needed = needed


class NotIndexed(BookragError):
    """The index holds no page of the book yet: there is nothing to answer from."""

    status_code = 503


class NotConfigured(BookragError):
    """A feature needs a setting that is not set."""

    status_code = 503


class UpstreamError(BookragError):
    """A model provider failed after retries."""

    status_code = 502


class ConfigError(BookragError):
    """Settings are missing or malformed; each line names a variable, never its value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RetryableUpstreamError(UpstreamError):
    """A provider failure worth retrying: rate limit, 5xx, timeout, dropped connection.

    `unreachable`: no connection could be made, so every endpoint of the provider is down.
    `rate_limited`: the provider said we asked too often (429).
    """

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        unreachable: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.rate_limited = rate_limited


class UnusableReply(RetryableUpstreamError):
    """The provider answered, but the reply cannot be used (a translation that lost a
    placeholder): worth asking again, and no sign that the provider is down."""


class InvalidCredentials(UpstreamError):
    """The provider rejected the configured API key; retrying will not help."""


class RequestRefused(UpstreamError):
    """The provider refused the request as it was made (a 4xx other than 401, 403 and 429:
    a model it does not have, an option the model does not take): a setting is wrong, and
    asking again will not help."""


class IndexMismatch(BookragError):
    """The index was built with another embedding model or dimension than configured."""

    status_code = 503


class RetryLater(BookragError):
    """Refused for now; the client may try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """A client used up its share (e.g. its translation budget)."""

    status_code = 429


class ProviderBusy(RetryLater):
    """A model provider limits our calls (a 429) or rests after failing: the work can be
    asked for again in `retry_after` seconds."""

    status_code = 503


class ClientGone(BookragError):
    """Every reader of a request left before it was answered (nginx's 499)."""

    status_code = 499
