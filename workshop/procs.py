"""Processes and ports, read from /proc.

kwokctl judges liveness by pid file + kill(pid, 0): a reused pid or an unreaped zombie
looks alive, and `kwokctl stop` SIGKILLs whatever has that pid. Everything here checks the
process's command line before trusting (or killing) a pid.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()  # kwokctl writes no trailing newline
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the state follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def is_running(pid: int | None, binary: str) -> bool:
    """True only if `pid` is a live (non-zombie) process whose executable is `binary`."""
    if not pid:
        return False
    state = _state(pid)
    if state is None:
        return False
    if state == "Z":
        reap(pid)
        return False
    argv = cmdline(pid)
    return bool(argv) and os.path.basename(argv[0]) == binary


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
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_running(pid, binary):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(100):
        if not is_running(pid, binary):
            break
        time.sleep(0.02)
    return True


def uptime_s(pid: int) -> float | None:
    """Seconds since the process started (from /proc/<pid>/stat field 22)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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


def port_holder(port: int) -> PortHolder | None:
    """Who listens on `port`, found via /proc/net/tcp* socket inodes."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    if not inodes:
        return None
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pid = int(pid_dir.name)
                    return PortHolder(pid, " ".join(cmdline(pid))[:120] or "?")
        except OSError:
            continue
    return PortHolder(None, "another process (not visible to this user)")
