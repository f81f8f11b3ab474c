"""The HTTP API's request and response bodies, errors included, as OpenAPI declares them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StrictBool

from bookrag.answering.models import Text, Turn
from bookrag.feedback.database import MAX_COMMENT_CHARS

MAX_HISTORY = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _url(value: str) -> str:
    """A page's URL as a browser sends one: http(s) (or a path), no control characters,
    parseable (`http://[::1` is not), and kept without any `user:password@`."""
    try:
        # Browsers read `\` as `/` in http(s) URLs: `/\host/x` is `//host/x`, another site.
        parts = urlsplit(value.strip().replace("\\", "/"))
    except ValueError:
        raise ValueError("not a valid URL") from None
    if _CONTROL.search(value.strip()):
        raise ValueError("not a valid URL (control characters)")
    if parts.scheme.lower() not in ("http", "https", "") or (parts.netloc and not parts.scheme):
        raise ValueError("not an http(s) URL")
    if "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return value


def _page_only(value: Any) -> Any:
    """A page's URL without its query and fragment, which name no other page and may run
    long: a browser's `#:~:text=` link to a highlight, or tracking parameters."""
    return re.split(r"[?#]", value, maxsplit=1)[0] if isinstance(value, str) else value


# Pydantic runs the BeforeValidator first, then the length limit, then `_url`.
PageUrl = Annotated[Text, BeforeValidator(_page_only), Field(max_length=2048), AfterValidator(_url)]


class ChatRequest(BaseModel):
    """A question, optionally about a selected passage of a page."""

    question: Text = Field("", description="the reader's question; may be empty with a selection")
    selected_text: Text | None = Field(None, description="text the reader selected on the page")
    page_url: PageUrl | None = Field(None, description="the page the reader is on")
    agent_id: Text | None = Field(None, description="accepted and ignored (older clients send it)")
    # `null` is no history, as `null` is no selection or page.
    history: Annotated[list[Turn], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list, max_length=MAX_HISTORY
    )


class SearchRequest(BaseModel):
    query: Text = Field(min_length=1)  # at most BOOKRAG_MAX_QUESTION_CHARS, as a question
    limit: int = Field(5, ge=1, le=50, strict=True)  # no `true` or `"5"`


class SearchResult(BaseModel):
    path: str
    url: str
    title: str
    section: str
    text: str
    score: float


class SearchResponse(BaseModel):
    results: list[SearchResult]


class TranslateRequest(BaseModel):
    """A page to translate, as the book's "translate this page" button sends it."""

    page_url: PageUrl = Field(description="the page's URL, or its source path")
    target_language: Text | None = Field("urdu", max_length=64, description="name or ISO code")


class FeedbackRequest(BaseModel):
    """A reader's verdict on one answer."""

    answer_id: Text = Field(min_length=1, max_length=64, description="the answer's `answer_id`")
    helpful: StrictBool = Field(description="true: helpful; false: not helpful")
    comment: Text | None = Field(None, max_length=MAX_COMMENT_CHARS, description="what was wrong")


class FeedbackResponse(BaseModel):
    success: Literal[True] = True
    answer_id: str
    helpful: bool


class FieldProblem(BaseModel):
    field: str = Field(description="the request field, dotted (`history.0.role`), or `body`")
    problem: str


class ErrorBody(BaseModel):
    """Every error: `{"success": false, "error": "..."}`, and for bad fields the details."""

    success: Literal[False] = False
    error: str = Field(description="what went wrong, for a person")
    detail: list[FieldProblem] | None = None
    retry_after: int | None = Field(None, description="seconds, for 429 and 503")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("the body is not valid JSON"),
    404: _error("no such page, or (feedback) no such answer"),
    413: _error("the body is too large"),
    422: _error("a field is missing, of the wrong type, empty or too long"),
    429: _error("too many requests from this client; see Retry-After"),
    500: _error("an unexpected error (details in the server log only)"),
    502: _error("a model provider failed"),
    503: _error("a service is unavailable or the server is busy; see Retry-After"),
}
