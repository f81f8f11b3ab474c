"""Tell the lines of a page that teach from those that only point elsewhere, test the
reader or stand for text not written yet: navigation lines, lines made only of links, quiz
answer options, exercise prompts, placeholders.

Structure alone decides (link syntax, arrows, option letters, checkboxes, the capitals
authors mark unwritten text with), never the words of a particular book, so the rule
carries over to books nobody tuned it on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bookrag.book import cjk
from bookrag.book.chunking import ends_in_colon

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")  # a list item's marker
# A checklist or quiz option, bare or as a list item; or, numbered, an answer key's line, its
# letter closed by a bracket ("5. B) To publish joint states", not "1. E. coli doubles").
_OPTION = re.compile(
    r"^\s*(?:(?:[-*+]\s+)?(?:\[[ xX]\]\s+|\(?[a-hA-H][).]\s+)|\d+[.)]\s+[a-hA-H]\)\s+)"
)
_ARROWS = re.compile(r"[←→⟵⟶«»]|&larr;|&rarr;")
# A quiz item written on one line (a question, then its lettered options), as soft-wrapped
# Markdown and one-line pages read; and an answer key: a short label, then an option letter.
_INLINE_OPTIONS = re.compile(r"\?[*_\s]*\(?[aA][).]\s.*\s\(?[bB][).]\s")
_ANSWER_KEY = re.compile(r"^[*_]*[^\W\d_][\w ]{0,30}:[*_]*\s*\(?[a-hA-H][).]\s")
_SEPARATORS = re.compile(r"[\s|•·:,;.\-–—*_>#]+")
# An author's mark for text not written yet, in capitals (`TBD`, `TBA`, `TODO`), alone or with
# what is to come in brackets around it: `[TBD - lecture videos]`, `(TODO)`.
_PLACEHOLDER = re.compile(
    r"[\[(][^\[\]()]*\b(?:TBD|TBA|TODO)\b[^\[\]()]*[\])]|\b(?:TBD|TBA|TODO)\b"
)


def is_aside(line: str) -> bool:
    """Whether a line of light Markdown is navigation, a bare link list item, or a quiz or
    checklist option rather than teaching prose."""
    stripped = line.strip().lstrip(">").strip()
    if not stripped:
        return False
    if _OPTION.match(stripped) or _ANSWER_KEY.match(stripped) or is_placeholder(stripped):
        return True
    links = _LINK.findall(stripped)
    if not links:
        return False
    if _ARROWS.search(stripped):
        return True
    # What is left once the links and list markers are gone: nothing but separators, or a
    # short gloss after a link ("[Guide](x) - the official guide") still only points away.
    rest = _LINK.sub(" ", LIST_MARK.sub("", stripped))
    return not _SEPARATORS.sub("", rest) or (
        _LINK.match(LIST_MARK.sub("", stripped)) is not None and cjk.word_count(rest) <= 12
    )


# A paragraph that is one quotation: a mark opening it, one closing it, none between; a
# block quote's marks; and a line saying whose words a quotation is (`— Ada Lovelace`).
_ONE_QUOTATION = re.compile(r"[\"“][^\"”]+[\"”]")
_QUOTE_MARKER = re.compile(r"^\s*(?:>\s*)+")
_ATTRIBUTION = re.compile(r"^\s*>?\s*(?:[—–―]|--)\s*\S")


def quoted_prompts(lines: list[str]) -> set[int]:
    """The lines of paragraphs (block quotes or not) that are wholly one quotation and say
    not whose words they are: prompts the reader is given to ask an AI (`> "Explain when to
    use ..."`, `"Why does my match-case ...?"` after `Ask your AI:`), not the book teaching.
    One quotation (or one a line): opened at its start, closed at its end, by no mark
    between (`"Hello" is what "talker" prints` is a sentence). A quotation followed by its
    speaker (`— Ada Lovelace`) is left out of them: someone's words the book cites."""
    found: set[int] = set()
    for first, last in _paragraphs(lines):
        said = [_QUOTE_MARKER.sub("", line).strip().strip("*_ ") for line in lines[first:last]]
        # A line leading into the quotation stays ("**Ask your AI:**", then the prompt).
        if len(said) > 1 and ends_in_colon(said[0]):
            first, said = first + 1, said[1:]
        quoted = _ONE_QUOTATION.fullmatch(" ".join(said)) is not None or all(
            _ONE_QUOTATION.fullmatch(line) for line in said
        )
        after = next((n for n in lines[last:] if n.strip(" >")), "")
        if quoted and not _ATTRIBUTION.match(after):
            found.update(range(first, last))
    return found


def _paragraphs(lines: list[str]) -> Iterator[tuple[int, int]]:
    """Where each paragraph of `lines` starts and ends: runs of lines, not blank, all in a
    block quote or all not."""
    first, was_quoting = None, False
    for at, line in enumerate([*lines, ""]):
        quoting = line.lstrip().startswith(">")
        ends = not line.strip(" >") or (first is not None and quoting != was_quoting)
        if first is not None and ends:
            yield first, at
            first = None
        if first is None and line.strip(" >"):
            first, was_quoting = at, quoting


def is_placeholder(line: str) -> bool:
    """Whether a line or heading stands for text not written yet: a placeholder mark with
    no more than a short label beside it (`**Videos**: [TBD - lecture videos]`, `## TBD
    Sections`), not a sentence that mentions one ("Leave a TODO comment where ...")."""
    if _PLACEHOLDER.search(line) is None:
        return False
    rest = _LINK.sub(r"\1", _PLACEHOLDER.sub(" ", LIST_MARK.sub("", line)))
    return cjk.word_count(_SEPARATORS.sub(" ", rest)) <= 3


def is_quiz(text: str) -> bool:
    """Whether a sentence holds a quiz item's lettered options after its question, or is an
    answer key ("Correct answer: b) ..."). (A whole line may be a one-line page.)"""
    return _INLINE_OPTIONS.search(text) is not None or _ANSWER_KEY.match(text.strip()) is not None


def is_question(line: str) -> bool:
    """Whether a line asks the reader something (an exercise or quiz prompt)."""
    text = _LINK.sub(r"\1", line).strip().strip("*_ ")
    return text.endswith(("?", "？"))
