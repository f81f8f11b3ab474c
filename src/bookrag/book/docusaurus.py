"""How Docusaurus turns a docs folder into URLs: doc routes and heading anchors (the site
facts they join are read by `site_config`).

The rules mirror `@docusaurus/plugin-content-docs` (number prefixes, index docs, `id` and
`slug` front matter) and `github-slugger` (heading anchors), so a citation points at the
exact place a reader would reach on the published site.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Any, ClassVar

import yaml

from bookrag.errors import PageParseError

# `2021-01-31-foo` and `1.2-foo` look like dates and versions, not number prefixes.
_IGNORED_PREFIX = re.compile(
    r"^((\d{2}|\d{4})[-_.]\d{2}([-_.](\d{2}|\d{4}))?)(.*)$"  # dates
    r"|^(\d+[-_.]\d+)(.*)$"  # versions
)
_NUMBER_PREFIX = re.compile(r"^(?P<number>\d+)(?P<sep>\s*[-_.]+\s*)(?P<rest>[^-_.\s].*)$")


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """`yaml.safe_load`'s loader (libyaml's where PyYAML is built with it, as its wheels are:
    many times faster, which a book of hundreds of pages notices), with YAML 1.2's booleans
    as Docusaurus's js-yaml reads them: `title: On` or `no` is a string, not a boolean."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


# A page's front matter block at its start, its YAML in group 1.
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def load_yaml(text: str) -> Any:
    """YAML as Docusaurus reads it (front matter, `_category_.yml`): safely, YAML 1.2 booleans."""
    return yaml.load(text, Loader=_YamlLoader)


def load_front_matter(content: str) -> dict[str, Any]:
    """A page's front matter as a mapping ({} when empty); a `PageParseError` if it is not one."""
    try:
        data = load_yaml(content)
    except yaml.YAMLError as exc:
        raise PageParseError(f"front matter is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PageParseError("front matter is not a mapping")
    return data


def strip_number_prefix(name: str, parse: bool = True) -> str:
    """`01-intro` -> `intro`, leaving date- and version-like names alone (and every name
    when `parse` is false: the docs plugin's `numberPrefixParser: false`)."""
    if not parse or _IGNORED_PREFIX.match(name):
        return name
    match = _NUMBER_PREFIX.match(name)
    return match.group("rest") if match else name


def number_prefix(name: str, parse: bool = True) -> int | None:
    """The number prefix Docusaurus reads from `02-setup` (2), or None (also for dates and
    versions, and for every name when `parse` is false)."""
    if not parse or _IGNORED_PREFIX.match(name):
        return None
    match = _NUMBER_PREFIX.match(name)
    return int(match.group("number")) if match else None


def doc_slug(source: str, front_matter: dict[str, object], number_prefixes: bool = True) -> str:
    """The slug Docusaurus gives the doc at docs-relative `source` (e.g. `a/01-b.md`), its
    number prefixes parsed unless `number_prefixes` is false."""
    directory, file_name = posixpath.split(source)
    stem = posixpath.splitext(file_name)[0]
    folders = [strip_number_prefix(p, number_prefixes) for p in directory.split("/") if p]
    dir_slug = "/" + "/".join(folders) + "/"
    dir_slug = dir_slug.replace("//", "/")

    slug = front_matter.get("slug")
    if isinstance(slug, str) and slug.startswith("/"):
        return slug
    parent = directory.rsplit("/", 1)[-1].lower() if directory else None
    if not isinstance(slug, str) and stem.lower() in {"index", "readme", parent}:
        return dir_slug
    doc_id = front_matter.get("id")
    name = strip_number_prefix(stem, number_prefixes)
    base = slug if isinstance(slug, str) else str(doc_id) if doc_id else name
    resolved = posixpath.normpath(posixpath.join(dir_slug, base))
    return resolved + "/" if base.endswith("/") and resolved != "/" else resolved


class Slugger:
    """Heading anchors as github-slugger makes them, numbering repeats `-1`, `-2`, ..."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        """The anchor for a heading whose plain text is `text`."""
        base = slugify(text)
        result = base
        while result in self._seen:
            self._seen[base] += 1
            result = f"{base}-{self._seen[base]}"
        self._seen[result] = 0
        return result


def slugify(text: str) -> str:
    """Lower-case, drop punctuation, symbols and numbers that are not digits (`²`, `½`),
    turn each space into a hyphen, as github-slugger does."""
    return "".join(ch for ch in text.lower() if _slug_keeps(ch)).replace(" ", "-")


_SLUG_KEEPS = frozenset(("Nd", "Nl", "Pc"))
_CIRCLED_LETTERS = range(0x24B6, 0x24EA)  # symbols github-slugger keeps: they are alphabetic


def _slug_keeps(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (
        ch in "- " or category[0] in "LM" or category in _SLUG_KEEPS or ord(ch) in _CIRCLED_LETTERS
    )
