"""Markdown partials: a page's `import Setup from './_setup.mdx'`, then `<Setup />`, read
where the page uses them, as the built page shows them.

Docusaurus builds each partial on its own: its headings are slugged apart from the page's,
a fence it leaves open closes at its end, and its links lead where they lead from its own
folder. A partial is read from the page's folder or the site's (`@site/`), never from
outside the site folder, and `MAX_PARTIAL_DEPTH` deep at most.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

from bookrag.book.docusaurus import FRONT_MATTER
from bookrag.book.mdx import code_fence

log = logging.getLogger("bookrag")

MAX_PARTIAL_DEPTH = 5  # a partial in a partial in ...
# A relative link to a page's file in Markdown: `](./other.md#units)`, `](other.mdx)`.
_PAGE_LINK = re.compile(r"(?<=\]\()(?![a-z][\w+.-]*:|/|#)[^()\s]+\.mdx?(?:#[^()\s]*)?(?=\))")
_PARTIAL_IMPORT = re.compile(
    r"""^import\s+(?P<name>[A-Z][\w$]*)\s+from\s+(?P<q>["'])(?P<path>[^"'\n]+\.mdx?)(?P=q);?\s*$"""
)
# Lines around a partial's text in the page: Docusaurus slugs a partial's headings apart
# from the page's (its own `setup` although the page has one), and so does the walker.
PARTIAL_START, PARTIAL_END = "\ue002", "\ue003"
# A line that only uses a component, with no children: `<Setup />`, `<Setup></Setup>`.
_COMPONENT_USE = re.compile(
    r"^\s*<(?P<name>[A-Z][\w$]*)(?:\s[^<>]*?)?\s*(?:/>|>\s*</(?P=name)\s*>)\s*$"
)


def with_partials(text: str, path: Path, site_dir: Path, seen: tuple[Path, ...] = ()) -> str:
    """`text` (of the file `path`) with the partials it imports written out where it uses
    them (theirs too); a partial that cannot be read (which is warned of), that is outside
    the site folder `site_dir`, or that imports itself, stays a component."""
    here = path.resolve()
    bodies = {}
    for name, target in _imports(text).items():
        relative = target.removeprefix("@site/")
        file = ((site_dir if relative != target else path.parent) / relative).resolve()
        if len(seen) >= MAX_PARTIAL_DEPTH or file in (*seen, here):
            continue
        if not file.is_relative_to(site_dir):
            continue
        try:
            written = file.read_text(encoding="utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError) as exc:
            _warn_unread(here, seen[0] if seen else here, target, site_dir, exc)
            continue
        body = _relinked(FRONT_MATTER.sub("", written), file.parent, here.parent)
        bodies[name] = with_partials(body, file, site_dir, (*seen, here))
    return _written_out(text, bodies) if bodies else text


def _warn_unread(
    importer: Path, page: Path, target: str, site_dir: Path, exc: OSError | UnicodeDecodeError
) -> None:
    """Tell the author of a partial left out of `page`, imported by `importer` (the page or
    a partial in it): a missing one fails the site's build ("Module not found"), and only
    the build would say so."""

    def named(file: Path) -> str:
        return file.relative_to(site_dir).as_posix() if file.is_relative_to(site_dir) else str(file)

    shown = named(importer) if importer == page else f"{named(importer)} (in {named(page)})"
    if isinstance(exc, FileNotFoundError):
        log.warning(
            "%s imports %s, which does not exist: the page is indexed without it, and "
            "Docusaurus will fail to build the site (Module not found)",
            shown,
            target,
        )
    else:
        why = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else exc.strerror or exc
        log.warning(
            "%s imports %s, which cannot be read (%s): the page is indexed without it",
            shown,
            target,
            why,
        )


def _relinked(text: str, partial_dir: Path, page_dir: Path) -> str:
    """A partial's relative links to pages (`./other.md`), as links from the folder of the
    page using it: Docusaurus resolves them from the partial's own folder."""
    if partial_dir == page_dir:
        return text

    def moved(found: re.Match[str]) -> str:
        path, hashed, anchor = found.group().partition("#")
        return Path(os.path.relpath(partial_dir / path, page_dir)).as_posix() + hashed + anchor

    out, fence = [], ""
    for line in text.split("\n"):
        fence, code = code_fence(fence, line)
        out.append(line if code else _PAGE_LINK.sub(moved, line))
    return "\n".join(out)


def _imports(source: str) -> dict[str, str]:
    """The Markdown files a page imports as components (`import Setup from './_setup.mdx'`),
    by component name; imports shown in code are not imports."""
    found: dict[str, str] = {}
    fence = ""
    for line in source.split("\n"):
        fence, code = code_fence(fence, line)
        if not code and (imported := _PARTIAL_IMPORT.match(line)):
            found[imported.group("name")] = imported.group("path")
    return found


def _written_out(source: str, partials: Mapping[str, str]) -> str:
    """`source` with each line that only uses one of `partials` (`<Setup />`) replaced by the
    partial's text, as the built page shows it; such a line in code stays as written."""
    out: list[str] = []
    fence = ""
    for line in source.split("\n"):
        fence, code = code_fence(fence, line)
        used = None if code else _COMPONENT_USE.match(line)
        if used is not None and used.group("name") in partials:
            # Indented as the line using it (in a list item, say); a fence the partial leaves
            # open closes with it, as the partial is built on its own.
            indent = line[: len(line) - len(line.lstrip())]
            body = _with_fences_closed(partials[used.group("name")].strip("\n")).split("\n")
            body = [indent + text if text.strip() else text for text in body]
            out.extend(["", indent + PARTIAL_START, "", *body, "", indent + PARTIAL_END, ""])
        else:
            out.append(line)
    return "\n".join(out)


def _with_fences_closed(text: str) -> str:
    fence = ""
    for line in text.split("\n"):
        fence, _ = code_fence(fence, line)
    return f"{text}\n{fence}" if fence else text
