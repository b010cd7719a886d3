"""The Makefile's own guard rails (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_old_python_is_refused_with_the_fix(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.9.2' && exit 0\nexit 1\n")
    fake.chmod(0o755)
    # --always-make runs the install recipe; its first step is the version check, which
    # must stop before touching .venv.
    result = subprocess.run(["make", "-C", str(REPO), "--always-make", "install",
                             f"PYTHON={fake}"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stdout and "Python 3.9.2" in result.stdout
    assert "fix:" in result.stdout


def test_targets_work_from_another_folder(tmp_path):
    result = subprocess.run(["make", "-C", str(REPO), "help"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0 and "make lab" in result.stdout and "make test" in result.stdout


def test_readme_names_exactly_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    block = readme.split("## The two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make lab", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert os.access(REPO / ".ci" / "run", os.X_OK)


def test_first_install_prints_no_packaging_warnings(tmp_path):
    """`make install`'s editable install, into a bare venv: nothing on stdout or stderr
    (setuptools' "Editable installation" banner used to appear here). ~10 s: the build
    backend is fetched from pip's cache into an isolated build environment."""
    import sys
    import venv

    venv.create(tmp_path / "v", with_pip=False)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(tmp_path / "v" / "bin" / "python"),
         "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", str(REPO)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr
