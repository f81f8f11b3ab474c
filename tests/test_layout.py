"""The package's layout is what the README's map says it is, and its layers hold."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "bookrag"
LONG = 300  # STYLE.md: most modules under ~300 lines


def summary(path: Path) -> str:
    """The first line of a module's docstring."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path} has no docstring"
    return docstring.splitlines()[0]


def tree() -> dict[str, str]:
    """Every subpackage (`book/`) and top-level module (`cli.py`) with its one-line summary."""
    parts = {
        f"{init.parent.relative_to(PACKAGE).as_posix()}/": summary(init)
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE and "migrations" not in init.parts
    }
    for module in PACKAGE.glob("*.py"):
        if module.name != "__init__.py":
            parts[module.name] = summary(module)
    return parts


def readme_map() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it works\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- `([\w/.]+)`: (.+)$", section, re.M))


def test_readme_map_lists_every_subpackage_with_its_docstring() -> None:
    assert readme_map() == tree()


def test_each_subpackage_says_what_it_may_import() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent != PACKAGE and "migrations" not in init.parts:
            assert "May import" in init.read_text(encoding="utf-8"), init


def test_a_long_module_says_why_at_its_top() -> None:
    for module in PACKAGE.rglob("*.py"):
        lines = module.read_text(encoding="utf-8").splitlines()
        if len(lines) > LONG:
            docstring = ast.get_docstring(ast.parse("\n".join(lines))) or ""
            assert "Longer than" in docstring, f"{module}: {len(lines)} lines, no reason given"


def test_dependencies_point_one_way() -> None:
    """The import-linter contract in pyproject.toml (CLI → HTTP → answering → index → book)."""
    linter = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(linter), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout
