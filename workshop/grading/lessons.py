"""Per-lesson operations on the cluster: grade, reset, solve.

A lesson module (`checks/lesson_NN.py`) holds `LESSON` (its exercises, see grading.py) and
`NODEPOOLS` (the cluster-scoped NodePools its contract names). Everything else a lesson
creates lives in its namespace `lesson-NN`, which is what makes reset simple and safe:
it empties that namespace and deletes those NodePools, never a file, never a platform default.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Callable

from workshop.grading import core as grading
from workshop.k8s import kube, observe, orphans
from workshop import paths
from workshop.platform import defaults as platform
from workshop.errors import WorkshopError
from workshop.names import APPS_API, KARPENTER_API

SOLVER = "workshop-solutions"  # field manager for reference solutions


def namespace(n: int) -> str:
    return f"lesson-{n:02d}"


def lesson_number(text: str | int) -> int:
    """The lesson a learner named ("1", 1), or UnknownExercise saying what exists."""
    try:
        n = int(str(text).strip())
    except ValueError:
        raise grading.UnknownExercise(f"`{text}` is not a lesson number") from None
    grading.get_lesson(n)  # raises UnknownExercise with the list of lessons
    return n


def exercise_of(n: int, exercise_id: str) -> grading.Exercise:
    """Exercise `exercise_id` of lesson n, or UnknownExercise (it does not exist, or it
    belongs to another lesson than the one named)."""
    ids = ", ".join(e.id for e in grading.get_lesson(n).exercises)
    try:
        ex = grading.find_exercise(exercise_id)
    except grading.UnknownExercise:
        if str(exercise_id).strip().split(".")[0] == str(n):
            raise  # "no exercise 1.9; lesson 1 has ..."
        raise grading.UnknownExercise(
            f"no exercise {str(exercise_id).strip()} in lesson {n} (it has {ids})") from None
    if ex.lesson != n:
        raise grading.UnknownExercise(
            f"exercise {ex.id} belongs to lesson {ex.lesson}, not lesson {n} "
            f"(lesson {n} has {ids})")
    return ex


def module(n: int) -> ModuleType:
    grading.get_lesson(n)  # raises UnknownExercise with the list of lessons
    return importlib.import_module(f"checks.lesson_{n:02d}")


def nodepools(n: int) -> list[str]:
    names = list(getattr(module(n), "NODEPOOLS", []))
    # A lesson must never name a platform default: reset would delete it.
    assert not set(names) & set(platform.DEFAULT_NODEPOOLS), names
    return names


def pool_owner(pool: str) -> int | None:
    """The lesson whose contract names NodePool `pool` (its NODEPOOLS), or None."""
    for n in grading.lesson_numbers():
        if pool in nodepools(n):
            return n
    return None


def leftovers(besides: int) -> dict[int, list[str]]:
    """What the other lessons left in the cluster that can get in lesson `besides`'s way:
    their NodePools (spare room on an untainted node takes any pod) and the pods still
    in their namespaces. {lesson: ["NodePool team-payments (2 nodes)", "4 pods in lesson-02"]}"""
    found: dict[int, list[str]] = {}
    for n in grading.lesson_numbers():
        if n == besides:
            continue
        what = []
        for pool in nodepools(n):
            if kube.get(platform.NODEPOOL_API, "NodePool", pool) is not None:
                count = len(observe.nodes(f"{observe.NODEPOOL_LABEL}={pool}"))
                what.append(f"NodePool {pool} ({count} node{'' if count == 1 else 's'})")
        pods = [p for p in observe.pods(namespace(n))
                if not p["metadata"].get("deletionTimestamp")]
        if pods:
            what.append(f"{len(pods)} pod{'' if len(pods) == 1 else 's'} in {namespace(n)}")
        if what:
            found[n] = what
    return found


class Context:
    """What checks receive: the lesson's namespace and the catalog (loaded once)."""

    def __init__(self, lesson: int):
        self.lesson = lesson
        self.namespace = namespace(lesson)
        self._catalog = None

    @property
    def catalog(self):
        if self._catalog is None:
            from workshop.instances import catalog

            self._catalog = catalog.load_catalog()
        return self._catalog


# ---------------------------------------------------------------- progress record
#
# Exercises build on each other: 1.3 scales `inflate` to zero, which undoes the 5 Ready
# replicas 1.1 asked for. So a finished lesson would never grade as finished. Each pass is
# recorded (per cluster, in .workshop/progress.json); when a whole lesson is graded, an
# exercise that passed earlier counts as done only where the lesson declares that a later
# exercise passing now undoes it (`undoes=` in checks/lesson_NN.py; grading.carry_undone).
# Reset forgets the lesson's record.

PROGRESS_FILE = paths.PROGRESS


def _load_progress() -> dict:
    try:
        return json.loads(PROGRESS_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _save_progress(data: dict) -> None:
    try:
        PROGRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
        PROGRESS_FILE.write_text(json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only checkout still grades; it only forgets earlier passes


def _record(report: grading.Report) -> None:
    data = _load_progress()
    for ex in report.exercises:
        if ex.passed:
            data[ex.id] = time.strftime("%H:%M")
    _save_progress(data)


def forget(n: int) -> None:
    data = {k: v for k, v in _load_progress().items() if not k.startswith(f"{n}.")}
    _save_progress(data)


# Who hears of every graded report: the instructor's board when a learner joined a room. The
# front ends (the CLI, the notebook surface) wire it in through workshop/board/wiring.py, so
# grading never imports the optional room. A listener must return at once (queue, not send).
REPORT_LISTENERS: list[Callable[[grading.Report], None]] = []


def add_report_listener(listener: Callable[[grading.Report], None]) -> None:
    """Register `listener` once (wiring runs on every CLI call and notebook import)."""
    if listener not in REPORT_LISTENERS:
        REPORT_LISTENERS.append(listener)


def grade(target: str | int, on_progress: Callable | None = None,
          wait: bool = True, record: bool = True) -> grading.Report:
    """Grade a lesson (int or "1") or one exercise ("1.2").

    record=False only reads the progress record (the instructor's `workshop progress`
    must not change what it reports on).
    """
    report = _grade_live(target, on_progress, wait)
    if record and not report.broken:
        _record(report)
    if "." not in str(target) and not report.broken:
        lesson = grading.get_lesson(report.lesson)
        report = grading.carry_undone(report, lesson, _load_progress())
    for listener in list(REPORT_LISTENERS):
        try:
            listener(report)
        except Exception:  # a listener is a bonus: grading must never fail because of one
            pass
    return report


def _grade_live(target: str | int, on_progress: Callable | None, wait: bool) -> grading.Report:
    text = str(target)
    if "." in text:
        unit = grading.find_exercise(text)
        lesson_n = unit.lesson
    else:
        try:
            lesson_n = int(text)
        except ValueError:
            raise grading.UnknownExercise(
                f"`{text}` is not a lesson number or an exercise id like 1.2") from None
        unit = grading.get_lesson(lesson_n)
    if not wait:
        unit = _without_waiting(unit)
    return grading.run(unit, Context(lesson_n), on_progress=on_progress)


def _without_waiting(unit):
    """A copy whose checks take one look instead of polling (instructor overview)."""
    if isinstance(unit, grading.Exercise):
        return replace(unit, checks=[replace(c, wait_s=0) for c in unit.checks])
    return replace(unit, exercises=[_without_waiting(e) for e in unit.exercises])


# ---------------------------------------------------------------- reset


def remove_nodepools(pools: list[str], timeout_s: float = 60) -> list[str]:
    """Delete these NodePools and wait until their NodeClaims are gone (so no node of theirs
    takes new pods); return what was removed. Raises WorkshopError after `timeout_s`."""
    done = []
    for pool in pools:
        if kube.delete(KARPENTER_API, "NodePool", pool):
            done.append(f"NodePool {pool}")
        # Karpenter would get to these through the garbage collector's cascade; deleting
        # them directly saves the collector's delay (seconds) before the nodes drain.
        for claim in observe.nodeclaims(pool):
            kube.delete(KARPENTER_API, "NodeClaim", claim["metadata"]["name"])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(observe.nodeclaims(p) for p in pools):
            # A node that was still launching when its claim went has no owner left: no
            # claim of these pools can come back, so no grace is needed (orphans.py).
            return done + [f"orphan node {n}" for n in orphans.sweep(grace_s=0)]
        time.sleep(0.2)
    raise WorkshopError(f"the nodes of {', '.join(pools)} were not gone within {timeout_s:.0f}s",
                        fix="run it again; `make status` checks Karpenter is running")


def reset(n: int, timeout_s: float = 60) -> list[str]:
    """Empty lesson n's namespace, delete its NodePools; wait until their pods and nodes
    are gone. Never touches files or the platform defaults.

    The namespace is kept, empty: deleting a namespace takes the namespace controller ~5 s
    even when it is empty, and nothing can be created in it meanwhile, so a learner
    re-running a cell right after a reset would stall.
    """
    module(n)
    kube.require_cluster()
    forget(n)
    done = []
    ns = namespace(n)
    pools = nodepools(n)
    if kube.get("v1", "Namespace", ns) is not None:
        kube.empty_namespace(ns)
        done.append(f"everything in namespace {ns}")
    deadline = time.monotonic() + timeout_s
    done += remove_nodepools(pools, timeout_s)
    while time.monotonic() < deadline:
        if not observe.pods(ns):
            return done
        time.sleep(0.2)
    raise WorkshopError(f"reset of lesson {n} did not finish within {timeout_s:.0f}s",
                        fix="run it again; `make status` checks Karpenter is running")


# ---------------------------------------------------------------- solutions


def solution_files(exercise_id: str) -> list[Path]:
    lesson_n = int(exercise_id.split(".")[0])
    folder = paths.SOLUTIONS_DIR / namespace(lesson_n)
    files = sorted(folder.glob(f"{exercise_id}.yaml")) + sorted(folder.glob(f"{exercise_id}-*.yaml"))
    if not files:
        raise WorkshopError(f"no reference solution for exercise {exercise_id} in {folder}")
    return files


def apply_solution(exercise_id: str, field_manager: str = SOLVER, step: int | None = None,
                   step_timeout_s: float = 120) -> list[kube.Applied]:
    """Apply an exercise's reference solution. Several files (N.M-1.yaml, N.M-2.yaml) are
    steps a learner takes one after the other (scale up, then down; run a pod, then change
    the template): each step's Deployments are rolled out before the next step is applied.
    `step` applies only that file (a notebook's `%%apply 7.1-2` cell)."""
    grading.find_exercise(exercise_id)
    lesson_n = int(exercise_id.split(".")[0])
    files = solution_files(exercise_id)
    if step is not None:
        files = [f for f in files if f.stem == f"{exercise_id}-{step}"]
        if not files:
            raise WorkshopError(f"exercise {exercise_id} has no step {step}",
                                fix=f"use `%%apply {exercise_id}` or an existing step")
    applied: list[kube.Applied] = []
    for i, path in enumerate(files):
        if i:
            _wait_rolled_out(applied, step_timeout_s)
        applied += kube.apply(kube.load_manifest_files([path]), field_manager=field_manager,
                              default_namespace=namespace(lesson_n))
    return applied


def _wait_rolled_out(applied: list[kube.Applied], timeout_s: float) -> None:
    """Until every applied Deployment has all its replicas updated and Ready."""
    deployments = [(a.name, a.namespace) for a in applied if a.kind == "Deployment"]

    def done() -> bool:
        for name, ns in deployments:
            dep = kube.get(APPS_API, "Deployment", name, ns) or {}
            st, want = dep.get("status") or {}, (dep.get("spec") or {}).get("replicas", 1)
            if (st.get("observedGeneration") != (dep.get("metadata") or {}).get("generation")
                    or st.get("updatedReplicas", 0) != want or st.get("readyReplicas", 0) != want
                    or st.get("replicas", 0) != want):
                return False
        return True

    kube.wait_until(done, timeout_s, 0.5, "the previous step's Deployments to be Ready")


def solution_step(exercise_id: str) -> None:
    """Do what the learner does besides applying YAML (e.g. play a node agent), as the
    lesson module's SOLUTION_STEPS declares it."""
    step = getattr(module(int(exercise_id.split(".")[0])), "SOLUTION_STEPS", {}).get(exercise_id)
    if step is not None:
        step()


def solve(n: int, exercise: str | None = None,
          on_applied: Callable[[str, list], None] | None = None,
          on_graded: Callable[[grading.Report], None] | None = None) -> list[grading.Report]:
    """Apply each exercise's reference solution in order, grading each before the next.

    With `exercise`, only that one; it must be an exercise of lesson n (UnknownExercise).
    """
    lesson = grading.get_lesson(n)
    only = exercise_of(n, exercise).id if exercise else None
    reports = []
    for ex in lesson.exercises:
        if only and ex.id != only:
            continue
        applied = apply_solution(ex.id)
        if on_applied:
            on_applied(ex.id, applied)
        solution_step(ex.id)
        report = grading.run(ex, Context(n))
        _record(report)
        if on_graded:
            on_graded(report)
        reports.append(report)
    return reports
