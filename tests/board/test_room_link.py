"""The learner's side against a real board on loopback: join once, every report queued
and sent in the background, nothing lost while the board is away, never a slow check."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from board_helpers import report

from workshop.grading import core as g
from workshop.grading import lessons
from workshop.board import room, wiring
from workshop.errors import WorkshopError



def a_report() -> g.Report:
    r = g.Result(id="1.1.replicas", title="replicas", status=g.Status.FAIL, points=0,
                 max_points=1, expected="5", found="3", hint="scale it to 5")
    return g.Report(1, [g.ExerciseReport("1.1", "Scale", [r])])


def no_sleep(_s: float) -> None:
    pass


def test_join_once_is_stored_private(live_board, learner):
    board, rm = live_board
    link = room.join(board.url + "/", rm.code.lower(), "Ada")
    assert link["room"] == board.url and link["name"] == "Ada"
    assert stat.S_IMODE(os.stat(room.LINK).st_mode) == 0o600
    assert room.join(board.url, rm.code, "Ada") == link  # the same join, not a second learner
    assert len(rm.board([], 600)["learners"]) == 1


def test_join_with_a_wrong_code_says_so_with_the_fix(live_board, learner):
    board, _ = live_board
    with pytest.raises(WorkshopError) as err:
        room.join(board.url, "NOPE-NOPE", "Ada")
    assert "wrong room code" in str(err.value) and "make join" in err.value.fix
    assert not room.LINK.exists()


def test_without_a_room_nothing_is_queued(learner):
    room.report_in_background(a_report())
    assert room.queued() == []


def test_unreachable_board_queues_fast_and_everything_goes_later(live_board, learner,
                                                                 monkeypatch):
    board, rm = live_board
    room.join(board.url, rm.code, "Ada")
    link = json.loads(room.LINK.read_text())
    room.LINK.write_text(json.dumps({**link, "room": "http://127.0.0.1:9"}))  # nobody there
    monkeypatch.setattr(room, "start_sender", lambda: None)  # sent by hand below
    worst = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        room.report_in_background(a_report())
        worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.05, f"a check was slowed by {worst * 1000:.0f} ms"
    assert room.send_queued(give_up_after_s=0.2, sleep=no_sleep) == 0
    assert len(room.queued()) == 5 and rm.report_count() == 0
    room.LINK.write_text(json.dumps(link))  # the board is back
    assert room.send_queued(sleep=no_sleep) == 5
    assert room.queued() == [] and rm.received_count() == 5


def test_the_background_sender_delivers_after_the_check_returned(live_board, learner):
    board, rm = live_board
    room.join(board.url, rm.code, "Ada")
    t0 = time.perf_counter()
    room.report_in_background(a_report())  # queues, starts `python -m workshop.board.room send`
    assert time.perf_counter() - t0 < 0.05
    deadline = time.monotonic() + 20
    while rm.report_count() < 1:
        assert time.monotonic() < deadline, "the background sender delivered nothing"
        time.sleep(0.05)
    assert rm.latest_report(rm.board([], 600)["learners"][0]["id"])["report"] == \
        g.to_json(a_report())


def test_a_report_the_board_refuses_is_set_aside_not_resent(live_board, learner):
    board, rm = live_board
    room.join(board.url, rm.code, "Ada")
    room.enqueue({"lesson": "one"})
    room.enqueue(report())
    assert room.send_queued(sleep=no_sleep) == 1
    assert room.queued() == [] and len(list(room.REJECTED.glob("*.json"))) == 1


def test_a_broken_link_file_never_fails_a_check(learner):
    room.LINK.parent.mkdir(parents=True)
    room.LINK.write_text("{not json")
    room.report_in_background(a_report())  # no exception
    room.LINK.write_text(json.dumps({"room": "x", "code": "y", "token": "z"}))
    room.QUEUE.parent.mkdir(exist_ok=True)
    room.QUEUE.write_text("a file where the queue folder should be")
    room.report_in_background(a_report())  # no exception either


def test_lessons_grade_hands_every_report_to_the_room(monkeypatch):
    """Through the hook the front ends wire (workshop/board/wiring.py): grading itself never
    imports the room."""
    sent = []
    monkeypatch.setattr(lessons, "REPORT_LISTENERS", [])
    wiring.connect()
    wiring.connect()  # idempotent: one report, not two
    monkeypatch.setattr(lessons, "_grade_live", lambda *a: a_report())
    monkeypatch.setattr(lessons, "_record", lambda r: None)
    monkeypatch.setattr(room, "report_in_background", sent.append)
    lessons.grade("1.1")
    assert [r.exercises[0].id for r in sent] == ["1.1"]


def test_no_second_sender_while_one_is_at_work(learner, monkeypatch):
    import fcntl

    started = []
    monkeypatch.setattr(room.subprocess, "Popen", lambda *a, **k: started.append(a))
    room.LOCK.parent.mkdir(parents=True)
    with room.LOCK.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        room.start_sender()
        assert started == []
    room.start_sender()
    assert len(started) == 1


def test_make_join_passes_the_name_as_data_never_as_shell(live_board, tmp_path):
    import subprocess

    from workshop import paths

    board, rm = live_board
    marker = Path(f"/tmp/pw{os.getpid() % 10000}")  # short: names are 40 characters at most
    # (Make itself reads `$` in command-line values; WORKSHOP_NAME passes any name.)
    name = f'A "q" `touch {marker}`;O\'B'
    proc = subprocess.run(["make", "-C", str(paths.REPO), "--no-print-directory", "join",
                           f"ROOM={board.url}", f"CODE={rm.code}", f"NAME={name}"],
                          env={**os.environ, "WORKSHOP_STATE": str(tmp_path / "state")},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists()
    assert [learner["name"] for learner in rm.board([], 600)["learners"]] == [name]
    link = json.loads((tmp_path / "state" / "room.json").read_text())
    assert link["name"] == name and stat.S_IMODE(os.stat(tmp_path / "state" / "room.json").st_mode) == 0o600
