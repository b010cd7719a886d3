"""Lesson 02 on the real cluster: start state, reference solution, every mistake in
tests/mistakes/lesson-02/, and a reset that removes only the lesson's NodePool."""

from __future__ import annotations

import pytest

from workshop.k8s import kube
from workshop.grading import lessons
from workshop.platform import defaults as platform

from lesson_harness import check_start_state, cli

pytestmark = pytest.mark.cluster
LESSON = 2


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(2).results}
    assert "team-payments" in results["2.1.nodepool"].hint
    assert "lesson-02" in results["2.2.deployment"].hint


def _default_pool_uids() -> dict:
    return {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
            for n in platform.DEFAULT_NODEPOOLS}


def test_reset_removes_only_the_lessons_nodepool(cluster):
    lessons.apply_solution("2.1")
    before = _default_pool_uids()
    result = cli("reset", "2")
    assert result.returncode == 0 and "NodePool team-payments" in result.stdout, result.stdout
    assert kube.get(platform.NODEPOOL_API, "NodePool", "team-payments") is None
    assert _default_pool_uids() == before


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
