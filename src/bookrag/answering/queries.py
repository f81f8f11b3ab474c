"""What is searched for to answer a question: the question, made standalone when it follows
up on the conversation, widened by the passage the reader selected, and restated in the
book's language when it is asked in another script.

A reader of an English book may ask in Urdu. None of the question's words are the book's,
so BM25 finds nothing, an English embedding model little, and the question was refused as
not in the book. With a chat model, such a question is restated in the language of the
book's page titles (one call, which also makes a follow-up standalone) and that is what is
searched for; the answer is still asked for in the reader's own words and language. Without
a model there is nothing to restate with: the question is searched for as asked, and a
refusal of it says that asking in the book's language may find the answer.

Scripts, not languages, are compared (Unicode's name for each letter: LATIN, ARABIC,
DEVANAGARI, ...): that needs no model and no word list, and a question in the book's script
shares enough of its words (names, terms) to be searched for as it is.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from bookrag.answering.generation import MAX_HISTORY_TURNS, last_answered_question, rewrite_prompt
from bookrag.answering.models import Question
from bookrag.errors import UpstreamError
from bookrag.index.pages import PageDirectory
from bookrag.providers.base import ChatModel, ChatPrompt, RetryPolicy

log = logging.getLogger("bookrag.answering")

_SELECTION_QUERY_WORDS = 120

RESTATE_SYSTEM = """Restate the reader's last message as one standalone question about the book, written in the language of the book's page titles listed below, keeping names and technical terms as the book writes them. Use the conversation, if any, only to resolve what the message refers to. Reply with the question alone."""  # noqa: E501

ASK_IN_THE_BOOKS_LANGUAGE = (
    "The book is written in another script than this question, which was searched for in "
    "its own words: asking in the book's language may find the answer."
)
# Page titles read to tell the book's script, and shown to the model as its language: enough
# to outvote a few titles in another script, few enough to cost nothing per question.
SAMPLE_TITLES = 40
# A restated question is one question: a reply cut at this length is not searched for.
RESTATE_TOKENS = 120


def script(text: str) -> str | None:
    """The script most of `text`'s letters are written in (LATIN, ARABIC, ...), or None.
    Japanese mixes Han, Hiragana and Katakana in every sentence: all three are CJK here."""
    counts = Counter(_script_of(ch) for ch in text if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else None


def _script_of(letter: str) -> str:
    name = unicodedata.name(letter, "?").split(" ", 1)[0]
    return "CJK" if name in _JAPANESE else name


_JAPANESE = frozenset({"HIRAGANA", "KATAKANA", "HALFWIDTH"})  # and CJK (Han)


def book_titles(pages: Iterable[dict[str, Any]]) -> list[str]:
    """Up to SAMPLE_TITLES of the book's page titles, in the book's order where it has one."""
    titles = (str(page.get("title", "")).strip() for page in pages)
    return [title for title in titles if title][:SAMPLE_TITLES]


def asked_in_another_script(question: Question, titles: Sequence[str]) -> bool:
    """Whether the question is written in another script than the book's page titles."""
    return _other_script(question.question, titles)


def _other_script(text: str, titles: Sequence[str]) -> bool:
    asked, book = script(text), script(" ".join(titles))
    return asked is not None and book is not None and asked != book


def refusal_note(searched: str, pages: PageDirectory) -> str:
    """What a refused question's reader may do: ask in the book's language, when what was
    searched for is written in another script (no model to restate it, or it failed)."""
    return ASK_IN_THE_BOOKS_LANGUAGE if _other_script(searched, book_titles(pages.all())) else ""


def restate_prompt(question: Question, titles: Sequence[str]) -> ChatPrompt:
    """Ask for the question, made standalone, in the language of the book's `titles`."""
    turns = "\n".join(f"{t.role}: {t.content}" for t in question.history[-MAX_HISTORY_TURNS:])
    conversation = f"Conversation:\n{turns}\n\n" if turns else ""
    listed = "\n".join(f"- {title}" for title in titles)
    asked = f"{conversation}Last message: {question.text}"
    return ChatPrompt(
        system=RESTATE_SYSTEM,
        question=f"The book's page titles:\n{listed}\n\n{asked}",
        max_tokens=RESTATE_TOKENS,
    )


def search_texts(
    question: Question, chat: ChatModel | None, policy: RetryPolicy, pages: PageDirectory
) -> tuple[list[str], bool]:
    """What to search the book for, widened by the selected passage: the question made
    standalone (a follow-up) or in the book's language (another script). A follow-up with no
    model to restate it (or when it fails) gives two: the question as asked, and with the
    last question the book answered before it, to supply what "it" refers to; retrieval
    says which one was meant (`follows_on`). And whether the model failed to restate it (the
    answer is then `degraded`)."""
    text = question.question.strip()
    titles = book_titles(pages.all()) if chat is not None else []
    widened, failed = [], False
    if chat is not None and asked_in_another_script(question, titles):
        restated, failed = _asked(chat, policy, restate_prompt(question, titles))
        text = restated or text
    elif question.history:
        standalone, failed = (
            _asked(chat, policy, rewrite_prompt(question)) if chat else (None, False)
        )
        earlier = last_answered_question(question.history)
        if standalone:
            text = standalone
        elif earlier:
            widened = [f"{earlier} {question.text}"]
    if question.selected_text:
        selection = " ".join(question.selected_text.split()[:_SELECTION_QUERY_WORDS])
        text, widened = f"{text} {selection}", [f"{w} {selection}" for w in widened]
    return [text.strip() or question.text, *widened], failed


def _asked(chat: ChatModel, policy: RetryPolicy, prompt: ChatPrompt) -> tuple[str | None, bool]:
    """The model's restatement of a question, or None when it is cut short (half a question
    finds less) or fails; and whether it failed."""
    try:
        generation = policy.call("rewrite", chat, lambda: chat.generate(prompt))
    except UpstreamError as exc:
        log.warning("could not restate the question for the search: %s", exc.message)
        return None, True
    text = generation.text.strip()
    return (text if text and not generation.truncated else None), False
