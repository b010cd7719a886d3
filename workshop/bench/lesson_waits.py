"""Lesson 07's waits, one exercise at a time: the seconds from applying the reference solution
to its check passing, as a learner running the notebook waits for them.

What each wait is made of (Karpenter v1.14.1; the README's performance section cites the
source lines): consolidation = the pool's consolidateAfter, then up to 10 s until the
disruption controller's next look (pollingPeriod), 15 s of validation for an empty or
consolidated node (commandValidationDelay), then the drain (at least 5 s, MinDrainTime);
drift = the next look, a replacement launched and Ready, then the drain, once per node as
the budget allows; expiry = the pool's expireAfter, then the replacement and the drain.
"""

from __future__ import annotations

import os
import time

from workshop.grading import lessons
from workshop.progress import say

LESSON = 7


def run() -> dict:
    """`lesson_7_waits_s` by exercise id, whether each passed, and the load at the start."""
    lessons.reset(LESSON)
    load = round(os.getloadavg()[0], 2)
    marks: list[tuple[str, float, bool]] = []
    t0 = time.monotonic()

    def graded(report) -> None:
        target = report.exercises[0].id if report.exercises else "?"
        marks.append((target, time.monotonic(), report.passed))
        say(f"bench: lesson 7, {target} {'passed' if report.passed else 'FAILED'} "
            f"after {marks[-1][1] - (marks[-2][1] if len(marks) > 1 else t0):.0f}s")

    try:
        lessons.solve(LESSON, on_graded=graded)
    finally:
        lessons.reset(LESSON)
    waits, passed, start = {}, {}, t0
    for target, at, ok in marks:
        waits[target] = round(at - start, 1)
        passed[target] = ok
        start = at
    return {"lesson_7_waits_s": waits, "lesson_7_passed": passed,
            "lesson_7_total_s": round(sum(waits.values()), 1), "lesson_7_load_1m": load}
