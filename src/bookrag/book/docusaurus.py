"""How Docusaurus turns a docs folder into URLs: site facts, doc routes and heading anchors.

The rules mirror `@docusaurus/plugin-content-docs` (number prefixes, index docs, `id` and
`slug` front matter) and `github-slugger` (heading anchors), so a citation points at the
exact place a reader would reach on the published site.
"""

from __future__ import annotations

import logging
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import yaml

from bookrag.config import is_http_url
from bookrag.errors import PageParseError

log = logging.getLogger("bookrag")

# `2021-01-31-foo` and `1.2-foo` look like dates and versions, not number prefixes.
_IGNORED_PREFIX = re.compile(
    r"^((\d{2}|\d{4})[-_.]\d{2}([-_.](\d{2}|\d{4}))?)(.*)$"  # dates
    r"|^(\d+[-_.]\d+)(.*)$"  # versions
)
_NUMBER_PREFIX = re.compile(r"^(?P<number>\d+)(?P<sep>\s*[-_.]+\s*)(?P<rest>[^-_.\s].*)$")
_CONFIG_STRING = r"""\s*:\s*(['"`])(?P<value>[^'"`]*)\1"""


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


@dataclass(frozen=True)
class SiteConfig:
    """The site facts that shape a doc's URL."""

    url: str = ""
    base_url: str = "/"
    route_base_path: str = "docs"
    trailing_slash: bool | None = None

    def page_url(self, slug: str) -> str:
        """The public URL of the doc whose slug is `slug` (always starting with `/`)."""
        parts = [self.base_url, self.route_base_path, slug]
        path = "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))
        base = "/" + self.base_url.strip("/") + "/" if self.base_url.strip("/") else "/"
        if slug.endswith("/") and path != "/":
            path += "/"
        if path + "/" == base or path == base:
            path = base  # Docusaurus never adds or removes the slash of the site root
        elif self.trailing_slash is True and not path.endswith("/"):
            path += "/"
        elif self.trailing_slash is False:
            path = path.rstrip("/")
        return self.url.rstrip("/") + quote(path, safe="/-._~!$&'()*+,;=:@%")


def read_site_config(docs_dir: Path) -> SiteConfig:
    """Read `url`, `baseUrl`, `trailingSlash` and the docs `routeBasePath` beside `docs_dir`.

    The config is JavaScript, so only these literal values are picked out of it; anything
    missing keeps Docusaurus's default.
    """
    for extension in ("ts", "mts", "cts", "js", "mjs", "cjs"):  # Docusaurus's order
        config_file = docs_dir.resolve().parent / f"docusaurus.config.{extension}"
        if config_file.is_file():
            return parse_site_config(config_file.read_text(encoding="utf-8", errors="replace"))
    return SiteConfig()


def parse_site_config(source: str) -> SiteConfig:
    """Pick the URL facts out of the text of a `docusaurus.config` file."""

    source = _without_comments(source)

    def string_value(key: str, text: str = source) -> str | None:
        """The key's value when it is a literal string (a template with `${...}` is not)."""
        match = re.search(rf"\b{key}{_CONFIG_STRING}", text)
        return match.group("value") if match and "${" not in match.group("value") else None

    trailing = re.search(r"\btrailingSlash\s*:\s*(true|false)", source)
    # Only the docs plugin's routeBasePath counts (the blog has one too).
    docs_options = _object_after(source, r"\bdocs\s*:\s*\{")
    route_base_path = string_value("routeBasePath", docs_options) if docs_options else None
    url = string_value("url") or ""
    # Not an http(s) URL, or not a literal at all (`url: process.env.SITE_URL`).
    if (url and not is_http_url(url)) or (not url and re.search(r"\burl\s*:", source)):
        log.warning(
            "docusaurus.config's url is not a literal http(s) URL, so citations go without a "
            "host: give --site-url or BOOKRAG_SITE_URL"
        )
        url = ""
    return SiteConfig(
        url=url,
        base_url=string_value("baseUrl") or "/",
        route_base_path="docs" if route_base_path is None else route_base_path,
        trailing_slash=None if trailing is None else trailing.group(1) == "true",
    )


def _without_comments(source: str) -> str:
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


def _object_after(source: str, opening: str) -> str | None:
    """The text of the `{...}` object that `opening` (a pattern ending in `{`) starts."""
    match = re.search(opening, source)
    if not match:
        return None
    depth = 0
    for i in range(match.end() - 1, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return source[match.end() : i]
    return source[match.end() :]


def strip_number_prefix(name: str) -> str:
    """`01-intro` -> `intro`, leaving date- and version-like names alone."""
    if _IGNORED_PREFIX.match(name):
        return name
    match = _NUMBER_PREFIX.match(name)
    return match.group("rest") if match else name


def number_prefix(name: str) -> int | None:
    """The number prefix Docusaurus reads from `02-setup` (2), or None (also for dates and
    versions)."""
    if _IGNORED_PREFIX.match(name):
        return None
    match = _NUMBER_PREFIX.match(name)
    return int(match.group("number")) if match else None


def doc_slug(source: str, front_matter: dict[str, object]) -> str:
    """The slug Docusaurus gives the doc at docs-relative `source` (e.g. `a/01-b.md`)."""
    directory, file_name = posixpath.split(source)
    stem = posixpath.splitext(file_name)[0]
    dir_slug = "/" + "/".join(strip_number_prefix(p) for p in directory.split("/") if p) + "/"
    dir_slug = dir_slug.replace("//", "/")

    slug = front_matter.get("slug")
    if isinstance(slug, str) and slug.startswith("/"):
        return slug
    parent = directory.rsplit("/", 1)[-1].lower() if directory else None
    if not isinstance(slug, str) and stem.lower() in {"index", "readme", parent}:
        return dir_slug
    doc_id = front_matter.get("id")
    base = slug if isinstance(slug, str) else str(doc_id) if doc_id else strip_number_prefix(stem)
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
