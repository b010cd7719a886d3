"""Lesson tests: a test module sets LESSON = N and asks for `mistake` to get one case per
file in tests/mistakes/lesson-NN/ (see tests/mistakes/README.md)."""

from __future__ import annotations

import pytest

from workshop.k8s import kube
from workshop.grading import lessons

from lesson_harness import load_mistakes


def pytest_generate_tests(metafunc):
    if "mistake" in metafunc.fixturenames:
        lesson = metafunc.module.LESSON
        metafunc.parametrize("mistake", load_mistakes(lesson), ids=str)


@pytest.fixture(scope="module", autouse=True)
def lesson_leaves_nothing_behind(request):
    """After a lesson's tests, reset that lesson: its untainted NodePools (team-a, ...) would
    otherwise offer spare room to the next lesson's pods, as they would to a learner's."""
    yield
    lesson = getattr(request.module, "LESSON", None)
    if lesson is not None and kube.ready():
        lessons.reset(lesson)
