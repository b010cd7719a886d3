"""`make up` / `make down` / `make status` behave as promised, faults included.

These stop and start parts of the cluster, so they run after the provisioning tests
(pytest runs files in name order: test_1_, then test_2_) and each leaves the cluster up again.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from workshop.stack import cluster as cp
from workshop.stack import karpenter, lifecycle, procs
from workshop.k8s import kube
from workshop import paths

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = [sys.executable, "-m", "workshop.cli"]


def cli(*args, cwd=None, env=None):
    return subprocess.run([*WORKSHOP, *args], capture_output=True, text=True,
                          cwd=cwd or "/", env=env or os.environ, timeout=600)


def pids():
    return {r.name: r.pid for r in lifecycle.status_rows()}


def test_up_twice_is_a_noop(cluster):
    before = pids()
    first = cli("up")
    second = cli("up")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "control plane running" in second.stdout and "Karpenter running" in second.stdout
    assert "applied:" not in second.stdout, second.stdout
    assert pids() == before


def test_up_works_from_another_folder(cluster, tmp_path):
    result = cli("status", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kube-apiserver" in result.stdout and "karpenter" in result.stdout


def test_files_are_private_and_loopback_only(cluster):
    assert paths.KUBECONFIG.stat().st_mode & 0o777 == 0o600
    for key in cp.cluster_dir().glob("pki/**/*.key"):
        assert key.stat().st_mode & 0o077 == 0, key
    ports = {p: c.name for c in cp.components() for p in c.ports}
    port = next(c.port for c in cp.components() if c.name == "kube-apiserver")
    # Reachable on loopback, not on any other address of this machine (every interface's,
    # not the hostname's: that often resolves to 127.0.1.1 and would prove nothing).
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # Only Karpenter's health and metrics ports listen beyond loopback (it offers no bind
    # address); the README names them and says why.
    beyond = {(name, c.laddr.port) for name, pids in own_processes().items() for pid in pids
              for c in psutil.Process(pid).net_connections("inet")
              if c.status == psutil.CONN_LISTEN and not ipaddress.ip_address(c.laddr.ip).is_loopback}
    k = karpenter.state()
    assert beyond == {("karpenter", k.health_port), ("karpenter", k.metrics_port)}
    readme = (REPO / "README.md").read_text()
    assert "HEALTH_PROBE_PORT" in readme and "METRICS_PORT" in readme
    others = non_loopback_addresses()
    if not others:
        pytest.skip("this machine has no address besides loopback")
    for address in others:
        for p, name in ports.items():
            with pytest.raises(OSError):
                socket.create_connection((address, p), timeout=2).close()
                pytest.fail(f"{name} answers on {address}:{p}")


def non_loopback_addresses() -> list[str]:
    out = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = ipaddress.ip_address(a.address.split("%")[0])
            if not ip.is_loopback:
                out.append(a.address)
    return out


@pytest.mark.parametrize("victim", ["karpenter", "kube-scheduler"])
def test_killed_component_is_healed_by_up(cluster, victim):
    pid = pids()[victim]
    os.kill(pid, signal.SIGKILL)
    kube.wait_until(lambda: pids().get(victim) != pid or not procs.is_running(
        pid, "karpenter-kwok" if victim == "karpenter" else victim), 10, 0.2, "the kill")
    status = cli("status")
    assert status.returncode == 1 and "stopped" in status.stdout
    result = cli("up")
    assert result.returncode == 0, result.stderr
    after = pids()
    assert after[victim] and after[victim] != pid
    assert all(r.status == "running" for r in lifecycle.status_rows())


def test_down_then_up_keeps_objects(cluster):
    kube.apply([{"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "survivor", "namespace": "default"},
                 "data": {"k": "v"}}], field_manager="tests")
    down = cli("down")
    assert down.returncode == 0 and "Stopped" in down.stdout
    assert not kube.ready()
    status = cli("status")
    assert status.returncode == 1 and "running" not in status.stdout.split("\n", 1)[1]
    up = cli("up")
    assert up.returncode == 0, up.stderr
    assert kube.get("v1", "ConfigMap", "survivor", "default")["data"] == {"k": "v"}


def test_port_taken_is_named(cluster):
    port = next(c.port for c in cp.components() if c.name == "kube-apiserver")
    assert cli("down").returncode == 0
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen(1)
    try:
        result = cli("up")
        assert result.returncode == 2
        assert f"port {port}" in result.stderr and str(os.getpid()) in result.stderr
        assert "Traceback" not in result.stderr and "fix:" in result.stderr
    finally:
        squatter.close()
    assert cli("up").returncode == 0


def test_broken_state_says_how_to_recreate(cluster):
    cfg = cp.cluster_dir() / "kwok.yaml"
    saved = cfg.read_text()
    cfg.write_text("{{{ not yaml")
    try:
        result = cli("status")
        assert result.returncode == 2
        assert "clean-cluster" in result.stderr and "Traceback" not in result.stderr
    finally:
        cfg.write_text(saved)
    assert cli("up").returncode == 0


def test_status_and_down_without_a_cluster(tmp_path):
    env = dict(os.environ, WORKSHOP_STATE=str(tmp_path / "none"))
    status = cli("status", env=env)
    assert status.returncode == 1 and "make up" in status.stdout
    down = cli("down", env=env)
    assert down.returncode == 0 and "Nothing was running" in down.stdout


def test_karpenter_pid_reuse_is_not_trusted(cluster):
    # A pid file that points at an unrelated live process must not look like Karpenter
    # (and must never be killed by `down`).
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert not procs.is_running(sleeper.pid, karpenter.BINARY)
        assert not procs.terminate(sleeper.pid, karpenter.BINARY)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_cluster_dying_mid_check_gives_an_error_that_says_make_up(cluster):
    from workshop.grading import core as grading

    apiserver = pids()["kube-apiserver"]
    calls = []

    def dies_between_polls(ctx):
        calls.append(1)
        if len(calls) == 1:
            os.kill(apiserver, signal.SIGKILL)
            kube.wait_until(lambda: not kube.ready(), 10, 0.1, "the API server to go")
            return grading.waiting("a Ready pod", "none yet", "give it a moment")
        kube.get("v1", "Namespace", "default")  # the cluster is gone by now
        return grading.passed("a Ready pod", "one")

    exercise = grading.Exercise("9.1", "dies mid-check", [
        grading.Check("9.1.a", "polls", dies_between_polls, wait_s=20, poll_s=0.2),
        grading.Check("9.1.b", "after it", lambda ctx: grading.passed("x", "x")),
    ])
    report = grading.run(exercise, None)
    assert [r.status for r in report.results] == [grading.Status.ERROR] * 2
    assert "make up" in report.results[0].hint + report.results[0].found
    assert grading.exit_code(report) == 2

    # The CLI says the same, as JSON, with exit code 2 and no traceback.
    result = cli("check", "1", "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    payload = json.loads(result.stdout)
    assert {c["status"] for e in payload["exercises"] for c in e["checks"]} == {"error"}
    assert cli("up").returncode == 0


def own_processes() -> dict[str, list[int]]:
    """Every process started for this test cluster, by component (pid files aside)."""
    found = {name: [p.pid for p in procs.find(binary, cp._ours)]
             for name, binary in cp.COMPONENTS.items()}
    found["karpenter"] = [p.pid for p in procs.find(karpenter.BINARY, karpenter._ours)]
    return {k: v for k, v in found.items() if v}


def test_two_ups_at_once_on_a_stopped_cluster(cluster):
    assert cli("down").returncode == 0
    assert own_processes() == {}, "down left component processes running"
    ups = [subprocess.Popen([*WORKSHOP, "up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd="/") for _ in range(2)]
    outs = [u.communicate(timeout=600) for u in ups]
    for u, (out, err) in zip(ups, outs):
        assert u.returncode == 0, out + err
    assert any("waits for it to finish" in err for _, err in outs), outs
    assert all(r.status == "running" for r in lifecycle.status_rows())
    assert cp.strays() == {}
    assert {k: len(v) for k, v in own_processes().items()} == {
        name: 1 for name in [*cp.COMPONENTS, "karpenter"]}
    assert kube.ready()
