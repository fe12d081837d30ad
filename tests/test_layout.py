"""README's Layout table names every module of the package once, and names nothing that is not there.

The first column of each row holds backquoted names separated by commas: a name with a ``/`` is a
path from the repository's root (and sets the folder), a bare name sits in the folder of the path
before it in the same cell. So the table stays a map of the tree: a new module without a row fails
here, and so does a row left behind by a move or a rename.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pulumi_istio_egress"


def layout_paths(readme: str) -> list[str]:
    """Every path the Layout table's first column names, in order, resolved from the repository's root."""
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    paths: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue  # prose, the header row and its rule
        folder = ""
        for name in re.findall(r"`([^`]+)`", line.split(" | ", 1)[0]):
            if "/" in name:
                folder = name if name.endswith("/") else name.rpartition("/")[0] + "/"
                paths.append(name)
            else:
                paths.append(folder + name)
    return paths


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        (
            "intro\n## Layout\n\n| path | what |\n| --- | --- |\n"
            "| `pkg/a.py`, `b.py` | x |\n| `pkg/sub/`, `c.py`, `top.py/` | y |\n| `Pulumi.yaml`, `d.py` | z |\n"
            "\n## Next\n| `pkg/not_in_layout.py` | w |\n",
            ["pkg/a.py", "pkg/b.py", "pkg/sub/", "pkg/sub/c.py", "top.py/", "Pulumi.yaml", "d.py"],
        ),
    ],
)
def test_layout_paths_reads_the_first_column_only(readme: str, expected: list[str]) -> None:
    assert layout_paths(readme) == expected


def _layout() -> list[str]:
    return layout_paths((ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_module_is_named_once() -> None:
    modules = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / PACKAGE).rglob("*.py"))
    named = Counter(path for path in _layout() if path.endswith(".py"))
    assert [module for module in modules if named[module] != 1] == []


def test_every_named_path_exists() -> None:
    assert [path for path in _layout() if not (ROOT / path).exists()] == []
