"""Where a page's MDX `import`/`export` statements end, as MDX reads them.

MDX takes a line starting with `import ` or `export ` (at the start of a line, outside any
container) as JavaScript up to the next blank line, and hands that to acorn; where acorn
finds the code cut short at its end (a `{` not closed yet, a template literal, a comment
going on), MDX reads on past the blank line to the next one, and tries again. So a statement
with blank lines in it (an `export function` whose body has a blank line) is ESM to its end,
and the page's text resumes only after it.

Nothing here runs a JavaScript parser: `cut_short` scans the code for what leaves it open
(brackets, strings, template literals, comments, regular expressions, and an operator or
keyword that needs more after it), which is what decides where acorn stops asking for more.
"""

from __future__ import annotations

import re

# After one of these (or at the start), `/` starts a regular expression, not a division.
_BEFORE_REGEX = frozenset("(,=:[!&|?{};+-*%~^") | {"=>"}
_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    "return typeof case do else in of new delete void throw yield await instanceof".split()
)
# Code ending in one of these has more to come: `export const a =`, `import x from`.
_OPEN_ENDED_WORDS = _KEYWORDS_BEFORE_EXPRESSION | frozenset(
    "import export from as const let var function class extends default async".split()
)
_OPEN_ENDED_MARKS = frozenset("=+-*%&|^!~?:,.") | {"=>"}
_WORD = re.compile(r"[\w$]+")


def cut_short(code: str) -> bool:
    """Whether `code` stops before its statements do: a bracket, template literal or block
    comment still open, or a last token that needs another after it. Strings and regular
    expressions end with their line, as in JavaScript; a quote right after a letter (`Don't`
    in JSX text) starts no string."""
    scan = _Scan(code)
    scan.run()
    return bool(scan.open) or scan.last in _OPEN_ENDED_MARKS or scan.last in _OPEN_ENDED_WORDS


class _Scan:
    """One pass over JavaScript (with JSX) keeping only what is still open at its end."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.i = 0
        self.open: list[str] = []  # brackets, "`" for a template, "${" inside one, "/*"
        self.last = ""  # the last significant token: a mark or a word

    def run(self) -> None:
        code = self.code
        while self.i < len(code):
            if self.open and self.open[-1] == "`":
                self._template()
                continue
            ch = code[self.i]
            if ch.isspace():
                self.i += 1
            elif code.startswith("//", self.i):
                end = code.find("\n", self.i)
                self.i = len(code) if end < 0 else end
            elif code.startswith("/*", self.i):
                end = code.find("*/", self.i + 2)
                if end < 0:
                    self.open.append("/*")
                    return
                self.i = end + 2
            elif ch in "'\"" and not (self.i and _WORD.fullmatch(code[self.i - 1])):
                self._string(ch)
            elif ch == "`":
                self.open.append("`")
                self.i += 1
            elif ch == "/" and self._regex_may_start():
                self._regex()
            elif word := _WORD.match(code, self.i):
                self.last = word.group()
                self.i = word.end()
            else:
                self._mark(ch)

    def _mark(self, ch: str) -> None:
        self.i += 1
        if ch in "([{":
            self.open.append(ch)
        elif ch in ")]}" and self.open:
            opened = self.open.pop()
            if opened == "${":
                self.open.append("`")  # back in the template literal
        before = self.code[self.i - 2 : self.i - 1]
        if ch in "+-" and before == ch:
            self.last = ""  # `a++` is done
        else:
            self.last = "=>" if ch == ">" and before == "=" else ch

    def _string(self, quote: str) -> None:
        """A string ends at its quote, or (as no string goes on past one) at the line's end."""
        i = self.i + 1
        while i < len(self.code) and self.code[i] not in (quote, "\n"):
            i += 2 if self.code[i] == "\\" else 1
        self.i = i + 1
        self.last = quote

    def _template(self) -> None:
        code, i = self.code, self.i
        while i < len(code):
            if code[i] == "\\":
                i += 2
            elif code[i] == "`":
                self.open.pop()
                self.last = "`"
                break
            elif code.startswith("${", i):
                self.open[-1] = "${"
                self.last = "{"
                i += 1
                break
            else:
                i += 1
        self.i = i + 1

    def _regex_may_start(self) -> bool:
        last = self.last
        return not last or last in _BEFORE_REGEX or last in _KEYWORDS_BEFORE_EXPRESSION

    def _regex(self) -> None:
        """A regular expression literal, to its closing `/` (a `/` in `[...]` closes none)."""
        code, i, in_class = self.code, self.i + 1, False
        while i < len(code) and code[i] != "\n":
            if code[i] == "\\":
                i += 1
            elif code[i] == "[":
                in_class = True
            elif code[i] == "]":
                in_class = False
            elif code[i] == "/" and not in_class:
                break
            i += 1
        self.i = i + 1
        self.last = "/"
