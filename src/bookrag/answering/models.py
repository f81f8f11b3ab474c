"""The shapes questions and answers take, shared by the API, the CLI and the answering code,
and the checks a reader's question passes (`ask_question`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from bookrag.config import Settings
from bookrag.errors import InvalidRequest

MAX_TURN_CHARS = 4000


def well_formed(text: str) -> str:
    """`text` as valid Unicode: JSON may carry a lone surrogate (`"\\ud800"`), which no
    UTF-8 text (a database, a log, a model's API) can hold; it becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _well_formed(value: object) -> object:
    return well_formed(value) if isinstance(value, str) else value


# A string from a request, every field treated alike whatever its constraints.
Text = Annotated[str, BeforeValidator(_well_formed)]


class Turn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: Text = Field(max_length=MAX_TURN_CHARS)


class Citation(BaseModel):
    """One section of the book the answer cites: its number is the `[n]` in the answer."""

    number: int = Field(description="the [n] marking this section in the answer, from 1")
    url: str = Field(description="the section's URL, with its #anchor")
    title: str
    section: str
    quote: str = Field(description="the quoted source text (quotes of one section joined by …)")
    span: str | None = Field(None, description="the first part of the answer this supports")
    spans: list[str] = Field(default=[], description="every part of the answer it supports")

    @property
    def breadcrumb(self) -> str:
        """`Page title › section`, as a reader sees where a quote comes from."""
        return f"{self.title} › {self.section}" if self.section else self.title


QUOTE_JOINER = " … "


class Citations:
    """One citation per section URL, numbered in order of first use (until `rank` numbers
    them best first); `sources` follow that order. A second quote of a section joins the
    first, so a number is never listed twice."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.items: list[Citation] = []

    def add(self, url: str, title: str, section: str, quote: str, span: str | None = None) -> int:
        """Record a citation and return its number (shared by every quote of one section)."""
        number = self.numbers.get(url)
        if number is None:
            number = self.numbers[url] = len(self.numbers) + 1
            spans = [span] if span else []
            self.items.append(
                Citation(
                    number=number,
                    url=url,
                    title=title,
                    section=section,
                    quote=quote,
                    span=span,
                    spans=spans,
                )
            )
            return number
        cited = self.items[number - 1]
        if quote and quote not in cited.quote:
            cited.quote = f"{cited.quote}{QUOTE_JOINER}{quote}" if cited.quote else quote
        if span and span not in cited.spans:
            cited.spans.append(span)
            cited.span = cited.span or span
        return number

    def rank(self, ranks: Mapping[str, int]) -> dict[int, int]:
        """Number the citations best first, by the rank of their URL in `ranks` (0 the best;
        a tie keeps the order of first use), and return each old number's new one."""
        self.items.sort(key=lambda cited: (ranks[cited.url], cited.number))
        renumbered = {cited.number: n for n, cited in enumerate(self.items, 1)}
        for cited in self.items:
            cited.number = renumbered[cited.number]
        self.numbers = {cited.url: cited.number for cited in self.items}
        return renumbered

    @property
    def sources(self) -> list[str]:
        return list(self.numbers)


class Answer(BaseModel):
    """The answer as `/chat` returns it (the contract's `answer` and `sources`, and more)."""

    answer: str
    sources: list[str] = Field(description="page URLs with #anchor, deduplicated, best first")
    citations: list[Citation] = []
    mode: Literal["extractive", "generative", "not_found"]
    extractive: bool
    degraded: bool = False
    truncated: bool = Field(
        False,
        description="the model stopped at its length limit (CHAT_MAX_TOKENS): the answer "
        "ends where it stopped, with ' …' and a note that says so",
    )
    answer_id: str | None = Field(
        None, description="this answer's id for POST /feedback (null when feedback is off)"
    )


@dataclass(frozen=True)
class Question:
    """What the reader asked, with the passage they selected and the page they are on."""

    question: str
    selected_text: str | None = None
    page_url: str | None = None
    history: tuple[Turn, ...] = ()

    @property
    def text(self) -> str:
        return self.question.strip() or "Explain this passage."


def ask_question(
    question: str,
    selected_text: str | None,
    page_url: str | None,
    history: tuple[Turn, ...],
    settings: Settings,
) -> Question:
    """Check a reader's question (as the API and the CLI receive it) and make a `Question`."""
    text = trimmed(question)
    selected = _selection(selected_text or "")
    if not text and not selected:
        raise InvalidRequest("question: must not be empty (or send selected_text to explain)")
    if len(question) > settings.max_question_chars:
        raise InvalidRequest(f"question: longer than {settings.max_question_chars} characters")
    if selected and len(selected) > settings.max_selected_chars:
        raise InvalidRequest(f"selected_text: longer than {settings.max_selected_chars} characters")
    return Question(text, selected, page_url, history)


def _selection(text: str) -> str | None:
    """A selection without blank lines around it, its first line's indent kept (selected
    code keeps its shape), or None when nothing in it shows."""
    if not trimmed(text):
        return None
    lines = text.split("\n")
    while not trimmed(lines[0]):
        lines.pop(0)
    while not trimmed(lines[-1]):
        lines.pop()
    return "\n".join(lines).rstrip()


def trimmed(text: str) -> str:
    """`text` without whitespace or invisible characters at its ends (a zero-width space, a
    byte order mark, NUL): a question of nothing else is an empty one."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")
