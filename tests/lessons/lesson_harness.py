"""The lesson tests' shared pieces: mistakes as data, grading a few checks, the CLI.

Each lesson is tested three ways on the real cluster (see tests/mistakes/README.md):
its start state does not pass, its reference solution passes, each mistake is diagnosed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workshop.grading import core as grading, lessons
from workshop.stack import karpenter, lifecycle
from workshop.k8s import kube
from workshop.errors import WorkshopError

REPO = Path(__file__).resolve().parents[2]
MISTAKES = REPO / "tests" / "mistakes"
MANAGER = "lesson-tests"  # field manager for mistakes, so they can be taken back


@dataclass
class Mistake:
    path: Path
    exercise: str
    mistake: str
    expect: list[dict]
    setup: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    action: str = ""
    objects: list[dict] = field(default_factory=list)
    rejected: str = ""  # the API refuses the manifests; its message says this

    @property
    def lesson(self) -> int:
        return int(self.exercise.split(".")[0])

    def __str__(self) -> str:
        return self.path.stem


def load_mistakes(lesson: int) -> list[Mistake]:
    found = []
    for path in sorted((MISTAKES / lessons.namespace(lesson)).glob("*.yaml")):
        header, *docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert header.get("kind") == "Mistake", f"{path}: the first document must be the header"
        extra = set(header) - {"kind", "exercise", "mistake", "expect", "setup", "delete", "action",
                               "rejected"}
        assert not extra, f"{path}: unknown header keys {extra}"
        objects = kube.parse_manifests(yaml.safe_dump_all(docs), str(path)) if docs else []
        found.append(Mistake(path, str(header["exercise"]), header["mistake"],
                             header.get("expect") or [], header.get("setup") or [],
                             header.get("delete") or [], header.get("action") or "", objects,
                             header.get("rejected") or ""))
    return found


def grade_checks(exercise_id: str, check_ids: list[str]) -> dict[str, grading.Result]:
    """Run only `check_ids` (and the checks they depend on) of one exercise.

    Skipping the others keeps a mistake's test from waiting on checks it is not about
    (e.g. consolidation).
    """
    ex = grading.find_exercise(exercise_id)
    by_id = {c.id: c for c in ex.checks}
    wanted: set[str] = set()
    todo = list(check_ids)
    while todo:
        cid = todo.pop()
        assert cid in by_id, f"no check {cid} in exercise {exercise_id}"
        if cid not in wanted:
            wanted.add(cid)
            todo += by_id[cid].depends_on
    subset = grading.Exercise(ex.id, ex.title, [c for c in ex.checks if c.id in wanted])
    report = grading.run(subset, lessons.Context(ex.lesson))
    return {r.id: r for r in report.results}


def _apply_mistake(m: Mistake) -> None:
    for exercise in m.setup:
        lessons.apply_solution(exercise)
        lessons.solution_step(exercise)  # e.g. 3.3: play the node agent
        # As a learner would have: the earlier exercise is done (and its objects have
        # their events) before the mistake happens.
        done = lessons.grade(exercise)
        assert done.passed, grading.render_text(done)
    if m.objects:
        kube.apply([dict(o) for o in m.objects], field_manager=MANAGER,
                   default_namespace=lessons.namespace(m.lesson))
    for line in m.delete:
        api_version, kind, name, *ns = line.split()
        kube.delete(api_version, kind, name, ns[0] if ns else None)
    if m.action == "stop-karpenter":
        karpenter.stop()


def _undo(m: Mistake, namespaces_before: set[str]) -> None:
    """Take back what the mistake changed outside the lesson (reset does the rest)."""
    ns = lessons.namespace(m.lesson)
    for obj in m.objects:
        meta = obj["metadata"]
        if meta.get("namespace") not in (None, ns) and meta["namespace"] not in namespaces_before:
            kube.delete("v1", "Namespace", meta["namespace"])
        elif obj["kind"] == "NodePool" and meta["name"] not in lessons.nodepools(m.lesson):
            # Applying only the identity releases the fields this manager took, which
            # removes them; `make up` below then restores the platform's values.
            kube.apply([{"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                         "metadata": {"name": meta["name"]}}], field_manager=MANAGER)
    # Setup from another lesson (its leftovers in this lesson's way): that lesson's reset.
    for other in sorted({int(e.split(".")[0]) for e in m.setup} - {m.lesson}):
        lessons.reset(other)
    if m.action or m.delete or m.lesson == 0:
        lifecycle.up()


def _check_rejected(m: Mistake) -> None:
    """A mistake the API itself refuses: what the learner reads is the API's reason."""
    try:
        kube.apply([dict(o) for o in m.objects], field_manager=MANAGER,
                   default_namespace=lessons.namespace(m.lesson))
    except WorkshopError as exc:
        assert m.rejected.lower() in exc.message.lower(), f"{m}: {exc.message}"
        assert exc.fix, f"{m}: the rejection gives no fix"
        return
    raise AssertionError(f"{m}: the API accepted what it should refuse ({m.rejected})")


def check_mistake(m: Mistake, monkeypatch) -> None:
    lessons.reset(m.lesson)
    if m.rejected:
        return _check_rejected(m)
    before = {n["metadata"]["name"] for n in kube.list_("v1", "Namespace")}
    try:
        if m.action == "no-cluster":
            # What a learner sees before `make up`: no kubeconfig at all.
            monkeypatch.setenv("WORKSHOP_KUBECONFIG", str(REPO / ".no-such-kubeconfig"))
        _apply_mistake(m)
        results = grade_checks(m.exercise, [e["check"] for e in m.expect])
    finally:
        monkeypatch.delenv("WORKSHOP_KUBECONFIG", raising=False)
        _undo(m, before)
    for e in m.expect:
        r = results[e["check"]]
        shown = f"{m}: {r.id} {r.status.value}: found={r.found!r} hint={r.hint!r} event={r.event!r}"
        want = e.get("status")
        if want == "pass":
            assert r.status is grading.Status.PASS, shown
            assert e["says"].lower() in r.found.lower(), shown
            continue
        assert r.status is not grading.Status.PASS, shown
        if want:
            assert r.status.value == want, shown
        assert e["says"].lower() in r.hint.lower(), shown
        if "event" in e:
            assert r.event and e["event"].lower() in r.event.lower(), shown


def check_start_state(n: int) -> grading.Report:
    """After a reset nothing passes, and every result says what to do."""
    lessons.reset(n)
    report = lessons.grade(n)
    for ex in report.exercises:
        assert not all(r.status is grading.Status.PASS for r in ex.results), ex.id
    for r in report.results:
        assert r.status is not grading.Status.PASS, r
        assert r.hint, f"{r.id} gives no hint"
    return report


def check_solution(n: int) -> None:
    lessons.reset(n)
    reports = lessons.solve(n)
    assert [r.exercises[0].id for r in reports] == [e.id for e in grading.get_lesson(n).exercises]
    for report in reports:
        assert report.passed, grading.render_text(report)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def check_json(*args: str, env: dict | None = None) -> tuple[int, dict]:
    """`workshop check ... --json`: exactly one JSON object on stdout, and the exit code."""
    result = cli("check", *args, "--json", env=env)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return result.returncode, json.loads(lines[0])


# Tests every lesson module shares: `from lesson_harness import test_...` in a module with
# LESSON = N makes pytest collect them there, for that lesson.


def test_reference_solution_passes(cluster, request):
    check_solution(request.module.LESSON)


def test_mistake_is_diagnosed(cluster, mistake, monkeypatch):
    check_mistake(mistake, monkeypatch)
