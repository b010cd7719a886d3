"""Faults: no network for a build, Karpenter dying at start, a half-down cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from workshop import lab
from workshop.errors import WorkshopError
from workshop.k8s import kube
from workshop.lab import show
from workshop.stack import cluster as cluster_mod
from workshop.stack import karpenter, lifecycle


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


# ---------------------------------------------------------------- a half-down cluster
#
# With etcd gone the API server still accepts connections and every read waits for etcd
# until its 60 s request timeout: `workshop check 1` took over a minute to say anything.
# Each front end must now name what is down and `make up` without waiting for that timeout
# (the subprocess timeouts below are under it; the time itself is measured by `make bench`).

FRONT_ENDS = [["check", "1"], ["explain", "inflate", "-n", "lesson-01"], ["nodes", "--once"]]


@pytest.fixture
def etcd_killed(cluster):
    """etcd SIGKILLed, healed by `make up` afterwards. Until then this test listens on etcd's
    ports without ever answering: on a shared machine another cluster being created would
    otherwise take the freed ports (kwokctl picks free ones), and the heal would fail.
    The API server's view is the same either way: its etcd check fails after 2 s."""
    comp = next(c for c in cluster_mod.components() if c.name == "etcd")
    assert comp.running and comp.pid
    held = []
    os.kill(comp.pid, signal.SIGKILL)
    try:
        for port in comp.ports:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
            kube.wait_until(lambda: _listen(sock, port), 10, 0.02, f"etcd's port {port}")
            held.append(sock)
        yield
    finally:
        for sock in held:
            sock.close()
        lifecycle.up()
        kube.forget_clients()


def _listen(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        return True
    except OSError:
        return False


def test_with_etcd_killed_every_front_end_names_it(etcd_killed, capsys):
    says = "the workshop cluster is not running: etcd is down"
    for argv in FRONT_ENDS:
        result = subprocess.run([sys.executable, "-m", "workshop.cli", *argv],
                                capture_output=True, text=True, timeout=40)
        out = result.stdout + result.stderr
        assert says in out, (argv, out)
        assert "make up" in out and "Traceback" not in out, argv
        assert result.returncode != 0, argv
    # The notebook surface, in this process: show.* prints the same two lines, viewer() too.
    kube.forget_clients()
    show.nodes()
    lab.viewer()
    printed = capsys.readouterr().out
    assert printed.count(says) == 2, printed
    assert "make up" in printed
