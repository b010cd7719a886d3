"""Lesson tests: a test module sets LESSON = N and asks for `mistake` to get one case per
file in tests/mistakes/lesson-NN/ (see tests/mistakes/README.md)."""

from __future__ import annotations

from lesson_harness import load_mistakes


def pytest_generate_tests(metafunc):
    if "mistake" in metafunc.fixturenames:
        lesson = metafunc.module.LESSON
        metafunc.parametrize("mistake", load_mistakes(lesson), ids=str)
