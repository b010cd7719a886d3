"""The notebook session's state: the lesson in use, the last %%apply, solution mode."""

from __future__ import annotations

import getpass
import os

from workshop.grading import lessons

SESSION: dict = {"lesson": None, "applied_at": None}


def solution_mode() -> bool:
    return os.environ.get("WORKSHOP_SOLUTIONS", "") not in ("", "0", "false")


def field_manager() -> str:
    # Named for the learner, so `kubectl get -o yaml --show-managed-fields` says who set what.
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "learner"
    return f"learner-{user}"[:128]


def default_namespace(exercise: str | None) -> str:
    if exercise:
        return lessons.namespace(int(exercise.split(".")[0]))
    if SESSION["lesson"] is not None:
        return lessons.namespace(SESSION["lesson"])
    return "default"
