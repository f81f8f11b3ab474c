"""A published book's sidebar order, read from the sidebar each of its built pages shows.

Docusaurus renders a doc page's sidebar (`nav.menu`, a link `a.menu__link` per item) with the
sidebar's top level and only the current page's branch expanded: a collapsed category is one
link, to its own page (its index doc, or a generated index) or, without one, to the first
page in it, and its pages are not in the HTML. So each page's menu lists a subsequence of the
whole sidebar read depth first (a category's link where its first page would be), and the
menus of all the pages, merged so that every menu's order holds, give the book's order: a
page's place among its siblings is in every menu that shows its branch, and a collapsed
category's place among the others in every menu at all.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

from selectolax.lexbor import LexborHTMLParser

MENU_LINKS = "nav.menu a.menu__link"


def sidebar_links(tree: LexborHTMLParser) -> list[str]:
    """The `href` of every link in a built page's sidebar, in the order it shows them."""
    return [str(a.attributes.get("href") or "") for a in tree.css(MENU_LINKS)]


def merge_menus(
    menus: Iterable[Sequence[str]], earlier: Mapping[str, int] | None = None
) -> list[str]:
    """Every item of `menus` once, in an order that keeps each menu's.

    Items no menu orders are placed by where they first appear (earlier menus first), and the
    items of menus that share none (two sidebars, two versions of the docs) stay together,
    in the order of the places their items held `earlier` (an order merged before), else of
    where they first appear: so which pages a refresh read does not reorder them. Menus
    that disagree (pages read from builds of two different sidebars) cannot all hold: where
    they clash, the item that appears first wins its place."""
    earlier = earlier or {}
    first: dict[str, int] = {}  # each item's first appearance
    after: dict[str, set[str]] = {}  # the items each must come before
    pending: dict[str, int] = {}  # how many items each must come after, not yet placed
    group: dict[str, str] = {}  # union-find: items some menus chain together
    for menu in menus:
        items = list(dict.fromkeys(menu))
        for item in items:
            if item not in first:
                first[item] = len(first)
                after[item], pending[item], group[item] = set(), 0, item
        for a, b in pairwise(items):
            if b not in after[a]:
                after[a].add(b)
                pending[b] += 1
            _join(group, a, b)
    # A group's items go out together, at the earliest place any of them held, else at the
    # first appearance of any of them.
    opens: dict[str, tuple[float, int]] = {}
    for item, at in first.items():
        root = _root(group, item)
        place = (earlier.get(item, math.inf), at)
        opens[root] = min(opens.get(root, place), place)

    def key(item: str) -> tuple[tuple[float, int], int, str]:
        return (opens[_root(group, item)], first[item], item)

    ready = [key(item) for item, count in pending.items() if count == 0]
    heapq.heapify(ready)
    left = set(first)
    order: list[str] = []
    while left:
        if not ready:  # a clash: the first item still waiting takes its place anyway
            heapq.heappush(ready, min(key(item) for item in left))
        item = heapq.heappop(ready)[2]
        if item not in left:
            continue
        left.discard(item)
        order.append(item)
        for follower in after[item]:
            pending[follower] -= 1
            if pending[follower] == 0 and follower in left:
                heapq.heappush(ready, key(follower))
    return order


def _root(group: dict[str, str], item: str) -> str:
    while group[item] != item:
        group[item] = group[group[item]]
        item = group[item]
    return item


def _join(group: dict[str, str], a: str, b: str) -> None:
    root_a, root_b = _root(group, a), _root(group, b)
    if root_a != root_b:
        group[root_b] = root_a
