"""Lesson 05 on the real cluster: start state, reference solution, every mistake in
tests/mistakes/lesson-05/, and a reset that removes only the lesson's two NodePools."""

from __future__ import annotations

import pytest

from workshop.k8s import kube
from workshop.grading import lessons
from workshop.platform import defaults as platform

from lesson_harness import check_start_state, cli

pytestmark = pytest.mark.cluster
LESSON = 5


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(5).results}
    assert "team-a" in results["5.1.nodepool"].hint
    assert "team-a-overflow" in results["5.2.nodepool"].hint
    assert "lesson-05" in results["5.1.deployment"].hint


def test_reset_removes_only_the_lessons_nodepools(cluster):
    lessons.apply_solution("5.2")
    before = {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
              for n in platform.DEFAULT_NODEPOOLS}
    result = cli("reset", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NodePool team-a," in result.stdout and "NodePool team-a-overflow" in result.stdout
    assert all(kube.get(platform.NODEPOOL_API, "NodePool", n) is None
               for n in ("team-a", "team-a-overflow"))
    assert {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
            for n in platform.DEFAULT_NODEPOOLS} == before


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
