"""Shared helpers for the board's tests: a real grading report, a settable clock, a real
uvicorn on a free loopback port."""

from __future__ import annotations

from workshop.board.schema import Kit
from workshop.board.serve import InThread
from workshop.grading import core as g

EXERCISES = ["1.1", "1.2", "1.3", "2.1", "2.2"]
# The board takes only the kit's own exercise and check ids: these five, read from
# checks/lesson_01.py and lesson_02.py.
KIT = Kit({ex: checks for ex, checks in Kit.from_lessons().checks.items() if ex in EXERCISES})


def report(lesson: int = 1, statuses: dict[str, list[str]] | None = None,
           hint: str = "look at .spec.replicas") -> dict:
    """A real grading.to_json report: {exercise id: [status of each check]}; the checks
    are the exercise's own, in the kit's order."""
    statuses = statuses or {f"{lesson}.1": ["pass", "fail"]}
    exercises = []
    for ex_id, checks in statuses.items():
        results = [g.Result(id=KIT.checks[ex_id][i], title=f"check {i}", status=g.Status(st),
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


LiveBoard = InThread  # a real uvicorn on a free loopback port
