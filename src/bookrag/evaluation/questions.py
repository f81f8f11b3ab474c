"""A questions file: JSON Lines of questions whose answers are known, and where they lie.

A questions file is JSON Lines, one question a line:

    {"id": "A-001", "question": "...", "gold": [{"path": "intro.md", "heading": "Why"}],
     "answer": "a reference answer (shown, not scored)", "keywords": ["..."], "kind": "factual"}
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bookrag.errors import BookragError


class InvalidQuestions(BookragError):
    """The questions file is not JSON Lines of the expected shape."""

    status_code = 400


@dataclass(frozen=True)
class Gold:
    """Where an answer lies: a page (docs-relative path) and, optionally, its section."""

    path: str
    heading: str = ""


@dataclass(frozen=True)
class EvalQuestion:
    """A question with the places its answer lies (none: the book cannot answer it)."""

    id: str
    question: str
    gold: tuple[Gold, ...] = ()
    keywords: tuple[str, ...] = ()
    kind: str = "general"
    answer: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def gold_pages(self) -> list[str]:
        return list(dict.fromkeys(g.path for g in self.gold))

    @property
    def gold_sections(self) -> list[Gold]:
        unique = {(g.path, normalise(g.heading)): g for g in reversed(self.gold)}
        return sorted(unique.values(), key=self.gold.index)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSON Lines questions file, naming the line of any problem."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidQuestions(f"cannot read {path}: {exc}") from None
    questions: list[EvalQuestion] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line), number))
        except (json.JSONDecodeError, ValueError) as exc:
            raise InvalidQuestions(f"{path.name} line {number}: {exc}") from None
    ids = [q.id for q in questions]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise InvalidQuestions(f"{path.name}: repeated ids {', '.join(repeated)}")
    if not questions:
        raise InvalidQuestions(f"{path.name} holds no questions")
    return questions


def _question(item: object, number: int) -> EvalQuestion:
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object")
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"question" must be a non-empty string')
    gold = item.get("gold")
    gold = [] if gold is None else gold
    if not isinstance(gold, list) or not all(
        isinstance(g, dict) and isinstance(g.get("path"), str) and g["path"].strip(" /")
        for g in gold
    ):
        raise ValueError('"gold" must be a list of {"path", "heading"} objects')
    if not gold and (item.get("kind") or "unanswerable") != "unanswerable":
        raise ValueError('a question with no "gold" must be of kind "unanswerable"')
    keywords = item.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValueError('"keywords" must be a list of strings')
    golds = tuple(Gold(g["path"].lstrip("/"), str(g.get("heading") or "")) for g in gold)
    return EvalQuestion(
        id=str(item.get("id") or f"line-{number}"),
        question=text.strip(),
        gold=golds,
        keywords=tuple(keywords),
        kind=str(item.get("kind") or ("general" if golds else "unanswerable")),
        answer=str(item.get("answer") or ""),
    )


def normalise(text: str) -> str:
    """Letters and digits only, case-folded: `2. Theory & Real-World` -> `2theoryrealworld`."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())
