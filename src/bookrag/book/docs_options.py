"""The options of a site's docs plugin instances, read from its `docusaurus.config` text, and
which instance a docs folder belongs to.

A site may run `@docusaurus/plugin-content-docs` more than once. The classic preset's
`docs: {...}` (or a constant it names, `docs: docsOptions`) and a docs plugin entry without
an `id` are the instance `default`; `['@docusaurus/plugin-content-docs', {id: 'community',
...}]` is another. Each instance reads the folder its `path` names (`docs` unless it says)
and serves it under its own `routeBasePath` (`docs` unless it says), with its own sidebars
file and versions (`community_versions.json`, `community_versioned_docs/`). Nothing here
runs the config: an option written as anything but a literal is said so, and Docusaurus's
default used.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from bookrag.book.config_text import ConfigText, without_comments

log = logging.getLogger("bookrag")

DEFAULT = "default"  # the id of the docs instance that gives none
_PLUGIN = r"plugin-content-docs['\"]\s*\)?\s*,\s*\{"  # also `require.resolve('...docs'), {`
_END = r"\s*(?:[,}]|$)"

# The Markdown files an instance builds, as globs relative to its folder, when its `include`
# and `exclude` options do not say otherwise (`exclude` replaces this list: a site that
# gives one builds its `_partial.mdx` files as pages unless it leaves them out too).
INCLUDE_DEFAULT = ("**/*.{md,mdx}",)
EXCLUDE_DEFAULT = (
    "**/_*.{js,jsx,ts,tsx,md,mdx}",
    "**/_*/**",
    "**/*.test.{js,jsx,ts,tsx}",
    "**/__tests__/**",
)
# An item of an array of globs: a quoted string, or the spread of Docusaurus's own defaults.
_GLOB_ITEM = re.compile(r"""\s*(?:(['"])((?:(?!\1).)*)\1|\.\.\.\s*(GlobExcludeDefault))\s*(,|\])""")

# A sidebarPath as written: a path relative to the site folder, False for none, None unsaid.
SidebarPath = str | Literal[False] | None


class DocsOptions:
    """One docs instance's options: each options object the config gives it, read at its
    own level; the first to give an option gives it."""

    def __init__(self, config: ConfigText, objects: list[tuple[int, int]]) -> None:
        self.config = config
        self.objects = objects  # where each options object's `{` and `}` are

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
        found = re.match(rf"\s*(true|false){_END}", self.config.code[at:])
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

    def globs(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """The `include` or `exclude` option: an array of quoted globs, where
        `...GlobExcludeDefault` stands for Docusaurus's own exclusions; `default` where it is
        not given (or not read, which is said so)."""
        at = self.at(key)
        if at is None:
            return default
        opened = re.match(r"\s*\[", self.config.source[at:])
        if opened is None:
            _unread(key, "not an array of strings")
            return default
        found: list[str] = []
        position = at + opened.end()
        if re.match(r"\s*\]", self.config.source[position:]):
            return ()
        while item := _GLOB_ITEM.match(self.config.source, position):
            found.extend(EXCLUDE_DEFAULT if item.group(3) else [item.group(2)])
            position = item.end()
            if item.group(4) == "]":
                return tuple(found)
            if re.match(r"\s*\]", self.config.source[position:]):  # a trailing comma
                return tuple(found)
        _unread(key, "not an array of strings")
        return default

    def sidebar_path(self) -> SidebarPath:
        """The `sidebarPath` option: a path (`'./sidebars.js'`, or inside `require.resolve`,
        as Docusaurus 2 templates write it), False, or None where it is not given (or not
        read, which is said so)."""
        at = self.at("sidebarPath")
        if at is None:
            return None
        text = self.config.source[at:]
        if re.match(rf"\s*false{_END}", text):
            return False
        if re.match(rf"\s*undefined{_END}", text):
            return None
        resolved = re.match(rf"""\s*require\.resolve\(\s*(['"])([^'"\n]+)\1\s*\){_END}""", text)
        return resolved.group(2) if resolved else self.string("sidebarPath")

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


def docs_instance(
    config: ConfigText, plugin: str | None, folder: str | None
) -> tuple[str, DocsOptions]:
    """The id and options of the docs instance a docs folder belongs to: the one its layout
    names (`plugin`: `community_versioned_docs/` is `community`'s), else the one whose `path`
    is the folder's name in the site (`folder`), else the default instance."""
    instances = _instances(config)
    if plugin is None and folder is not None:
        for name, options in instances.items():
            if _path(options) == folder:
                return name, options
    plugin = plugin or DEFAULT
    if plugin not in instances:
        log.warning(
            "docusaurus.config declares no docs plugin with id '%s' (or not as a literal): "
            "Docusaurus's default docs options are assumed for its folder",
            plugin,
        )
    return plugin, instances.get(plugin, DocsOptions(config, []))


def reads_folder(source: str, folder: str) -> bool:
    """Whether a `docusaurus.config`'s text gives a docs instance the `path` `folder` (a path
    relative to the site's folder, such as `content/docs`)."""
    return any(_path(options) == folder for options in _instances_in(source).values())


def default_docs_path(source: str) -> str | None:
    """The folder a `docusaurus.config`'s text has its default docs instance read, relative
    to the site's folder (`docs` unless it says; None: not as a literal)."""
    return _path(_instances_in(source)[DEFAULT])


def _instances_in(source: str) -> dict[str, DocsOptions]:
    """`_instances` of a `docusaurus.config`'s text."""
    return _instances(ConfigText(without_comments(source)))


def _instances(config: ConfigText) -> dict[str, DocsOptions]:
    """Each docs instance's options by id, the default instance's first (an instance whose
    `id` cannot be read is left out: no folder can be matched to it)."""
    code = config.code
    preset = [m.end() for m in re.finditer(r"\bdocs\s*:\s*\{", code)]
    plugin = [m.end() for m in re.finditer(_PLUGIN, config.source)]
    named = []
    for use in re.finditer(r"\bdocs\s*:\s*(\w+)\s*[,}\n]", code):
        declaring = rf"\b(?:const|let|var)\s+{use.group(1)}\b[^=]*=\s*\{{"
        named += [m.end() for m in re.finditer(declaring, code)][:1]
    objects: dict[str, list[tuple[int, int]]] = {DEFAULT: []}
    for start in [*preset, *named, *plugin]:
        found = (start - 1, config.closing(start - 1))
        at = DocsOptions(config, [found]).at("id")
        name = DEFAULT if at is None else config.value_at(at)
        if name is not None:
            objects.setdefault(name, []).append(found)
    return {name: DocsOptions(config, found) for name, found in objects.items()}


def _path(options: DocsOptions) -> str | None:
    """The folder an instance reads, relative to the site (`docs` unless it says)."""
    at = options.at("path")
    path = "docs" if at is None else options.config.value_at(at)
    return None if path is None else path.strip().removeprefix("./").strip("/")


def _unread(option: str, why: str) -> None:
    log.warning(
        "docusaurus.config's docs option %s could not be read without running the config (%s): "
        "Docusaurus's default is assumed, so citations may miss if the site does otherwise",
        option,
        why,
    )
