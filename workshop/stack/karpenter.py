"""Karpenter's kwok provider as a local process supervised by the kit.

It runs outside kwokctl because it must start only after its CRDs are Established, and
because it needs environment settings kwokctl has no place for. Pid, ports and log live in
`.workshop/karpenter/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from workshop.instances import catalog
from workshop import paths
from workshop.stack import procs
from workshop.errors import WorkshopError

BINARY = "karpenter-kwok"
PID_FILE = paths.KARPENTER_DIR / "karpenter.pid"
STATE_FILE = paths.KARPENTER_DIR / "state.json"
LOG_FILE = paths.KARPENTER_DIR / "karpenter.log"

# Short batching so a learner sees a NodeClaim a few tenths of a second after a pod goes
# Pending (defaults: idle 1s, max 10s). A Deployment's pods reach Karpenter tens of
# milliseconds apart, so 200 ms still gathers its burst into one round and packs it as the
# defaults would; the max stays a few seconds so a long burst gets its first nodes early.
# 300 ms idle made a pending pod's median 1.53-1.55 s to Running, 200 ms 1.43 s: most of the
# rest is Karpenter's own 1 s pause after it writes a NodeClaim's status
# (nodeclaim/lifecycle/controller.go:189), which is not a setting.
ENV = {
    "DISABLE_LEADER_ELECTION": "true",  # otherwise it needs a namespace and panics on API loss
    "BATCH_IDLE_DURATION": "200ms",
    "BATCH_MAX_DURATION": "3s",
    "KUBE_CLIENT_QPS": "500",
    "KUBE_CLIENT_BURST": "1000",
    "LOG_LEVEL": "info",
}
# `KARPENTER_LOG_LEVEL=debug make up` shows Karpenter's reasons (a NodeClaim marked
# Consolidatable, an empty-node decision abandoned because pods came or went). A name of our
# own: a shell's LOG_LEVEL is often set for other tools and would silently change Karpenter's.
LOG_LEVEL_VARIABLE = "KARPENTER_LOG_LEVEL"


@dataclass
class State:
    pid: int | None
    running: bool
    metrics_port: int | None
    health_port: int | None
    uptime_s: float | None
    rss_mib: float


def _saved() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def state() -> State:
    saved = _saved()
    pid = procs.read_pid(PID_FILE)
    running = procs.is_running(pid, BINARY)
    return State(
        pid, running, saved.get("metrics_port"), saved.get("health_port"),
        procs.uptime_s(pid) if running and pid else None,
        procs.rss_mib(pid) if running and pid else 0.0,
    )


def _loopback_get(port: int | None, path: str, timeout_s: float) -> str | None:
    """The body Karpenter serves on one of its loopback ports; None when it does not answer
    (or answers with an error status, which urllib raises as an OSError)."""
    if not port:
        return None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as r:
            return r.read().decode("utf-8", "replace")
    except OSError:
        return None


def healthy(port: int | None, timeout_s: float = 1.0) -> bool:
    return _loopback_get(port, "/readyz", timeout_s) is not None


def metric_samples(*families: str, timeout_s: float = 2.0) -> dict[tuple, float]:
    """The samples of Karpenter's own metrics of these families, read from its metrics port
    on loopback: (sample name, ((label, value), ...)) -> value. Empty when Karpenter does
    not answer: the numbers are evidence for the bench, never needed to go on."""
    # Imported here, not at the top: the package takes ~0.3 s to import, and every
    # `workshop` command imports this module; only the bench reads metrics.
    from prometheus_client.parser import text_string_to_metric_families

    text = _loopback_get(state().metrics_port, "/metrics", timeout_s)
    if text is None:
        return {}
    wanted = set(families)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) if fam.name in wanted
            for s in fam.samples}


def log_tail(lines: int = 10) -> str:
    try:
        text = LOG_FILE.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return f"last lines of {LOG_FILE}:\n" + "\n".join(text)


def start(bin_dir: Path, kubeconfig: Path, timeout_s: float = 60) -> int:
    """Start Karpenter and wait for /readyz; return its pid."""
    exe = bin_dir / BINARY
    if not exe.exists():
        raise WorkshopError(f"{exe} is missing", fix="run `make up`, which builds it")
    # Karpenter only logs a broken instance-types file and then runs with no instance
    # types, which would leave every pod Pending with a baffling message: check first.
    catalog.validate_json(catalog.CATALOG_JSON)
    paths.KARPENTER_DIR.mkdir(parents=True, exist_ok=True)
    metrics_port, health_port = procs.free_port(), procs.free_port()
    env = dict(os.environ)
    env.update(ENV)
    if os.environ.get(LOG_LEVEL_VARIABLE):
        env["LOG_LEVEL"] = os.environ[LOG_LEVEL_VARIABLE]
    env.update(
        KUBECONFIG=str(kubeconfig),  # it rejects a --kubeconfig flag
        METRICS_PORT=str(metrics_port),
        HEALTH_PROBE_PORT=str(health_port),
        INSTANCE_TYPES_FILE_PATH=str(catalog.CATALOG_JSON),
    )
    with LOG_FILE.open("a") as log:
        log.write(f"\n---- starting {exe} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        log.flush()
        proc = subprocess.Popen(
            [str(exe)], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # survives the CLI's exit
            cwd=paths.KARPENTER_DIR,  # how stop() knows it for ours (see _ours)
        )
    PID_FILE.write_text(str(proc.pid))
    STATE_FILE.write_text(json.dumps({
        "pid": proc.pid, "metrics_port": metrics_port, "health_port": health_port,
    }))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WorkshopError(
                f"Karpenter exited right after starting (exit code {proc.returncode})",
                detail=log_tail(), fix="read the log lines above; then `make up` again",
            )
        if healthy(health_port):
            return proc.pid
        time.sleep(0.1)
    raise WorkshopError(f"Karpenter did not become ready within {timeout_s:.0f}s",
                        detail=log_tail(), fix="read the log lines above")


def _ours(proc) -> bool:
    """A Karpenter started for this state folder, whatever its pid file says (the binary
    is shared by every checkout): it runs in our folder or talks to our cluster."""
    try:
        if proc.cwd() == str(paths.KARPENTER_DIR):
            return True
        return proc.environ().get("KUBECONFIG") == str(paths.KUBECONFIG)
    except procs.psutil.Error:
        return False


def stop() -> bool:
    """Stop the recorded Karpenter and any other one started for this cluster."""
    pid = procs.read_pid(PID_FILE)
    stopped = bool(pid) and procs.terminate(pid, BINARY)
    for proc in procs.find(BINARY, _ours):
        stopped = procs.terminate(proc.pid, BINARY) or stopped
    PID_FILE.unlink(missing_ok=True)
    return stopped
