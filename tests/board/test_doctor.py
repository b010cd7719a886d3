"""`make doctor`: each finding and its fix; registries and ports probed on loopback only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from workshop.stack import doctor


def test_old_python_fails_with_the_fix():
    f = doctor.python_version((3, 9, 2))
    assert f.level == doctor.FAIL and "3.9.2" in f.what and "python3.11" in f.fix
    assert doctor.python_version((3, 11, 4)).level == doctor.OK


def test_low_disk_and_memory_say_what_to_do(tmp_path, monkeypatch):
    assert doctor.disk(tmp_path / "not" / "there", built=True).level == doctor.OK
    monkeypatch.setattr(doctor.shutil, "disk_usage",
                        lambda p: type("U", (), {"free": 3 * 2**30})())
    f = doctor.disk(tmp_path, built=False)
    assert f.level == doctor.WARN and "make join" in f.fix
    assert doctor.memory(available=512 * 2**20).level == doctor.FAIL
    assert "close other programs" in doctor.memory(available=1.5 * 2**30).fix


def test_a_registry_that_does_not_answer_is_a_warning_with_a_fix(live_board):
    board, _ = live_board
    assert doctor.registry("the board", f"{board.url}/api/ping", "x").level == doctor.OK
    f = doctor.registry("the Go module proxy", "http://127.0.0.1:9/x", "set GOPROXY")
    assert f.level == doctor.WARN and "does not answer" in f.what and f.fix == "set GOPROXY"


def test_a_taken_port_names_its_holder(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        monkeypatch.setattr(doctor, "BOARD_PORT", s.getsockname()[1])
        (board,) = [f for f in doctor.ports() if "board" in f.what]
    assert board.level == doctor.WARN and "taken" in board.what and "PORT=" in board.fix


def test_make_doctor_runs_end_to_end_on_loopback(tmp_path):
    env = dict(os.environ, PIP_INDEX_URL="http://127.0.0.1:9/simple",
               GOPROXY="http://127.0.0.1:9", WORKSHOP_STATE=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "workshop.cli", "doctor"], env=env,
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "warn  the Python package index does not answer" in out
    assert "fix: check the network or proxy" in out
    assert out.splitlines()[0].startswith("ok    Python 3.")
