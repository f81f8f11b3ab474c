"""A section's prose lines as `sentences` and `lists` read them: code blocks left out (a
one-line command kept inline), the line leading into what follows, and where a list ends.

Text comes as the index stores a section: each list written out as one block, blocks apart
by a blank line, and code in a list item after the item's line, apart from it too."""

from __future__ import annotations

import re

from bookrag.book import teaching
from bookrag.book.chunking import SENTENCE_END, ends_in_colon, leads_in
from bookrag.book.mdx import code_fence

# Left in a section's lines, with `marks`, where a code block was: quoted inline as a line's
# command, or left out. Characters no book writes.
INLINED = "\ue011"
LEFT_OUT = "\ue012"
CODE_MARKS = (INLINED, LEFT_OUT)
INLINE_COMMANDS = True  # switch kept for the ablation
_COMMAND_CHARS = 120
_NUMBER = re.compile(r"^(\d+)[.)]$")


def outside_code(lines: list[str], marks: bool = False) -> list[str]:
    """The lines that are not in a fenced code block, nor its fences; a line leading into a
    one-line block ("Save the map with:", then a command) ends with that line as inline code,
    so the step is quoted with its command. With `marks`, a line of `CODE_MARKS` stands where
    each block was."""
    kept: list[str] = []
    fence = ""
    block: list[str] = []
    after_code = False  # a block has closed since the last line of prose
    for line in lines:
        fence, inside = code_fence(fence, line)
        if not inside:
            kept.append(line)
            after_code = after_code and not line.strip()
            continue
        block.append(line)
        if not fence:  # the block closed on this line
            inlined = not after_code and _inline_command(kept, block)
            kept += [INLINED if inlined else LEFT_OUT] if marks else []
            block, after_code = [], True
    return kept


def _inline_command(kept: list[str], block: list[str]) -> bool:
    """Put the command of `block` after the last of the `kept` lines, when the line ends in a
    colon and the block is one short line of code; whether it did."""
    command = block[1].strip() if len(block) == 3 else ""
    if not (INLINE_COMMANDS and command) or len(command) > _COMMAND_CHARS or "`" in command:
        return False
    last = next((i for i in range(len(kept) - 1, -1, -1) if kept[i].strip()), None)
    if last is None or not ends_in_colon(kept[last]):
        return False
    kept[last] = f"{kept[last].rstrip()} `{command}`"
    return True


def lead_in_of(line: str) -> str:
    """The sentence of `line` that introduces what follows it (its last, when the line ends
    in a colon), or "". `sentences` and `lists` must agree on it: quotes are merged by it."""
    if not leads_in(line):
        return ""
    lead = SENTENCE_END.split(line)[-1].strip()
    return lead if ends_in_colon(lead) else f"{lead}:"  # a bold label's colon


def list_ends(lines: list[str]) -> list[bool]:
    """For each of the lines (`outside_code` with marks), whether a list ends before it.
    Lists apart (a blank line between) are two lists, with their own lead-ins, unless the line
    is indented under an item (only a list's lines are), or a code block in an item came
    between and the line is the list's next item (of the same kind of marker, numbered one
    on)."""
    ends = [False] * len(lines)
    markers: dict[int, str] = {}  # the last item's marker at each indent of the list read
    apart = code = False
    for i, line in enumerate(lines):
        if line in CODE_MARKS:
            code = True
            continue
        if not line.strip():
            apart = True
            continue
        item = teaching.LIST_MARK.match(line)
        indent = len(line) - len(line.lstrip())
        if apart and markers:
            under = indent > min(markers)  # indented under an item: it goes on with it
            goes_on = under or (
                code and item is not None and _next(markers.get(indent), item.group())
            )
            ends[i] = not goes_on
            markers = {} if ends[i] else markers
        apart = code = False
        if item:
            markers = {at: mark for at, mark in markers.items() if at < indent}
            markers[indent] = item.group().strip()
        elif not indent:
            markers = {}
    return ends


def _next(previous: str | None, marker: str) -> bool:
    """Whether an item marked `marker` can follow one marked `previous` in one list."""
    marker = marker.strip()
    if previous is None or previous[-1] != marker[-1]:
        return False
    before, after = _NUMBER.match(previous), _NUMBER.match(marker)
    return before is None or (after is not None and int(after[1]) == int(before[1]) + 1)
