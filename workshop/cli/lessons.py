"""CLI verbs for lessons: check, reset, solve, progress, lab.

Listed in workshop/cli/__init__.py's verb table, so `workshop check 1` and `make check-lesson-1`
grade with exactly the code the notebooks use (workshop.grading.lessons + workshop.grading.core).
"""

from __future__ import annotations

import json
import sys

from workshop.grading import core as grading, lessons
from workshop.k8s import kube


def _unknown(exc: grading.UnknownExercise, verb: str) -> int:
    named = "a lesson that exists" if verb == "reset" else "a lesson and exercise that exist"
    print(f"error: {exc}\n  fix: e.g. `make {verb}-lesson-1`, or `workshop {verb} 1"
          f"{' --exercise 1.2' if verb != 'reset' else ''}` with {named}", file=sys.stderr)
    return 2


def _live_line(result: grading.Result) -> None:
    # Only on a terminal: a one-line "waiting for 1.1.ready ..." that the report replaces.
    if sys.stderr.isatty() and not result.final:
        sys.stderr.write(f"\r  … {result.id}: {result.found[:70]:<70}")
        sys.stderr.flush()


def _check(args) -> int:
    try:
        # Everything named must exist (and agree) before anything is graded.
        if args.exercise:
            target = lessons.exercise_of(lessons.lesson_number(args.lesson), args.exercise).id
        elif "." in args.lesson:  # `workshop check 1.2` grades one exercise
            target = grading.find_exercise(args.lesson).id
        else:
            target = str(lessons.lesson_number(args.lesson))
        report = lessons.grade(target, on_progress=None if args.json else _live_line,
                               wait=not args.no_wait)
    except grading.UnknownExercise as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return _unknown(exc, "check")
    if sys.stderr.isatty() and not args.json:
        sys.stderr.write("\r" + " " * 80 + "\r")
    if args.json:
        print(json.dumps(grading.to_json(report)))
    else:
        print(grading.render_text(report, color=sys.stdout.isatty()))
    return grading.exit_code(report)


def _reset(args) -> int:
    try:
        n = lessons.lesson_number(args.lesson)
    except grading.UnknownExercise as exc:
        return _unknown(exc, "reset")
    done = lessons.reset(n)
    print(f"Lesson {n} reset: removed {', '.join(done)}." if done else
          f"Lesson {n} had nothing in the cluster to remove.")
    print("  (your notebooks and files are untouched)")
    return 0


def _solve(args) -> int:
    try:
        n = lessons.lesson_number(args.lesson)
        if args.exercise:
            lessons.exercise_of(n, args.exercise)  # before touching the cluster
    except grading.UnknownExercise as exc:
        return _unknown(exc, "solve")
    kube.require_cluster()
    reports = lessons.solve(
        n, args.exercise,
        on_applied=lambda ex, applied: print(f"{ex}: " + ", ".join(str(a) for a in applied)),
        on_graded=lambda r: print(grading.render_text(r, color=sys.stdout.isatty())),
    )
    return max((grading.exit_code(r) for r in reports), default=0)


def _progress(args) -> int:
    """Instructor view: one look (no waiting) at every lesson on this cluster."""
    kube.require_cluster()
    rows = []
    for n in grading.lesson_numbers():
        # Reads the progress record, never writes it: looking must not change the answer.
        report = lessons.grade(n, wait=False, record=False)
        rows.append((n, report))
    if args.json:
        print(json.dumps([grading.to_json(r) for _, r in rows]))
        return 0
    print(f"{'lesson':<8}{'score':>8}  exercises")
    for n, r in rows:
        marks = " ".join(
            f"{e.id}{'✓' if e.passed else '·'}"
            for e in r.exercises)
        print(f"{n:<8}{f'{r.score}/{r.max}':>8}  {marks}")
    return 0


def _lab(args) -> int:
    from workshop.stack import jupyter, lifecycle

    lifecycle.require_repo_checkout()
    lifecycle.up()
    return jupyter.serve(args.port)


def add_parsers(sub) -> None:
    lab = sub.add_parser("lab", help="start the cluster and JupyterLab on 127.0.0.1")
    lab.add_argument("--port", type=int, help="JupyterLab port (default 8888 or LAB_PORT)")
    c = sub.add_parser("check", help="grade a lesson against the live cluster")
    c.add_argument("lesson", help="lesson number, e.g. 1")
    c.add_argument("--exercise", help="only this exercise, e.g. 1.2")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--no-wait", action="store_true", help="one look, no polling")
    r = sub.add_parser("reset", help="remove what lesson N created in the cluster")
    r.add_argument("lesson")
    s = sub.add_parser("solve", help="apply lesson N's reference solutions")
    s.add_argument("lesson")
    s.add_argument("--exercise", help="only this exercise, e.g. 2.1")
    p = sub.add_parser("progress", help="every lesson's score on this cluster")
    p.add_argument("--json", action="store_true")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "check": _check,
    "reset": _reset,
    "solve": _solve,
    "progress": _progress,
    "lab": _lab,
}
