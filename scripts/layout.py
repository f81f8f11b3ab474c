"""The shape of the package, in numbers: modules, their sizes, and the longest import chain.

    .venv/bin/python scripts/layout.py

It prints the number of modules directly in `src/bookrag/` (subpackages aside), the number
of modules in all, the largest modules by lines, and the longest chain of imports between
bookrag's own modules (a module importing one that imports another, and so on), from
grimp's import graph (the one import-linter checks). It measures; it checks nothing.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import grimp


def longest_chain(graph: grimp.ImportGraph) -> list[str]:
    """The longest path in the import graph (which must have no cycles)."""

    @cache
    def from_module(module: str) -> tuple[str, ...]:
        below = [from_module(m) for m in graph.find_modules_directly_imported_by(module)]
        return (module, *max(below, key=len, default=()))

    sys.setrecursionlimit(10_000)
    return list(max((from_module(m) for m in sorted(graph.modules)), key=len))


def main() -> None:
    graph = grimp.build_graph("bookrag")
    package = Path(sys.modules["bookrag"].__file__ or "").parent
    files = sorted(p for p in package.rglob("*.py") if "migrations" not in p.parts)
    top = [p for p in files if p.parent == package and p.name != "__init__.py"]
    sizes = sorted(((len(p.read_text().splitlines()), p) for p in files), reverse=True)
    print(f"package: {package}")
    print(f"top-level modules: {len(top)} ({', '.join(p.stem for p in top)})")
    print(f"modules in all: {len(files)}")
    over = [(n, p) for n, p in sizes if n > 300]
    print(f"modules over 300 lines: {len(over)}")
    for lines, path in sizes[:8]:
        print(f"  {lines:4d}  {path.relative_to(package.parent)}")
    chain = longest_chain(graph)
    print(f"longest import chain: {len(chain)} modules")
    print("  " + " -> ".join(m.removeprefix("bookrag.") for m in chain))


if __name__ == "__main__":
    import bookrag  # noqa: F401  (so that its location is known)

    main()
