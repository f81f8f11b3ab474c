"""Extractive answers: the book's own sentences that carry most of the question's weight,
quoted with numbered citations. Used when no chat model is configured, and as the fallback
when one fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bookrag.models import Answer, Citation, Citations
from bookrag.retrieval import Passage, QueryTerms

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`*\[(\"'])")
MAX_QUOTES = 3
HEADER = "From the book (quoted passages; no language model is configured):"
DEGRADED_HEADER = "From the book (quoted passages; the language model is unavailable right now):"


@dataclass(frozen=True)
class Quote:
    passage: Passage
    text: str


def extractive_answer(
    passages: list[Passage], terms: QueryTerms, selection: str | None, degraded: bool = False
) -> Answer:
    """Quote the best sentences of `passages` (the first passage may be the selection)."""
    quotes = best_quotes(passages, terms, selection)
    cited = Citations()
    lines = [DEGRADED_HEADER if degraded else HEADER, ""]
    for quote in quotes:
        passage = quote.passage
        number = cited.add(passage.url, passage.title, passage.section, quote.text)
        if "\n" in quote.text:  # a code excerpt keeps its own lines and fences
            lines += [quote.text, f"[{number}]", ""]
        else:
            lines += [f"> {quote.text} [{number}]", ""]
    lines.append("Sources:")
    by_url = {c.url: c for c in cited.items}
    lines += [f"[{n}] {_label(by_url[url])}: {url}" for url, n in cited.numbers.items()]
    return Answer(
        answer="\n".join(lines),
        sources=cited.sources,
        citations=cited.items,
        mode="extractive",
        extractive=True,
        degraded=degraded,
    )


def _label(citation: Citation) -> str:
    return f"{citation.title} › {citation.section}" if citation.section else citation.title


def sentences(text: str) -> Iterator[str]:
    """Sentences and list items of a section's prose (code blocks and tables are left out)."""
    in_code = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            continue
        if in_code or stripped.startswith("|"):
            continue
        yield from (s.strip() for s in _SENTENCE.split(stripped) if len(s.split()) >= 3)


def best_sentence(text: str, terms: QueryTerms) -> str:
    """The sentence of `text` that best covers `terms` (the start of `text` if none does)."""
    units = list(sentences(text))
    if not units:
        return text.strip()[:300]
    return max(units, key=lambda u: (terms.coverage(u), -len(u)))


def code_excerpt(text: str, max_lines: int = 12) -> str:
    """The start of a code-only section, with its fences kept balanced."""
    lines = text.strip().split("\n")
    if len(lines) <= max_lines:
        return "\n".join(lines)
    excerpt = lines[: max_lines - 1]
    if sum(line.strip().startswith("```") for line in excerpt) % 2:
        excerpt.append("```")
    return "\n".join(excerpt)


def best_quotes(passages: list[Passage], terms: QueryTerms, selection: str | None) -> list[Quote]:
    quotes: list[Quote] = []
    if selection and passages and passages[0].text == selection:
        # The reader's selection comes first, quoted once, then what surrounds it.
        quotes.append(Quote(passages[0], " ".join(selection.split()[:80])))
        passages = passages[1:]
    for rank, passage in enumerate(passages, start=len(quotes)):
        units = list(sentences(passage.text))
        if not units:  # a section of code or a table: quote its start, but only as the answer
            if rank == 0:
                quotes.append(Quote(passage, code_excerpt(passage.text)))
            continue
        scored = sorted(units, key=lambda u: (terms.coverage(u), -len(u)), reverse=True)
        take = 2 if rank == 0 else 1
        chosen = [u for u in scored[:take] if rank == 0 or terms.coverage(u) > 0]
        # Keep the book's order inside one section.
        quotes.extend(Quote(passage, u) for u in sorted(chosen, key=units.index))
        if len(quotes) >= MAX_QUOTES:
            break
    return quotes[:MAX_QUOTES]
