"""The site facts a book's URLs depend on, read from its `docusaurus.config` file: `url`,
`baseUrl`, `trailingSlash`, and the docs plugin's `routeBasePath`.

The config is JavaScript (or TypeScript) and none of it runs here. A value is read where it
can be without running anything: a string, a template literal or a name made of string
constants (`baseUrl: `/${projectName}/``, as GitHub Pages configs write it), or
`process.env.X || 'literal'` as the literal the build uses when X is unset (said in a
warning). The site's settings are read at the top level of the config object only: a `url`
in `customFields` is not the site's, and a `docs: {...}` in `themeConfig` holds no docs route.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from bookrag.config import is_http_url

log = logging.getLogger("bookrag")

# Keys only the config object's own level has: where one is, its other settings are.
_TOP_KEYS = ("title", "url", "baseUrl", "presets", "themeConfig", "tagline", "favicon")
_CONSTANT = re.compile(r"\b(?:const|let|var)\s+(\w+)\s*(?::\s*[\w.<>\[\]| ]+?)?\s*=\s*")
_ENV_FALLBACK = re.compile(r"process\.env\.(\w+)\s*(?:\|\||\?\?)\s*")
_DOCS_PLUGIN = "docusaurus-plugin-content-docs"
_DOCS_PLUGIN_OPTIONS = r"plugin-content-docs['\"]\s*,\s*\{"


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
    """The site facts of the `docusaurus.config` beside `docs_dir` (Docusaurus's defaults
    where it has none, or says nothing of one). A translation's docs folder
    (`i18n/<locale>/docusaurus-plugin-content-docs/current`) is read with its site's config,
    under the locale's path, as the site publishes it."""
    site, locale = site_folder(docs_dir)
    for extension in ("ts", "mts", "cts", "js", "mjs", "cjs"):  # Docusaurus's order
        config_file = site / f"docusaurus.config.{extension}"
        if config_file.is_file():
            config = parse_site_config(config_file.read_text(encoding="utf-8", errors="replace"))
            break
    else:
        config = SiteConfig()
    if locale is None:
        return config
    log.warning(
        "indexing the %s translation: pages it does not translate are left out (the site shows "
        "them in the default language)",
        locale,
    )
    return replace(config, base_url=f"{config.base_url.rstrip('/')}/{locale}/")


def site_folder(docs_dir: Path) -> tuple[Path, str | None]:
    """The site's folder (its config and sidebars files are there), and the locale when
    `docs_dir` is a translation's (`i18n/<locale>/docusaurus-plugin-content-docs/current`)."""
    folder = docs_dir.resolve()
    parts = folder.parts
    if parts[-4:-3] == ("i18n",) and parts[-2:] == (_DOCS_PLUGIN, "current"):
        return folder.parents[3], parts[-3]
    return folder.parent, None


def parse_site_config(source: str) -> SiteConfig:
    """Pick the URL facts out of the text of a `docusaurus.config` file."""
    config = _Config(_without_comments(source))
    url = config.setting("url")
    if url is not None and not is_http_url(url):
        url = None
    if url is None and config.has("url"):  # `process.env.SITE_URL`, or not http(s) at all
        log.warning(
            "docusaurus.config's url is not a literal http(s) URL, so citations go without a "
            "host: give --site-url or BOOKRAG_SITE_URL"
        )
    base_url = config.setting("baseUrl")
    if base_url is None and config.has("baseUrl"):
        log.warning(
            "docusaurus.config's baseUrl could not be read without running the config, so "
            "citations assume '/': give --site-url with the base path (https://host/base)"
        )
    trailing = re.search(r"\btrailingSlash\s*:\s*(true|false)", config.top_level())
    route = config.docs_route()  # "" is the site's root, as Docusaurus reads it
    return SiteConfig(
        url=url or "",
        base_url=base_url or "/",
        route_base_path="docs" if route is None else route,
        trailing_slash=None if trailing is None else trailing.group(1) == "true",
    )


class _Config:
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
        for match in self._keys(_TOP_KEYS):
            if self.depths[match.start()] > 0:
                names.setdefault(self.depths[match.start()], set()).add(match.group(1))
        self.top = min(names, key=lambda d: (-len(names[d]), d), default=1)

    def _keys(self, names: tuple[str, ...], code: str | None = None) -> list[re.Match[str]]:
        pattern = rf"(?<![\w.$])['\"]?({'|'.join(names)})['\"]?\s*:(?!:)"
        return list(re.finditer(pattern, self.code if code is None else code))

    def has(self, key: str) -> bool:
        return any(self.depths[m.start()] == self.top for m in self._keys((key,)))

    def setting(self, key: str) -> str | None:
        """The value of `key` at the config's top level, when it can be read."""
        for match in self._keys((key,)):
            if self.depths[match.start()] == self.top:
                return self.value_at(match.end())
        return None

    def top_level(self) -> str:
        """The config's text at its top level only (nested objects and strings blanked)."""
        pairs = zip(self.code, self.depths, strict=True)
        return "".join(c if d == self.top else " " for c, d in pairs)

    def docs_route(self) -> str | None:
        """The default docs plugin's `routeBasePath`: in the classic preset's `docs` options,
        else the docs plugin's own (not another docs instance's, one with an `id`), written in
        place or as a constant (`docs: docsOptions`)."""
        preset = [m.end() for m in re.finditer(r"\bdocs\s*:\s*\{", self.code)]
        plugin = [m.end() for m in re.finditer(_DOCS_PLUGIN_OPTIONS, self.source)]
        named = []
        for use in re.finditer(r"\bdocs\s*:\s*(\w+)\s*[,}\n]", self.code):
            declaring = rf"\b(?:const|let|var)\s+{use.group(1)}\b[^=]*=\s*\{{"
            named += [m.end() for m in re.finditer(declaring, self.code)][:1]
        for start in [*preset, *named, *plugin]:
            end = self._closing(start - 1)
            ids = self._keys(("id",), self.code[:end])
            if any(m.start() >= start and self.value_at(m.end()) != "default" for m in ids):
                continue  # another docs instance
            found = self._keys(("routeBasePath",), self.code[:end])
            inside = [m for m in found if m.start() >= start]
            if inside:
                return self.value_at(inside[0].end())
        return None

    def _closing(self, opening: int) -> int:
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
