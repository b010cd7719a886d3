"""Unit tests for workshop.grading.core: fake checks only, no cluster."""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
import types

import pytest

from workshop.grading import core as g
from workshop.errors import ClusterNotRunning, WorkshopError

ANSI = re.compile(r"\x1b\[")


# ----------------------------------------------------------------------------- helpers


def ok(ctx):
    return g.passed(5, 5, object="Deployment lesson-01/inflate .spec.replicas")


def bad(ctx):
    return g.failed(5, 3, "look at .spec.replicas", object="Deployment lesson-01/inflate",
                    event='FailedScheduling: 0/1 nodes are available')


def absent(ctx):
    return g.missing("a NodePool named default", "did you apply nodepool.yaml?",
                     object="NodePool default")


def check(cid, fn, **kw):
    return g.Check(id=cid, title=f"title of {cid}", fn=fn, **kw)


def exercise(eid, *checks):
    return g.Exercise(eid, f"exercise {eid}", list(checks))


class FakeTime:
    """A clock that only moves when the runner sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def registry(monkeypatch):
    """An empty registry and a fake `checks` package in a temp dir."""
    monkeypatch.setattr(g, "_LESSONS", {})
    for name in list(sys.modules):
        if name == "checks" or name.startswith("checks."):
            monkeypatch.delitem(sys.modules, name)
    return monkeypatch


def fake_checks_package(monkeypatch, tmp_path, sources: dict[str, str]):
    for name, src in sources.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(src))
    # A package name of its own: the real `checks` package (and any of its lesson modules
    # already imported by other tests) must not leak into these lessons.
    name = f"fake_checks_{tmp_path.name.replace('-', '_')}"
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, name, pkg)
    monkeypatch.setattr(g, "_PACKAGE", name)
    importlib.invalidate_caches()


LESSON_SRC = """
    from workshop.grading.core import Check, Exercise, Lesson, passed
    LESSON = Lesson({n}, "lesson {n}", [
        Exercise("{n}.1", "first", [Check("{n}.1.a", "a", lambda ctx: passed(1, 1))]),
        Exercise("{n}.2", "second", []),
    ])
"""


# ---------------------------------------------------------------------- statuses/points


def test_statuses_and_points():
    ex = exercise("1.1", check("1.1.ok", ok, points=2), check("1.1.bad", bad),
                  check("1.1.absent", absent))
    report = g.run(ex, ctx=None)
    ok_r, bad_r, absent_r = report.exercises[0].results
    assert (ok_r.status, ok_r.points, ok_r.max_points) == (g.Status.PASS, 2, 2)
    assert (bad_r.status, bad_r.points, bad_r.max_points) == (g.Status.FAIL, 0, 1)
    assert (absent_r.status, absent_r.points) == (g.Status.MISSING, 0)
    assert bad_r.expected == "5" and bad_r.found == "3"  # values are str()-ed
    assert bad_r.hint == "look at .spec.replicas"
    assert bad_r.event.startswith("FailedScheduling")
    assert absent_r.found == "not found"
    assert (report.lesson, report.score, report.max) == (1, 2, 4)
    assert not report.passed and not report.broken


def test_ctx_is_passed_through_to_checks():
    seen = []
    g.run(exercise("1.1", check("1.1.a", lambda ctx: seen.append(ctx) or g.passed(1, 1))),
          ctx="the-context")
    assert seen == ["the-context"]


def test_status_is_a_string_enum():
    assert g.Status.WAITING == "waiting"
    assert json.dumps(g.Status.PASS) == '"pass"'


def test_all_pass():
    report = g.run(exercise("0.1", check("0.1.a", ok), check("0.1.b", ok)), None)
    assert report.passed and report.score == report.max == 2
    assert g.exit_code(report) == 0


# --------------------------------------------------------------------------- depends_on


def test_dependency_not_passed_skips_as_missing():
    calls = []

    def counted(ctx):
        calls.append(1)
        return g.passed(1, 1)

    ex = exercise("1.1", check("1.1.pool", bad),
                  check("1.1.pods", counted, depends_on=["1.1.pool"]),
                  check("1.1.chain", counted, depends_on=["1.1.pods"]),
                  check("1.1.free", counted))
    pool, pods, chain, free = g.run(ex, None).exercises[0].results
    assert pods.status is g.Status.MISSING
    assert pods.found == "not checked: 1.1.pool did not pass"
    assert "1.1.pool" in pods.hint
    assert chain.status is g.Status.MISSING  # a skipped check did not pass either
    assert chain.found == "not checked: 1.1.pods did not pass"
    assert free.status is g.Status.PASS
    assert len(calls) == 1  # only the independent check ran


def test_dependency_passed_runs():
    ex = exercise("1.1", check("1.1.a", ok), check("1.1.b", bad, depends_on=["1.1.a"]))
    assert [r.status for r in g.run(ex, None).results] == [g.Status.PASS, g.Status.FAIL]


def test_bad_dependencies_are_rejected_when_the_lesson_is_defined():
    with pytest.raises(ValueError, match="depends on 1.1.later"):
        exercise("1.1", check("1.1.a", ok, depends_on=["1.1.later"]), check("1.1.later", ok))
    with pytest.raises(ValueError, match="duplicate"):
        exercise("1.1", check("1.1.a", ok), check("1.1.a", ok))
    with pytest.raises(ValueError, match="does not belong"):
        g.Lesson(2, "two", [exercise("1.1")])


# ------------------------------------------------------------------------------- errors


def test_cluster_unavailable_stops_the_rest():
    calls = []

    def down(ctx):
        raise g.ClusterUnavailable("the cluster is not running — run `make up`")

    def counted(ctx):
        calls.append(1)
        return g.passed(1, 1)

    lesson = g.Lesson(1, "one", [
        exercise("1.1", check("1.1.a", ok), check("1.1.b", down), check("1.1.c", counted)),
        exercise("1.2", check("1.2.a", counted)),
    ])
    report = g.run(lesson, None)
    statuses = [r.status for r in report.results]
    assert statuses == [g.Status.PASS, g.Status.ERROR, g.Status.ERROR, g.Status.ERROR]
    assert calls == []
    for r in report.results[1:]:
        assert r.found == "the cluster is not running — run `make up`"
    assert report.broken and g.exit_code(report) == 2


def test_workshop_cluster_not_running_also_stops_the_rest():
    def down(ctx):
        raise ClusterNotRunning()

    report = g.run(exercise("1.1", check("1.1.a", down), check("1.1.b", ok)), None)
    assert [r.status for r in report.results] == [g.Status.ERROR] * 2
    assert all("make up" in r.hint for r in report.results)


def test_check_error_is_an_error_result_and_the_run_continues():
    def broke(ctx):
        raise g.CheckError("cannot list NodeClaims: forbidden", "run `make up` again")

    def known(ctx):
        raise WorkshopError("port 8080 is taken", fix="stop the other port-forward")

    report = g.run(exercise("1.1", check("1.1.a", broke), check("1.1.k", known),
                            check("1.1.b", ok)), None)
    a, k, b = report.results
    assert (a.status, a.found, a.hint) == (g.Status.ERROR, "cannot list NodeClaims: forbidden",
                                           "run `make up` again")
    assert (k.status, k.found, k.hint) == (g.Status.ERROR, "port 8080 is taken",
                                           "stop the other port-forward")
    assert b.status is g.Status.PASS


def test_unexpected_exception_becomes_error_without_traceback():
    def crash(ctx):
        return {}["spec"]

    report = g.run(exercise("1.1", check("1.1.a", crash), check("1.1.b", ok)), None)
    r = report.results[0]
    assert r.status is g.Status.ERROR and r.points == 0
    assert r.found == "checker crashed: KeyError 'spec'"
    assert r.hint == "this is a bug in the kit; tell the instructor"
    assert report.results[1].status is g.Status.PASS
    everything = g.render_text(report) + g.render_html(report) + json.dumps(g.to_json(report))
    assert "Traceback" not in everything and 'File "' not in everything


def test_check_returning_garbage_is_a_kit_bug():
    r = g.run(exercise("1.1", check("1.1.a", lambda ctx: None)), None).results[0]
    assert r.status is g.Status.ERROR
    assert r.found.startswith("checker crashed:") and "NoneType" in r.found


# ------------------------------------------------------------------------------ waiting


def test_waiting_polls_until_deadline_then_reports_last_state():
    t = FakeTime()
    n = {"calls": 0}

    def pending(ctx):
        n["calls"] += 1
        return g.waiting("1 NodeClaim Ready", f"{n['calls']} launching", "Karpenter is working",
                         event="Launched nodeclaim default-abc")

    progress = []
    report = g.run(exercise("1.1", check("1.1.node", pending, wait_s=5, poll_s=2)), None,
                   clock=t.clock, sleep=t.sleep, on_progress=progress.append)
    r = report.results[0]
    assert t.sleeps == [2, 2, 1]  # last sleep is cut to the deadline
    assert n["calls"] == 4
    assert r.status is g.Status.WAITING and r.final
    assert r.found == "4 launching (still waiting after 5s)"
    assert r.event == "Launched nodeclaim default-abc"
    # interim updates for a live display, then the final result
    assert [p.final for p in progress] == [False, False, False, True]
    assert all(p.status is g.Status.WAITING for p in progress)
    assert g.exit_code(report) == 1


def test_check_that_passes_on_third_poll_passes():
    t = FakeTime()
    n = {"calls": 0}

    def eventually(ctx):
        n["calls"] += 1
        return g.passed(1, 1) if n["calls"] == 3 else g.waiting(1, 0, "wait")

    report = g.run(exercise("1.1", check("1.1.node", eventually, wait_s=60)), None,
                   clock=t.clock, sleep=t.sleep)
    assert n["calls"] == 3 and t.sleeps == [1.0, 1.0]
    assert report.results[0].status is g.Status.PASS and report.passed


def test_only_waiting_is_polled():
    t = FakeTime()
    report = g.run(exercise("1.1", check("1.1.a", absent, wait_s=30), check("1.1.b", bad, wait_s=30)),
                   None, clock=t.clock, sleep=t.sleep)
    assert t.sleeps == []
    assert [r.status for r in report.results] == [g.Status.MISSING, g.Status.FAIL]


def test_waiting_without_wait_s_is_reported_once():
    t = FakeTime()
    r = g.run(exercise("1.1", check("1.1.a", lambda c: g.waiting(1, 0, "h"))), None,
              clock=t.clock, sleep=t.sleep).results[0]
    assert t.sleeps == [] and r.status is g.Status.WAITING and r.found == "0"


def test_cluster_going_away_while_polling_stops_everything():
    t = FakeTime()
    n = {"calls": 0}

    def flaky(ctx):
        n["calls"] += 1
        if n["calls"] == 2:
            raise g.ClusterUnavailable("the cluster is not running — run `make up`")
        return g.waiting(1, 0, "wait")

    report = g.run(exercise("1.1", check("1.1.a", flaky, wait_s=10), check("1.1.b", ok)), None,
                   clock=t.clock, sleep=t.sleep)
    assert [r.status for r in report.results] == [g.Status.ERROR, g.Status.ERROR]


# --------------------------------------------------------------------------------- json


def test_json_shape_is_exact():
    ex = exercise("1.1", check("1.1.ok", ok), check("1.1.bad", bad, points=3))
    data = g.to_json(g.run(ex, None))
    json.dumps(data)  # serialisable as-is
    assert set(data) == {"lesson", "score", "max", "exercises"}
    assert (data["lesson"], data["score"], data["max"]) == (1, 1, 4)
    assert all(type(data[k]) is int for k in ("lesson", "score", "max"))
    [ex_json] = data["exercises"]
    assert set(ex_json) == {"id", "title", "checks"}
    assert (ex_json["id"], ex_json["title"]) == ("1.1", "exercise 1.1")
    keys = {"id", "status", "points", "expected", "found", "hint", "object"}
    for c in ex_json["checks"]:
        assert set(c) == keys
        assert type(c["points"]) is int
        assert all(type(c[k]) is str for k in keys - {"points"})
    good, wrong = ex_json["checks"]
    assert good == {"id": "1.1.ok", "status": "pass", "points": 1, "expected": "5",
                    "found": "5", "hint": "",
                    "object": "Deployment lesson-01/inflate .spec.replicas"}
    assert wrong["status"] == "fail" and wrong["points"] == 0
    # the event is folded into `found` as a second line
    assert wrong["found"] == "3\nevent: FailedScheduling: 0/1 nodes are available"


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize("fns, code", [
    ([ok, ok], 0),
    ([ok, bad], 1),
    ([ok, absent], 1),
    ([bad, lambda c: g.errored("API returned 500", "try again")], 2),
])
def test_exit_codes(fns, code):
    ex = exercise("1.1", *[check(f"1.1.c{i}", fn) for i, fn in enumerate(fns)])
    assert g.exit_code(g.run(ex, None)) == code


# ---------------------------------------------------------------------------- rendering


def mixed_report():
    lesson = g.Lesson(1, "Scaling up", [exercise(
        "1.1", check("1.1.ok", ok), check("1.1.bad", bad), check("1.1.absent", absent),
        check("1.1.err", lambda c: g.errored("API returned 500", "run `make status`")))])
    return g.run(lesson, None)


def test_text_without_colour():
    text = g.render_text(mixed_report(), color=False)
    assert not ANSI.search(text)
    assert text.splitlines()[0] == "Lesson 1 — Scaling up"
    for sym in "✓✗?!":
        assert sym in text
    assert re.search(r"✗ fail\s+1\.1\.bad\s+title of 1\.1\.bad\s+\(0/1\)", text)
    assert re.search(r"expected\s+5\n\s+found\s+3\n\s+event\s+FailedScheduling", text)
    assert "hint     look at .spec.replicas" in text
    assert "object   Deployment lesson-01/inflate" in text
    # passing checks show no detail lines
    ok_line = next(i for i, line in enumerate(text.splitlines()) if "1.1.ok" in line)
    assert "1.1.bad" in text.splitlines()[ok_line + 1]
    assert text.splitlines()[-1].startswith("Score 1/4")
    assert str(mixed_report()) == text


def test_text_with_colour():
    text = g.render_text(mixed_report(), color=True)
    assert ANSI.search(text)
    assert "\x1b[31m✗\x1b[0m" in text and "\x1b[32m✓\x1b[0m" in text
    assert re.sub(r"\x1b\[\d+m", "", text) == g.render_text(mixed_report(), color=False)


def test_waiting_symbol_and_summaries():
    r = g.run(exercise("1.1", check("1.1.w", lambda c: g.waiting(1, 0, "h"))), None)
    assert "… waiting" in g.render_text(r)
    assert g.render_text(g.run(exercise("1.1", check("1.1.a", ok)), None)).endswith("Well done!")
    assert "could not be checked" in g.render_text(mixed_report())


def test_html_escapes_everything():
    evil = "<script>alert(1)</script>"
    ex = exercise("1.1", g.Check("1.1.x", evil, lambda c: g.failed(evil, evil, evil, evil, evil)))
    report = g.run(ex, None)
    out = g.render_html(report)
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert out.startswith("<div") and out.endswith("</div>") and "<table" in out
    assert report._repr_html_() == out


def test_html_content_and_theme_neutral():
    out = g.render_html(mixed_report())
    for header in ("check", "status", "expected", "found", "hint"):
        assert f">{header}</th>" in out
    assert "✗ fail" in out and "event: FailedScheduling" in out
    assert "Score 1/4" in out
    # no hard-coded page colours that would clash with a dark or light theme
    assert "background:#" not in out and "background-color" not in out
    assert "color:inherit" in out


# ----------------------------------------------------------------------------- registry


def test_register_and_find(registry):
    lesson = g.register(g.Lesson(1, "one", [exercise("1.1", check("1.1.a", ok)),
                                            exercise("1.2"), exercise("1.3")]))
    assert g.get_lesson(1) is lesson
    assert g.find_exercise("1.2") is lesson.exercises[1]
    assert g.find_exercise(" 1.1 ") is lesson.exercises[0]
    with pytest.raises(g.UnknownExercise) as err:
        g.find_exercise("1.9")
    assert str(err.value) == "no exercise 1.9; lesson 1 has 1.1, 1.2, 1.3"


def test_unknown_lesson_lists_lessons(registry, tmp_path):
    fake_checks_package(registry, tmp_path, {
        f"lesson_{n:02d}": LESSON_SRC.format(n=n) for n in range(3)})
    with pytest.raises(g.UnknownExercise) as err:
        g.get_lesson(42)
    assert str(err.value) == "no lesson 42; lessons are 0–2"
    with pytest.raises(g.UnknownExercise) as err:
        g.find_exercise("9.9")
    assert str(err.value) == "no exercise 9.9; lessons are 0–2"
    with pytest.raises(g.UnknownExercise, match="look like 1.1"):
        g.find_exercise("banana")
    assert isinstance(err.value, ValueError)


def test_lessons_load_lazily_from_checks_package(registry, tmp_path):
    fake_checks_package(registry, tmp_path, {
        "lesson_00": LESSON_SRC.format(n=0), "lesson_02": LESSON_SRC.format(n=2)})
    assert g._LESSONS == {}
    ex = g.find_exercise("2.1")
    assert ex.title == "first" and f"{g._PACKAGE}.lesson_02" in sys.modules
    assert g.get_lesson(2) is g._LESSONS[2]  # loaded once, then served from the registry
    assert g.run(ex, None).passed
    with pytest.raises(g.UnknownExercise) as err:
        g.find_exercise("2.7")
    assert str(err.value) == "no exercise 2.7; lesson 2 has 2.1, 2.2"
    with pytest.raises(g.UnknownExercise) as err:
        g.get_lesson(1)
    assert str(err.value) == "no lesson 1; lessons are 0, 2"


def test_lesson_module_with_broken_import_is_not_unknown(registry, tmp_path):
    fake_checks_package(registry, tmp_path, {"lesson_03": "import no_such_module_xyz\n"})
    with pytest.raises(ModuleNotFoundError):
        g.get_lesson(3)


def test_no_checks_package_at_all(registry):
    # Point the loader at a package that cannot exist.
    registry.setattr(g, "_PACKAGE", "no_such_checks_package_xyz")
    with pytest.raises(g.UnknownExercise) as err:
        g.get_lesson(0)
    assert str(err.value) == "no lesson 0; no lessons are installed"


# ------------------------------------------------------------------- undoes / carrying


def lesson_with_undo(undoes=("1.1",)):
    return g.Lesson(1, "one", [
        exercise("1.1", check("1.1.a", ok), check("1.1.b", ok)),
        exercise("1.2", check("1.2.a", ok)),
        g.Exercise("1.3", "scale to zero", [check("1.3.a", ok)], undoes=list(undoes)),
    ])


def graded(lesson, failing: set[str]):
    """Run `lesson` with the checks in `failing` failing (a fake cluster state)."""
    def swap(c):
        return g.Check(c.id, c.title, bad if c.id in failing else ok)
    lesson = g.Lesson(lesson.number, lesson.title, [
        g.Exercise(e.id, e.title, [swap(c) for c in e.checks], e.undoes)
        for e in lesson.exercises])
    return g.run(lesson, None, clock=FakeTime().clock, sleep=FakeTime().sleep)


def test_undone_exercise_is_carried_only_while_its_undoer_passes():
    lesson = lesson_with_undo()
    report = graded(lesson, {"1.1.b"})
    carried = g.carry_undone(report, lesson, {"1.1": "10:00"})
    first = carried.exercises[0]
    assert first.passed and carried.passed
    assert first.results[0].found == "5"  # a live pass is left as it was
    assert first.results[1].found == "passed at 10:00; 1.3 undoes this state by design (accepted)"
    assert "accepted" in g.render_text(carried)
    # The undoing exercise fails now: nothing is carried.
    report = graded(lesson, {"1.1.b", "1.3.a"})
    assert not g.carry_undone(report, lesson, {"1.1": "10:00"}).exercises[0].passed


def test_never_passed_or_undeclared_exercises_show_their_failure():
    lesson = lesson_with_undo(undoes=["1.1"])
    report = graded(lesson, {"1.1.a", "1.2.a"})
    # 1.1 never passed before: it is not carried, even though 1.3 undoes it.
    assert not g.carry_undone(report, lesson, {}).exercises[0].passed
    # 1.2 passed before and a later exercise passes, but nothing declares it undone.
    carried = g.carry_undone(report, lesson, {"1.1": "10:00", "1.2": "10:01"})
    assert carried.exercises[0].passed
    second = carried.exercises[1].results[0]
    assert second.status is g.Status.FAIL and second.hint == "look at .spec.replicas"
    assert not carried.passed


def test_undoes_must_name_an_earlier_exercise_of_the_lesson():
    for wrong in (["1.3"], ["1.4"], ["2.1"], ["1.1", "1.9"]):
        with pytest.raises(ValueError, match="not an earlier exercise of lesson 1"):
            lesson_with_undo(undoes=wrong)
