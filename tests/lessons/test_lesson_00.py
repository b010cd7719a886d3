"""Lesson 00 on the real cluster: a healthy environment passes, each way of breaking it is
named (tests/mistakes/lesson-00/), and `workshop check` keeps its promises: one JSON object,
exit codes 0 (all pass) / 1 (work left) / 2 (cluster down, unknown lesson or exercise)."""

from __future__ import annotations

import pytest

from workshop.grading import lessons

from lesson_harness import check_json

pytestmark = pytest.mark.cluster
LESSON = 0

CHECK_KEYS = {"id", "status", "points", "expected", "found", "hint", "object"}


def test_start_state_is_healthy(cluster):
    # Lesson 0's start state is the cluster `make up` leaves: it passes before any work.
    lessons.reset(0)
    report = lessons.grade(0)
    assert report.passed, str(report)


def test_check_json_shape_and_exit_0(cluster):
    code, report = check_json("0")
    assert code == 0
    assert set(report) == {"lesson", "score", "max", "exercises"}
    assert report["lesson"] == 0 and report["score"] == report["max"] > 0
    for ex in report["exercises"]:
        assert set(ex) == {"id", "title", "checks"}
        assert all(set(c) == CHECK_KEYS and c["status"] == "pass" for c in ex["checks"])


def test_check_exit_1_when_work_is_left(cluster):
    lessons.reset(2)
    code, report = check_json("2", "--no-wait")
    assert code == 1 and report["score"] == 0


@pytest.mark.parametrize("args", [["42"], ["0", "--exercise", "9.9"], ["1", "--exercise", "1.9"]])
def test_check_unknown_lesson_or_exercise_exits_2(cluster, args):
    code, report = check_json(*args)
    assert code == 2 and set(report) == {"error"}, report
    assert report["error"].startswith("no ")


def test_check_cluster_down_exits_2(cluster, tmp_path):
    # No kubeconfig, as before the first `make up`.
    code, report = check_json("1", env={"WORKSHOP_KUBECONFIG": str(tmp_path / "none")})
    assert code == 2
    checks = [c for ex in report["exercises"] for c in ex["checks"]]
    assert {c["status"] for c in checks} == {"error"}
    assert all("make up" in c["hint"] for c in checks)


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
