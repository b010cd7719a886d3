"""Lesson 01 on the real cluster: start state, reference solution, every mistake in
tests/mistakes/lesson-01/, and a reset that leaves the platform and the learner's files alone."""

from __future__ import annotations

import hashlib

import pytest

from workshop.grading import core as grading, lessons
from workshop.k8s import kube
from workshop import paths
from workshop.platform import defaults as platform

from lesson_harness import check_start_state, cli

pytestmark = pytest.mark.cluster
LESSON = 1


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(1).results}
    first = results["1.1.deployment"]
    assert first.status is grading.Status.MISSING and "lesson-01" in first.hint


def _fingerprint() -> dict:
    pools = [kube.get(platform.NODEPOOL_API, "NodePool", n) for n in platform.DEFAULT_NODEPOOLS]
    files = {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(paths.NOTEBOOKS_DIR.rglob("*")) if p.is_file()}
    return {"pools": [(p["metadata"]["uid"], p["metadata"]["generation"], p["spec"])
                      for p in pools],
            "files": files}


def test_reset_keeps_platform_defaults_and_notebooks(cluster):
    lessons.apply_solution("1.1")
    before = _fingerprint()
    result = cli("reset", "1")
    assert result.returncode == 0, result.stderr
    assert "untouched" in result.stdout
    assert _fingerprint() == before
    assert kube.get("apps/v1", "Deployment", "inflate", "lesson-01") is None


def test_reset_after_1_1_does_not_pass_1_3(cluster):
    lessons.reset(1)
    lessons.apply_solution("1.1")
    lessons.reset(1)
    scaled = lessons.grade("1.3", wait=False).results[0]
    assert scaled.id == "1.3.scaled" and scaled.status is not grading.Status.PASS, scaled


def test_use_lesson_lists_what_other_lessons_left(cluster, capsys):
    from workshop import lab

    # What earlier test modules left would be listed too: clear it, so the test sees only
    # what it makes (test_5_explain once left lesson 6's NodePool after a skip).
    for other in {*lessons.leftovers(besides=1), 2}:
        lessons.reset(other)
    lessons.apply_solution("2.1")  # a NodePool is enough: its nodes would take pods
    try:
        lab.use_lesson(1)
        shown = capsys.readouterr().out
        assert "lesson 2: NodePool team-payments (0 nodes)" in shown, shown
        assert "make reset-lesson-2" in shown
    finally:
        lessons.reset(2)
    lab.use_lesson(1)
    assert "Other lessons" not in capsys.readouterr().out


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)


def test_finished_lesson_grades_as_finished_and_reset_forgets(cluster):
    # 1.3 (scale to zero) undoes the 5 Ready replicas of 1.1 and 1.2 by design: a lesson
    # solved in order must still grade as done, and only until it is reset.
    lessons.reset(1)
    lessons.solve(1)
    whole = lessons.grade(1)
    assert whole.passed, grading.render_text(whole)
    carried = [r for r in whole.results if "1.3 undoes this state" in r.found]
    assert {r.id.rsplit(".", 1)[0] for r in carried} == {"1.1", "1.2"}
    alone = lessons.grade("1.1", wait=False)  # one exercise alone: the live state only
    assert not alone.passed
    lessons.reset(1)
    assert not lessons.grade(1, wait=False).passed
