"""Faults outside the running cluster: no network for a build, Karpenter dying at start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workshop.stack import karpenter
from workshop.errors import WorkshopError


def test_build_without_the_module_proxy_names_the_module(tmp_path):
    # A fresh cache and no proxy: the first download must fail fast with a clear message.
    env = dict(os.environ, WORKSHOP_CACHE=str(tmp_path / "cache"), GOPROXY="off",
               WORKSHOP_STATE=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "workshop.cli", "build"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "could not download Go module" in result.stderr
    assert "etcd" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_karpenter_that_dies_at_start_shows_its_log(tmp_path, monkeypatch):
    fake = tmp_path / "karpenter-kwok"
    fake.write_text("#!/bin/sh\necho 'panic: something broke at start' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(karpenter, "LOG_FILE", tmp_path / "karpenter.log")
    monkeypatch.setattr(karpenter, "PID_FILE", tmp_path / "karpenter.pid")
    monkeypatch.setattr(karpenter, "STATE_FILE", tmp_path / "state.json")
    monkeypatch.setattr(karpenter.paths, "KARPENTER_DIR", tmp_path)
    with pytest.raises(WorkshopError) as err:
        karpenter.start(tmp_path, tmp_path / "kubeconfig", timeout_s=10)
    assert "exited right after starting (exit code 3)" in err.value.message
    assert "something broke at start" in err.value.detail
