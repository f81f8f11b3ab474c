"""The `[n]` markers by which an OpenAI-compatible model cites its numbered sources:
renumbered as the answer's citations are (one number per section, in order of first use)
while the text streams, code left as written, and mapped back to span citations. The
answer numbers them best first at its end (`generation.to_answer`): a stream shows the
text without them until then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bookrag.providers.base import SourceDocument, SpanCitation

_MARKER = re.compile(r"\[(\d+)\]")
# What may be the start of a marker, of a marker's blank, or of a fence or closing
# backticks: held back until the next piece says.
_UNFINISHED = re.compile(r"(?:[ \t]*\[[\d, \t]*|[`~]*[ \t]+|[`~]+)$")
_FENCE_LINE_END = re.compile(r"(?:^|(?<=\n))[ \t]*(?:`{3,}|~{3,})[^\n]*$")
_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*,\s*\d+)+)\]")  # `[1, 2]`: several sources at once
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?])\s+|\n)")
# Where code starts: a fence (at a line's start) or a run of backticks.
_CODE_START = re.compile(r"`+|~{3,}")


class CodeScanner:
    """Tells the code in Markdown from its prose, fed piece by piece: fenced blocks (a fence
    with only blanks before it on its line, closed by a line of the same fence) and inline
    code (a run of backticks, closed by the same run on its line). The caller holds back a
    piece's trailing fence characters and blanks until the next piece says what they are."""

    def __init__(self) -> None:
        self._fence = ""  # the fence of the code block the text is in, if any
        self._ticks = 0  # the backticks of the inline code the text is in, if any
        self._line_blank = True  # only blanks so far on the line the text is on

    @property
    def in_code(self) -> bool:
        return bool(self._fence or self._ticks)

    def split(self, text: str) -> Iterator[tuple[str, bool]]:
        """`text` as consecutive (part, is it code) pairs."""
        at = 0
        while at < len(text):
            if self._fence:  # a fenced block runs to its closing fence line
                closing = self._closing_fence(text, at)
                end = len(text) if closing is None else closing
                self._fence = "" if closing is not None else self._fence
                yield self._seen(text[at:end], True)
            elif self._ticks:  # inline code runs to the same run of backticks, on its line
                ticks = re.compile(rf"(?<!`)`{{{self._ticks}}}(?!`)|\n").search(text, at)
                end = len(text) if ticks is None else ticks.end()
                self._ticks = 0 if ticks is not None else self._ticks
                yield self._seen(text[at:end], True)
            else:
                opener = _CODE_START.search(text, at)
                end = len(text) if opener is None else opener.start()
                if end > at:
                    yield self._seen(text[at:end], False)
                if opener is not None:
                    run = opener.group()
                    if len(run) >= 3 and self._blank_before(text, opener.start()):
                        self._fence = run  # its info string is code too
                        line_end = text.find("\n", opener.end())
                        end = len(text) if line_end < 0 else line_end
                        yield self._seen(text[opener.start() : end], True)
                    elif run.startswith("`"):
                        self._ticks, end = len(run), opener.end()
                        yield self._seen(run, True)
                    else:  # tildes inside a line are text
                        end = opener.end()
                        yield self._seen(run, False)
            at = end

    def _closing_fence(self, text: str, at: int) -> int | None:
        """Where the line closing the open fence ends, or None if it is not in `text`."""
        fence = re.compile(
            rf"^[ \t]*{re.escape(self._fence[0])}{{{len(self._fence)},}}[ \t]*$", re.MULTILINE
        )
        for match in fence.finditer(text, at):
            if self._blank_before(text, match.start()):  # `^` also matches where `text` starts
                return match.end()
        return None

    def _blank_before(self, text: str, start: int) -> bool:
        """Whether only blanks come before `start` on its line (counting earlier pieces)."""
        line_start = text.rfind("\n", 0, start) + 1
        return not text[line_start:start].strip() and (line_start > 0 or self._line_blank)

    def _seen(self, part: str, code: bool) -> tuple[str, bool]:
        if "\n" in part:
            self._line_blank = not part[part.rfind("\n") + 1 :].strip()
        else:
            self._line_blank = self._line_blank and not part.strip()
        return part, code


def code_closer(text: str) -> str:
    """What closes the code `text` ends inside: its block's fence on a line of its own, or
    its inline code's backticks; "" when it ends in prose."""
    scanner = CodeScanner()
    for _ in scanner.split(text):
        pass
    if scanner._fence:
        return ("" if text.endswith("\n") else "\n") + scanner._fence + "\n"
    return "`" * scanner._ticks


def code_regions(text: str) -> list[tuple[int, int, bool]]:
    """The (start, end, closed) of each piece of code in a whole text; `closed` is False
    for a fenced block the text ends inside (a reply cut short)."""
    scanner, at = CodeScanner(), 0
    regions: list[tuple[int, int, bool]] = []
    for part, code in scanner.split(text):
        if code:
            if regions and regions[-1][1] == at:  # a fence and its block: one region
                regions[-1] = (regions[-1][0], at + len(part), True)
            else:
                regions.append((at, at + len(part), True))
        at += len(part)
    if regions and scanner.in_code:
        regions[-1] = (regions[-1][0], regions[-1][1], False)
    return regions


class MarkerNumbers:
    """Rewrites the model's `[n]` (its n-th source) as the answer numbers its citations: one
    number per section, in order of first use. A marker of no source, or of one without a
    URL, is dropped (one of no source becomes a citation of the id `[n]`, which cites
    nothing); with no sources at all, the text is left as it is. `[n]` in code
    (`values[1]`, or a fenced block) is code, never a marker. Text is fed piece by piece;
    a marker, or a run of backticks, split across pieces is held back until it is whole."""

    def __init__(self, documents: tuple[SourceDocument, ...]) -> None:
        self.documents = documents
        self.numbers: dict[str, int] = {}  # a section's URL: its number in the answer
        self.cited: dict[int, SourceDocument] = {}  # a number in the answer: its source
        self.unnumbered: set[str] = set()  # sources cited that have no URL (a selection)
        self.unknown: list[int] = []  # numbers cited that name no source
        self.unmarked = ""  # the last piece given, without its markers (what a stream shows)
        self.placed: list[tuple[int, int]] = []  # (offset in the answer, number) per marker
        self.held = ""
        self._sent = 0  # characters of the answer given out so far
        self._told: tuple[int, set[str]] = (0, set())  # what `new_citations` gave so far
        self._code = CodeScanner()

    def feed(self, text: str) -> str:
        if not self.documents:  # no sources (a translation, a rewrite): `[n]` is the text's own
            self.unmarked = text
            return text
        text = self.held + text
        unfinished = _UNFINISHED.search(text)
        cut = unfinished.start() if unfinished else len(text)
        # A line opening or closing a block is known only at its end.
        fence_line = _FENCE_LINE_END.search(text[:cut])
        cut = fence_line.start() if fence_line else cut
        self.held = text[cut:]
        return self._rewritten(text[:cut])

    def flush(self) -> str:
        """What is held back, at the end of the text."""
        held, self.held = self.held, ""
        if not self.documents:
            self.unmarked = held
            return held
        return self._rewritten(held)

    def new_citations(self) -> list[SpanCitation]:
        """A citation of each source cited since the last call, as soon as its marker is
        read, for a stream to know its answer is grounded; `marker_citations` gives their
        spans at the end."""
        placed, unnumbered = self._told
        new = [SpanCitation(0, 0, "", (self.cited[n].id,)) for _, n in self.placed[placed:]]
        new += [
            SpanCitation(0, 0, "", (doc_id,)) for doc_id in sorted(self.unnumbered - unnumbered)
        ]
        self._told = (len(self.placed), set(self.unnumbered))
        return new

    def _rewritten(self, text: str) -> str:
        out, unmarked = [], []
        for part, code in self._code.split(text):
            marked, shown = (part, part) if code else self._prose(part)
            out.append(marked)
            unmarked.append(shown)
            self._sent += len(marked)
        self.unmarked = "".join(unmarked)
        return "".join(out)

    def _prose(self, text: str) -> tuple[str, str]:
        """Prose with its markers renumbered, and without them."""
        text = _MARKER_GROUP.sub(self._split, text)
        out, unmarked, length, last = [], [], 0, 0
        for match in _MARKER.finditer(text):
            kept = text[last : match.start()]
            bare = kept[:-1] if kept.endswith(" ") else kept  # "range [7]." reads "range."
            number = self._number(int(match.group(1)))
            marker = "" if number is None else f"[{number}]"
            kept = bare if number is None else kept
            if number is not None:  # its place in the answer, for the citation's span
                self.placed.append((self._sent + length + len(kept), number))
            out += [kept, marker]
            unmarked.append(bare)
            length += len(kept) + len(marker)
            last = match.end()
        out.append(text[last:])
        unmarked.append(text[last:])
        return "".join(out), "".join(unmarked)

    def _split(self, match: re.Match[str]) -> str:
        """`[1, 2]` as `[1][2]`, each then renumbered, when every number is a source's."""
        given = [int(n) for n in match.group(1).split(",")]
        if not all(1 <= n <= len(self.documents) for n in given):
            return match.group()
        return "".join(f"[{n}]" for n in given)

    def _number(self, given: int) -> int | None:
        """The answer's number for the model's source `given`; None for no source, or one
        without a URL (a selection, which grounds the answer but is no section to cite)."""
        if not 1 <= given <= len(self.documents):
            if given not in self.unknown:
                self.unknown.append(given)
            return None
        document = self.documents[given - 1]
        if not document.url:
            self.unnumbered.add(document.id)
            return None
        number = self.numbers.setdefault(document.url, len(self.numbers) + 1)
        self.cited.setdefault(number, document)
        return number


def marker_citations(text: str, numbers: MarkerNumbers) -> tuple[SpanCitation, ...]:
    """Citations whose span is the sentence before each marker; a source cited that has no
    URL (the reader's selection) grounds the answer with an empty span, and a number that
    names no source is a citation of the id `[n]`, which no document has."""
    citations: list[SpanCitation] = []
    markers = {at: len(f"[{number}]") for at, number in numbers.placed}
    for at, number in numbers.placed:
        starts = [m.end() for m in _SENTENCE_START.finditer(text, 0, at)]
        start = max((s for s in starts if s < at), default=0)
        span = _without_markers(text, start, at, markers).strip()
        if citations and not span:  # `[1][2]`: the second marker cites the same sentence
            span = citations[-1].text
        citations.append(SpanCitation(start, at, span, (numbers.cited[number].id,)))
    citations += [SpanCitation(0, 0, "", (doc_id,)) for doc_id in sorted(numbers.unnumbered)]
    citations += [SpanCitation(0, 0, "", (f"[{n}]",)) for n in numbers.unknown]
    return tuple(citations)


def _without_markers(text: str, start: int, end: int, markers: dict[int, int]) -> str:
    """`text[start:end]` without the markers placed in it (`[n]` in code stays)."""
    kept, at = [], start
    for place in sorted(p for p in markers if start <= p < end):
        kept.append(text[at:place])
        at = place + markers[place]
    kept.append(text[at:end])
    return "".join(kept)
