"""Processes and ports, read through psutil (Linux, macOS and the BSDs alike).

kwokctl judges liveness by pid file + kill(pid, 0): a reused pid or an unreaped zombie
looks alive, and `kwokctl stop` SIGKILLs whatever has that pid. Everything here checks the
process's command line before trusting (or killing) a pid.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import psutil


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()  # kwokctl writes no trailing newline
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _process(pid: int | None) -> psutil.Process | None:
    if not pid:
        return None
    try:
        return psutil.Process(pid)
    except (psutil.Error, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    proc = _process(pid)
    try:
        return proc.cmdline() if proc else []
    except psutil.Error:
        return []


def _binary_of(proc: psutil.Process) -> str:
    """The program's file name, from argv[0] (what kwokctl and we start it as)."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return ""
    return os.path.basename(argv[0]) if argv else ""


def _alive(proc: psutil.Process) -> bool:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            reap(proc.pid)
            return False
        return True
    except psutil.Error:
        return False


def is_running(pid: int | None, binary: str) -> bool:
    """True only if `pid` is a live (non-zombie) process whose executable is `binary`."""
    proc = _process(pid)
    return bool(proc) and _alive(proc) and _binary_of(proc) == binary


def reap(pid: int) -> None:
    """Collect a dead child of ours so it stops looking alive (no-op for others' children)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(pid: int, binary: str, grace_s: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after `grace_s`; refuses to touch a pid that is not `binary`."""
    if not is_running(pid, binary):
        return False
    proc = _process(pid)
    try:
        proc.terminate()
        reap(pid)
        proc.wait(timeout=grace_s)
    except psutil.TimeoutExpired:
        try:
            proc.kill()
            proc.wait(timeout=2)
        except psutil.Error:
            pass
    except psutil.Error:
        pass
    reap(pid)
    return True


def uptime_s(pid: int) -> float | None:
    """Seconds since the process started."""
    proc = _process(pid)
    try:
        return max(0.0, time.time() - proc.create_time()) if proc else None
    except psutil.Error:
        return None


def rss_mib(pid: int) -> float:
    proc = _process(pid)
    try:
        return proc.memory_info().rss / 2**20 if proc else 0.0
    except psutil.Error:
        return 0.0


def find(binary: str, belongs: Callable[[psutil.Process], bool]) -> Iterator[psutil.Process]:
    """Live processes of this user running `binary` for which `belongs(process)` is true:
    how `up` and `down` find the kit's own components whatever their pid files say."""
    me = os.getuid() if hasattr(os, "getuid") else None
    for proc in psutil.process_iter(["name", "uids"]):
        try:
            uids = proc.info.get("uids")
            if me is not None and uids is not None and uids.real != me:
                continue
            if _binary_of(proc) == binary and _alive(proc) and belongs(proc):
                yield proc
        except psutil.Error:
            continue


@dataclass
class PortHolder:
    pid: int | None
    command: str


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A port free on all interfaces (Karpenter binds its probes on every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _listens_on(conns, port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
               for c in conns)


def port_holder(port: int) -> PortHolder | None:
    """Who listens on `port`: the system-wide table where allowed (Linux), else each of
    this user's processes (macOS lets a user read only their own)."""
    try:
        for c in psutil.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port:
                if c.pid:
                    return PortHolder(c.pid, " ".join(cmdline(c.pid))[:120] or "?")
                return PortHolder(None, "another process (not visible to this user)")
        return None
    except psutil.AccessDenied:
        pass
    for proc in psutil.process_iter():
        try:
            if _listens_on(proc.net_connections(kind="inet"), port):
                return PortHolder(proc.pid, " ".join(proc.cmdline())[:120] or "?")
        except psutil.Error:
            continue
    return PortHolder(None, "another process (not visible to this user)") if port_in_use(port) else None
