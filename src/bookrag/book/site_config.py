"""The site facts a book's URLs depend on, read from its `docusaurus.config` file: `url`,
`baseUrl`, `trailingSlash`, and the docs plugin's `routeBasePath`, `numberPrefixParser` and
the options that place its versions (`versions` reads `versions.json` and decides).

The config is JavaScript (or TypeScript) and none of it runs here (`config_text` reads it
as written). The site's settings are read at the top level of the config object only: a
`url` in `customFields` is not the site's, and a `docs: {...}` in `themeConfig` holds no docs
route. An option written as anything but a literal is said so, and Docusaurus's default used.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from bookrag.book.config_text import ConfigText, without_comments
from bookrag.book.versions import VersionOptions, docs_folder, version_path
from bookrag.config import is_http_url

log = logging.getLogger("bookrag")

_DOCS_PLUGIN_OPTIONS = r"plugin-content-docs['\"]\s*,\s*\{"


@dataclass(frozen=True)
class SiteConfig:
    """The site facts that shape a doc's URL."""

    url: str = ""
    base_url: str = "/"
    route_base_path: str = "docs"
    trailing_slash: bool | None = None
    version_path: str = ""  # the docs version's path under the route (`next`, `1.0`, "")
    number_prefixes: bool = True  # whether file names' number prefixes are parsed

    def page_url(self, slug: str) -> str:
        """The public URL of the doc whose slug is `slug` (always starting with `/`)."""
        parts = [self.base_url, self.route_base_path, self.version_path, slug]
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
    where it has none, or says nothing of one), under the path of the docs version the folder
    holds (`versions`). A translation's docs folder
    (`i18n/<locale>/docusaurus-plugin-content-docs/current`) is read with its site's config,
    under the locale's path, as the site publishes it."""
    folder = docs_folder(docs_dir)
    config, options = SiteConfig(), VersionOptions()
    for extension in ("ts", "mts", "cts", "js", "mjs", "cjs"):  # Docusaurus's order
        config_file = folder.site / f"docusaurus.config.{extension}"
        if config_file.is_file():
            config, options = _parse(config_file.read_text(encoding="utf-8", errors="replace"))
            break
    config = replace(config, version_path=version_path(folder, options))
    if folder.locale is None:
        return config
    log.warning(
        "indexing the %s translation: pages it does not translate are left out (the site shows "
        "them in the default language)",
        folder.locale,
    )
    return replace(config, base_url=f"{config.base_url.rstrip('/')}/{folder.locale}/")


def parse_site_config(source: str) -> SiteConfig:
    """Pick the URL facts out of the text of a `docusaurus.config` file."""
    return _parse(source)[0]


def _parse(source: str) -> tuple[SiteConfig, VersionOptions]:
    """The URL facts of a `docusaurus.config` file, and its docs versions' options."""
    config = ConfigText(without_comments(source))
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
    docs = _DocsOptions(config)
    route = docs.string("routeBasePath")  # "" is the site's root, as Docusaurus reads it
    site = SiteConfig(
        url=url or "",
        base_url=base_url or "/",
        route_base_path="docs" if route is None else route,
        trailing_slash=None if trailing is None else trailing.group(1) == "true",
        number_prefixes=docs.boolean("numberPrefixParser", True, "a function, not run here"),
    )
    options = VersionOptions(
        last_version=docs.string("lastVersion"),
        include_current_version=docs.boolean("includeCurrentVersion", True),
        disable_versioning=docs.boolean("disableVersioning", False),
        only_include_versions=docs.strings("onlyIncludeVersions"),
        paths=docs.version_paths(),
    )
    return site, options


class _DocsOptions:
    """The default docs plugin's options: the classic preset's `docs` options, a constant it
    names (`docs: docsOptions`), or the docs plugin's own (not another docs instance's, one
    with an `id`), each read at its own level; the first to give an option gives it."""

    def __init__(self, config: ConfigText) -> None:
        self.config = config
        code = config.code
        preset = [m.end() for m in re.finditer(r"\bdocs\s*:\s*\{", code)]
        plugin = [m.end() for m in re.finditer(_DOCS_PLUGIN_OPTIONS, config.source)]
        named = []
        for use in re.finditer(r"\bdocs\s*:\s*(\w+)\s*[,}\n]", code):
            declaring = rf"\b(?:const|let|var)\s+{use.group(1)}\b[^=]*=\s*\{{"
            named += [m.end() for m in re.finditer(declaring, code)][:1]
        self.objects: list[tuple[int, int]] = []  # where each options object's `{...}` is
        for start in [*preset, *named, *plugin]:
            end = config.closing(start - 1)
            ids = config.keys(("id",), code[:end])
            if not any(m.start() >= start and config.value_at(m.end()) != "default" for m in ids):
                self.objects.append((start - 1, end))

    def at(self, key: str, within: tuple[int, int] | None = None) -> int | None:
        """Where the value of `key` starts, in the first options object giving it (or in the
        object `within` spans, at its own level)."""
        config = self.config
        for opening, end in [within] if within else self.objects:
            for found in config.keys((re.escape(key),), config.code[:end]):
                if (
                    found.start() > opening
                    and config.depths[found.start()] == config.depths[opening] + 1
                ):
                    return found.end()
        return None

    def string(self, key: str, within: tuple[int, int] | None = None) -> str | None:
        at = self.at(key, within)
        value = None if at is None else self.config.value_at(at)
        if at is not None and value is None:
            _unread(key, "not a string")
        return value

    def boolean(self, key: str, default: bool, otherwise: str = "not true or false") -> bool:
        at = self.at(key)
        if at is None:
            return default
        found = re.match(r"\s*(true|false)\s*(?:[,}]|$)", self.config.code[at:])
        if found is None:
            _unread(key, otherwise)
            return default
        return found.group(1) == "true"

    def strings(self, key: str) -> tuple[str, ...] | None:
        at = self.at(key)
        if at is None:
            return None
        found = re.match(r"\s*\[([^\[\]]*)\]", self.config.source[at:])
        items = [item.strip() for item in found.group(1).split(",")] if found else []
        values = [re.fullmatch(r"""(['"])([^'"]*)\1""", item) for item in items if item]
        if found is None or not all(values):
            _unread(key, "not a list of strings")
            return None
        return tuple(value.group(2) for value in values if value)

    def version_paths(self) -> tuple[tuple[str, str], ...]:
        """The `path` of each version the `versions` option gives one (`{'1.0': {path: 'old'}}`)."""
        at = self.at("versions")
        opened = None if at is None else re.match(r"\s*\{", self.config.code[at:])
        if at is None or opened is None:
            if at is not None:
                _unread("versions", "not an object")
            return ()
        config, opening = self.config, at + opened.end() - 1
        paths = []
        version = re.compile(r"""(?:(['"])(?P<quoted>[^'"\n]*)\1|(?P<bare>[\w$]+))\s*:\s*""")
        for found in version.finditer(config.code, opening + 1, config.closing(opening)):
            if config.depths[found.start()] != config.depths[opening] + 1:
                continue
            name = found.group("bare") or found.group("quoted")
            if config.code[found.end() : found.end() + 1] != "{":
                _unread(f"versions.{name}", "not an object")
                continue
            path = self.string("path", (found.end(), config.closing(found.end())))
            if path is not None:
                paths.append((name, path))
        return tuple(paths)


def _unread(option: str, why: str) -> None:
    log.warning(
        "docusaurus.config's docs option %s could not be read without running the config (%s): "
        "Docusaurus's default is assumed, so citations may miss if the site does otherwise",
        option,
        why,
    )
