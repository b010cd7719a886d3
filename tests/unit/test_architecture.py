"""The package's shape, checked: layer contracts (import-linter, declared in pyproject.toml),
no module reaching into another's private names, a small top level, and a docstring that says
what each subpackage holds."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "workshop"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH names the tree to read, so a copy with a planted violation is read, not the
    # installed package.
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"),
                           "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_the_layer_contracts_hold():
    run = lint_imports(REPO)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


@pytest.mark.parametrize("module, planted, contract", [
    # The stack must never import the optional room (it hangs off workshop/board/wiring.py).
    ("workshop/stack/toolchain.py", "from workshop.board import binaries", "Front ends on top"),
    # A function-level import counts as much as one at the top.
    ("workshop/k8s/kube.py", "def _late():\n    from workshop.k8s import pending\n", "No import cycle"),
    ("checks/lesson_01.py", "from workshop import lab", "A lesson module"),
    ("workshop/builders/base.py", "from workshop.builders import gpu", "Check builders stand"),
])
def test_a_planted_violation_breaks_its_contract(tmp_path, module, planted, contract):
    for part in ("workshop", "checks"):
        shutil.copytree(REPO / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + "\n\n" + planted + "\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0, run.stdout[-2000:]
    broken = [line for line in run.stdout.splitlines() if "BROKEN" in line or contract in line]
    assert any(contract in line for line in broken), run.stdout[-3000:]


def _imports_of(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node


def test_no_module_uses_another_modules_private_names():
    offences = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO / "checks").rglob("*.py")]):
        tree = ast.parse(path.read_text())
        modules = {}
        for node in _imports_of(tree):
            if not node.module.startswith(("workshop", "checks")):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    offences.append(f"{path.relative_to(REPO)}: from {node.module} import {alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                offences.append(f"{path.relative_to(REPO)}:{node.lineno}: "
                                f"{modules[node.value.id]}.{node.attr}")
    assert not offences, "private names used across modules:\n" + "\n".join(offences)


def test_the_top_level_is_small_and_every_subpackage_says_what_it_holds():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, f"workshop/ has {len(top)} modules directly in it: {top}"
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(REPO)} has no docstring"
        first = doc.strip().splitlines()[0]
        assert len(first) > 20, f"{init.relative_to(REPO)}: its first line says too little"


def test_the_readme_layout_names_every_subpackage():
    readme = (REPO / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    listed = {line.split()[0] for line in layout.splitlines()
              if line.startswith("  ") and not line.startswith("   ") and line.split()[0].endswith("/")}
    packages = {f"{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    assert packages <= listed, f"README's layout misses {sorted(packages - listed)}"
    assert not listed - packages, f"README's layout names gone folders {sorted(listed - packages)}"


def test_no_package_attribute_hides_a_submodule():
    """`from workshop.lab import viewer` must give the module, not a function of the same
    name defined in the package (lab/__init__.py's viewer() once hid lab/viewer.py)."""
    import importlib
    import pkgutil
    import types

    hidden = []
    for pkg_init in sorted(PACKAGE.glob("*/__init__.py")):
        package = importlib.import_module(f"workshop.{pkg_init.parent.name}")
        for info in pkgutil.iter_modules(package.__path__):
            if info.name == "__main__":  # runs the command when imported
                continue
            importlib.import_module(f"{package.__name__}.{info.name}")
            if not isinstance(getattr(package, info.name), types.ModuleType):
                hidden.append(f"{package.__name__}.{info.name}")
    assert not hidden, f"package attributes hide these submodules: {hidden}"


def test_every_workshop_import_in_a_notebook_resolves():
    """Notebooks import from the package too; a moved module must not leave a cell behind
    (nbval would find it only after minutes on a real cluster)."""
    import importlib
    import json

    broken = []
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            code = "\n".join(line for line in source.splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue  # a %%apply cell holds YAML
            for node in _imports_of(tree):
                if not node.module.startswith("workshop"):
                    continue
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if alias.name != "*" and not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            broken.append(f"{nb.name}: from {node.module} import {alias.name}")
    assert not broken, "\n".join(broken)
