"""Lesson 04 on the real cluster: start state, reference solution, every mistake in
tests/mistakes/lesson-04/, and the spread as show.spread() tabulates it."""

from __future__ import annotations

import pytest

from workshop.instances import catalog
from workshop.grading import lessons
from workshop.k8s import observe

from lesson_harness import check_start_state

pytestmark = pytest.mark.cluster
LESSON = 4


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(4).results}
    assert "lesson-04" in results["4.1.deployment"].hint


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)


def test_spread_table_lists_every_zone(cluster):
    # After the reference solution: two Ready pods in each zone, every zone listed.
    lessons.reset(4)
    lessons.solve(4, "4.1")
    rows = observe.spread("lesson-04", "app=web", domains=catalog.ZONES)
    assert [(d.name, d.pods, d.pending) for d in rows] == [(z, 2, 0) for z in catalog.ZONES]
    assert all(d.nodes for d in rows)
