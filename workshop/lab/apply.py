"""`%%apply` and apply_yaml(): a cell of YAML applied server-side as the learner (or, in
solution mode, the exercise's reference solution). shlex only splits the magic's own
arguments; nothing is ever run by a shell."""

from __future__ import annotations

import html
import shlex
from datetime import datetime, timezone

from workshop.errors import WorkshopError
from workshop.grading import core as grading, lessons
from workshop.k8s import kube
from workshop.lab.display import display_html, error_box
from workshop.lab.session import SESSION, default_namespace, field_manager, solution_mode


def apply_yaml(text: str, exercise: str | None = None, namespace: str | None = None,
               quiet: bool = False, step: int | None = None) -> list[kube.Applied]:
    """Apply YAML text (or, in solution mode with an exercise id, the reference solution:
    all of it, or only `step` of an exercise done in steps)."""
    ns = namespace or default_namespace(exercise)
    if exercise and solution_mode():
        applied = lessons.apply_solution(exercise, field_manager=field_manager(), step=step)
    else:
        objs = kube.parse_manifests(text, source="this cell")
        if not objs:
            raise WorkshopError("this cell holds no YAML objects",
                                fix="write a manifest under the %%apply line")
        applied = kube.apply(objs, field_manager=field_manager(), default_namespace=ns)
    SESSION["applied_at"] = datetime.now(timezone.utc)  # show.events() starts here
    if not quiet:
        display_html("<br>".join(html.escape(str(a)) for a in applied))
    return applied


def apply_magic(line: str, cell: str) -> None:
    try:
        # shlex only splits the magic's own arguments; nothing is ever run by a shell.
        args = shlex.split(line)
    except ValueError as exc:
        error_box(WorkshopError(f"cannot read the %%apply line: {exc}",
                                fix="use `%%apply`, `%%apply 1.1` or `%%apply -n NAMESPACE`"))
        return
    exercise = namespace = step = None
    while args:
        arg = args.pop(0)
        if arg in ("-n", "--namespace") and args:
            namespace = args.pop(0)
        elif exercise is None and arg[:1].isdigit():
            # `7.1-2`: step 2 of exercise 7.1 (its solution file 7.1-2.yaml).
            exercise, _, number = arg.partition("-")
            step = int(number) if number.isdigit() else None
        else:
            error_box(WorkshopError(f"unexpected %%apply argument `{arg}`",
                                    fix="use `%%apply`, `%%apply 1.1` or `%%apply -n NAMESPACE`"))
            return
    try:
        if exercise:
            grading.find_exercise(exercise)
        apply_yaml(cell, exercise=exercise, namespace=namespace, step=step)
    except grading.UnknownExercise as exc:
        error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"))
    except WorkshopError as exc:
        error_box(exc)
        if solution_mode():
            raise


def register_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.register_magic_function(apply_magic, magic_kind="cell", magic_name="apply")
