"""A JavaScript (or TypeScript) config's text, read without running it: where its config
object's top level is, its keys, and the values that can be read as written.

A value is read where it can be without running anything: a string, a template literal or a
name made of string constants (`baseUrl: `/${projectName}/``, as GitHub Pages configs write
it), or `process.env.X || 'literal'` as the literal the build uses when X is unset (said in a
warning). Keys are never read inside strings or comments.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("bookrag")

# Keys only the config object's own level has: where one is, its other settings are.
_TOP_KEYS = ("title", "url", "baseUrl", "presets", "themeConfig", "tagline", "favicon")
_CONSTANT = re.compile(r"\b(?:const|let|var)\s+(\w+)\s*(?::\s*[\w.<>\[\]| ]+?)?\s*=\s*")
_ENV_FALLBACK = re.compile(r"process\.env\.(\w+)\s*(?:\|\||\?\?)\s*")


class ConfigText:
    """A config's text (comments out), the same with its strings blanked (so a key is never
    read inside one), its string constants, and where its top level is."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.code = _strings_blanked(source)
        self.depths = _depths(self.code)
        self.constants: dict[str, str] = {}
        for match in _CONSTANT.finditer(self.code):
            value = self.value_at(match.end())
            if value is not None:
                self.constants[match.group(1)] = value
        # The config object is the one holding most of the keys only it has (a module-level
        # `{title: ...}` beside a config built in a function is not it).
        names: dict[int, set[str]] = {}
        for match in self.keys(_TOP_KEYS):
            if self.depths[match.start()] > 0:
                names.setdefault(self.depths[match.start()], set()).add(match.group(1))
        self.top = min(names, key=lambda d: (-len(names[d]), d), default=1)

    def keys(self, names: tuple[str, ...], code: str | None = None) -> list[re.Match[str]]:
        pattern = rf"(?<![\w.$])['\"]?({'|'.join(names)})['\"]?\s*:(?!:)"
        return list(re.finditer(pattern, self.code if code is None else code))

    def has(self, key: str) -> bool:
        return any(self.depths[m.start()] == self.top for m in self.keys((key,)))

    def setting(self, key: str) -> str | None:
        """The value of `key` at the config's top level, when it can be read."""
        for match in self.keys((key,)):
            if self.depths[match.start()] == self.top:
                return self.value_at(match.end())
        return None

    def top_level(self) -> str:
        """The config's text at its top level only (nested objects and strings blanked)."""
        pairs = zip(self.code, self.depths, strict=True)
        return "".join(c if d == self.top else " " for c, d in pairs)

    def closing(self, opening: int) -> int:
        """The offset of the `}` that closes the `{` at `opening` (the end if none does)."""
        depth = self.depths[opening]
        for i in range(opening + 1, len(self.code)):
            if self.code[i] == "}" and self.depths[i] == depth:
                return i
        return len(self.code)

    def value_at(self, at: int) -> str | None:
        """The string the expression starting at offset `at` makes, if it can be read (none
        for an expression that goes on: `'/' + projectName + '/'`)."""
        text = self.source[at:].lstrip()
        env = _ENV_FALLBACK.match(text)
        if env:
            text = text[env.end() :]
        found = re.match(r"""(['"])(.*?)(?<!\\)\1|`([^`]*)`|(\w+)(?![\w.(\[])""", text, re.DOTALL)
        if found is None or not re.match(r"\s*(?:[,;})\]]|$)", text[found.end() :]):
            return None
        if found.group(4) is not None:  # a name: a string constant
            value = self.constants.get(found.group(4))
        elif found.group(3) is not None:  # a template literal
            value = re.sub(r"\$\{\s*(\w+)\s*\}", lambda m: self.constants.get(m[1], "${"), found[3])
            value = None if "${" in value else value
        else:
            value = found.group(2)
        if value is not None and env:
            log.warning(
                "docusaurus.config reads process.env.%s, taken as unset ('%s'); if the site "
                "is built with it set, give --site-url",
                env.group(1),
                value,
            )
        return value


def _strings_blanked(source: str) -> str:
    """`source` with the insides of its strings blanked (spaces), but for quoted keys
    (`'url': ...`), so no key, brace or colon is read inside a string."""
    out = list(source)
    quote, start = "", 0
    escaped = False
    for i, ch in enumerate(source):
        if quote:
            if not escaped and ch == quote:
                key = re.match(r"\s*:(?!:)", source[i + 1 :]) is not None
                if not key:
                    out[start + 1 : i] = [c if c == "\n" else " " for c in source[start + 1 : i]]
                quote = ""
            escaped = not escaped and ch == "\\"
        elif ch in "'\"`":
            quote, start, escaped = ch, i, False
    return "".join(out)


def _depths(code: str) -> list[int]:
    """For each character of `code` (comments out, strings blanked: `_strings_blanked`), how
    many `{` enclose it; a brace itself counts as outside."""
    depths: list[int] = []
    depth = 0
    for ch in code:
        depth -= ch == "}"
        depths.append(depth)
        depth += ch == "{"
    return depths


def without_comments(source: str) -> str:
    """JavaScript source with `//` and `/* */` comments blanked out (strings left alone)."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(source):
        ch = source[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(source):
                out.append(source[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
            continue
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = len(source) if end < 0 else end + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)
