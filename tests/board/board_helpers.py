"""Shared helpers for the board's tests: a real grading report, a settable clock, a real
uvicorn on a free loopback port."""

from __future__ import annotations

import threading
import time

import uvicorn

from workshop import grading as g
from workshop import procs

EXERCISES = ["1.1", "1.2", "1.3", "2.1", "2.2"]


def report(lesson: int = 1, statuses: dict[str, list[str]] | None = None,
           hint: str = "look at .spec.replicas") -> dict:
    """A real grading.to_json report: {exercise id: [status of each check]}."""
    statuses = statuses or {f"{lesson}.1": ["pass", "fail"]}
    exercises = []
    for ex_id, checks in statuses.items():
        results = [g.Result(id=f"{ex_id}.check{i}", title=f"check {i}", status=g.Status(st),
                            points=1 if st == "pass" else 0, max_points=1, expected="5",
                            found="3", hint="" if st == "pass" else hint,
                            object="Deployment lesson-01/inflate")
                   for i, st in enumerate(checks)]
        exercises.append(g.ExerciseReport(ex_id, f"exercise {ex_id}", results))
    return g.to_json(g.Report(lesson, exercises))


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class LiveBoard:
    """A real uvicorn serving `app` on 127.0.0.1 in a thread; stopped at teardown."""

    def __init__(self, app):
        self.port = procs.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveBoard":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


