"""Every package the tests import is declared in pyproject.toml (directly, not only as
something another dependency happens to pull in), so a fresh `make install` can run them."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# Our own code: the kit's packages and modules the tests import from their own folders.
LOCAL = {"workshop", "checks", "tests"} | {p.stem for p in TESTS.rglob("*.py")}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {_normalized(re.split(r"[\s<>=!~\[;]", s, maxsplit=1)[0]) for s in specs}


def imported_by_tests() -> dict[str, Path]:
    """Top-level module name -> one test file importing it (absolute imports only)."""
    found: dict[str, Path] = {}
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return found


def test_every_package_the_tests_import_is_declared():
    providers = metadata.packages_distributions()
    wanted = declared()
    undeclared = []
    for module, path in imported_by_tests().items():
        if module in sys.stdlib_module_names or module in LOCAL or module == "__future__":
            continue
        dists = {_normalized(d) for d in providers.get(module, [])}
        if not dists & wanted:
            undeclared.append(f"{module} (imported by {path.relative_to(REPO)}; "
                              f"installed from {', '.join(sorted(dists)) or 'nothing'})")
    assert not undeclared, "declare these in pyproject.toml: " + "; ".join(undeclared)


def test_the_check_sees_the_declared_test_tools():
    # Guard against a check that passes because it finds nothing.
    assert {"pytest", "pyyaml"} <= declared()
    assert {"pytest", "yaml"} <= set(imported_by_tests())
