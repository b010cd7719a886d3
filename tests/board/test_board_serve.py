"""`make board` as a learner's instructor runs it: the join line, loopback by default and
saying so, the key shown once, and the same room after a restart."""

from __future__ import annotations

import os
import subprocess
import sys

from workshop.stack import procs


def start_board(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Run `workshop board`; return it and everything it printed before serving."""
    env = {**os.environ, "WORKSHOP_STATE": str(tmp_path / "state"),
           "WORKSHOP_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "workshop.cli", "board", "--port",
                             str(procs.free_port()), *extra], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "Ctrl-C stops the board" in line:  # its last line before serving
            break
    return proc, "".join(seen)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def test_board_prints_the_join_line_and_the_key_once(tmp_path):
    proc, first = start_board(tmp_path)
    stop(proc)
    assert "listens on 127.0.0.1:" in first and "HOST=0.0.0.0" in first
    assert "make join ROOM=http://127.0.0.1:" in first and "CODE=" in first
    assert "/#key=" in first
    code = first.split("CODE=")[1].split()[0]
    proc, again = start_board(tmp_path)
    stop(proc)
    assert f"CODE={code}" in again  # the same room after a restart
    assert "/#key=" not in again and "NEW_KEY=1" in again
    assert (tmp_path / "state" / "board" / "room.sqlite").stat().st_mode & 0o077 == 0
