"""Code in extractive answers: a section's fenced blocks, and the lines of one that carry the
question (or its start), cut to a few lines with their fences kept balanced."""

from __future__ import annotations

import re

from bookrag.answering.prose import lead_in_of
from bookrag.answering.sentences import CUT
from bookrag.answering.terms import QueryTerms
from bookrag.book.chunking import ends_in_colon
from bookrag.book.mdx import code_fence

_CODE_BLOCK = re.compile(r"^(`{3,})[^\n]*\n.*?^\1[ \t]*$", re.DOTALL | re.MULTILINE)
# The most lines of code (or of a table) one quote holds, fences included. Measured at 12, 16,
# 20 and 24: keyword coverage rises on both dev books up to 16 and no further.
EXCERPT_LINES = 16
CODE_WINDOW = True  # quote the lines of a block that carry the question, not its start
CODE_ADDS = True  # quote code when it holds question terms the quoted prose does not


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a section, fences included."""
    return [m.group() for m in _CODE_BLOCK.finditer(text)]


def led_code(text: str) -> dict[str, str]:
    """The code blocks of a section that a sentence leads into ("so create a virtual
    environment for the project:"), by that sentence as `sentences` quotes it."""
    led: dict[str, str] = {}
    lines = text.split("\n")
    fence, before, start = "", "", 0
    for n, line in enumerate(lines):
        was = fence
        fence, inside = code_fence(fence, line)
        if not inside:
            before = line.strip() or before
        elif not was:
            start = n  # a block opens
        elif not fence:  # it closes
            if ends_in_colon(before):
                led.setdefault(lead_in_of(before), "\n".join(lines[start : n + 1]))
            before = ""
    return led


def code_excerpt(text: str, max_lines: int = EXCERPT_LINES) -> str:
    """The start of a code-only section, with its fences kept balanced and `…` where it is
    cut short."""
    lines = text.strip().split("\n")
    if len(lines) <= max_lines:
        return "\n".join(lines)
    excerpt = lines[: max_lines - 1]
    fence = ""
    for line in excerpt:
        fence, _ = code_fence(fence, line)
    return "\n".join([*excerpt, CUT, fence] if fence else [*excerpt, CUT])  # the block closed


def code_window(block: str, terms: QueryTerms, max_lines: int = EXCERPT_LINES) -> str:
    """The lines of a fenced code block that carry most of the question's weight (the first
    such lines on a tie, from a line that is not blank), inside the block's own fences, with
    `…` where lines are left out."""
    opening, *body, closing = block.strip().split("\n")
    room = max_lines - 2
    if not CODE_WINDOW or len(body) <= room:
        return code_excerpt(block, max_lines)
    starts = range(len(body) - room + 1)
    start = max(starts, key=lambda i: (terms.coverage("\n".join(body[i : i + room])), -i))
    while start < len(body) - 1 and not body[start].strip():
        start += 1
    end = min(start + room, len(body))
    before = [CUT] if start > 0 else []
    after = [CUT] if end < len(body) else []
    return "\n".join([opening, *before, *body[start:end], *after, closing])


def best_code(text: str, terms: QueryTerms, besides: str | None = None) -> str | None:
    """The excerpt of `text`'s code blocks (but `besides`, one quoted already) that covers the
    question best, or None."""
    excerpts = [code_window(block, terms) for block in code_blocks(text) if block != besides]
    return max(excerpts, key=terms.coverage) if excerpts else None


def code_adds(code: str, prose: list[str], terms: QueryTerms) -> bool:
    """Whether the code holds question terms the quoted prose does not (with CODE_ADDS off:
    whether it covers the question better than the best sentence)."""
    if not CODE_ADDS:
        return terms.coverage(code) > terms.coverage(prose[0])
    quoted = "\n".join(prose)
    return terms.coverage(f"{quoted}\n{code}") > terms.coverage(quoted)
