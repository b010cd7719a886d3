"""The lesson verbs without a cluster: every argument names something real or the verb
stops with a message and a non-zero exit; `progress` never writes the progress record;
the notebook's check() grades the lesson chosen with use_lesson()."""

from __future__ import annotations

import argparse

import pytest

from workshop import cli, lab
from workshop.lab import session
from workshop.cli import lessons as cli_lessons
from workshop.grading import core as grading, lessons
from workshop.k8s import kube


def no_cluster(*args, **kwargs):
    raise AssertionError("the verb touched the cluster before checking its arguments")


@pytest.fixture
def offline(monkeypatch):
    for name in ("require_cluster", "apply", "get", "list_", "delete"):
        monkeypatch.setattr(kube, name, no_cluster)
    monkeypatch.setattr(lessons, "_grade_live", no_cluster)


@pytest.mark.parametrize("argv, says", [
    (["solve", "1", "--exercise", "9.9"], "no exercise 9.9 in lesson 1 (it has 1.1, 1.2, 1.3)"),
    (["solve", "1", "--exercise", "2.1"], "exercise 2.1 belongs to lesson 2, not lesson 1"),
    (["solve", "1", "--exercise", "banana"], "no exercise banana in lesson 1"),
    (["solve", "2", "--exercise", "2.7"], "no exercise 2.7; lesson 2 has 2.1, 2.2"),
    (["solve", "one"], "`one` is not a lesson number"),
    (["solve", "42"], "no lesson 42"),
    (["check", "1", "--exercise", "2.2"], "exercise 2.2 belongs to lesson 2, not lesson 1"),
    (["check", "1", "--exercise", "1.9"], "no exercise 1.9; lesson 1 has 1.1, 1.2, 1.3"),
    (["check", "junk"], "`junk` is not a lesson number"),
    (["check", "42", "--exercise", "42.1"], "no lesson 42"),
    (["reset", "junk"], "`junk` is not a lesson number"),
    (["reset", "1.1"], "`1.1` is not a lesson number"),
    (["reset", "42"], "no lesson 42"),
])
def test_an_argument_that_names_nothing_stops_with_a_message(offline, capsys, argv, says):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "fix:" in err, err


def test_check_json_reports_the_error_as_one_object(offline, capsys):
    assert cli.main(["check", "1", "--exercise", "2.1", "--json"]) == 2
    assert capsys.readouterr().out.strip() == (
        '{"error": "exercise 2.1 belongs to lesson 2, not lesson 1 (lesson 1 has 1.1, 1.2, 1.3)"}')


def fake_report(lesson: int, passed: bool = True) -> grading.Report:
    status = grading.Status.PASS if passed else grading.Status.FAIL
    return grading.Report(lesson, [
        grading.ExerciseReport(ex.id, ex.title, [
            grading.Result(c.id, c.title, status, c.points if passed else 0, c.points)
            for c in ex.checks])
        for ex in grading.get_lesson(lesson).exercises])


def test_progress_reads_the_record_and_never_writes_it(monkeypatch, tmp_path, capsys):
    record = tmp_path / "progress.json"
    record.write_text('{"1.1": "09:00"}')
    monkeypatch.setattr(lessons, "PROGRESS_FILE", record)
    monkeypatch.setattr(kube, "require_cluster", lambda: None)
    monkeypatch.setattr(lessons, "_grade_live", lambda target, *a: fake_report(int(target)))
    before = record.read_bytes()
    assert cli_lessons._progress(argparse.Namespace(json=False)) == 0
    assert record.read_bytes() == before
    assert "1.1✓" in capsys.readouterr().out
    # Grading (check) records: the difference is on purpose.
    lessons.grade(2, wait=False)
    assert '"2.1"' in record.read_text()


def test_notebook_check_without_argument_grades_the_chosen_lesson(monkeypatch, capsys):
    asked = []

    def grade(target, on_progress=None, wait=True):
        asked.append(target)
        return fake_report(int(target))

    monkeypatch.setattr(lessons, "grade", grade)
    monkeypatch.setitem(session.SESSION, "lesson", 2)
    report = lab.check()
    assert asked == [2] and report.passed
    assert "Lesson 2" in capsys.readouterr().out


def test_notebook_check_without_argument_or_lesson_says_what_to_do(monkeypatch, capsys):
    monkeypatch.setattr(lessons, "grade", no_cluster)
    monkeypatch.setitem(session.SESSION, "lesson", None)
    monkeypatch.delenv("WORKSHOP_SOLUTIONS", raising=False)
    assert lab.check() is None
    out = capsys.readouterr().out
    assert "use_lesson(N)" in out


def test_use_lesson_lists_leftovers_and_stays_quiet_without_a_cluster(monkeypatch, capsys):
    monkeypatch.setattr(lessons, "leftovers", lambda besides: {
        2: ["NodePool team-payments (1 node)", "4 pods in lesson-02"]})
    lab.use_lesson(1)
    shown = capsys.readouterr().out
    assert "lesson 2: NodePool team-payments (1 node), 4 pods in lesson-02" in shown
    assert "make reset-lesson-2" in shown

    def down(besides):
        raise kube.ClusterNotRunning()

    monkeypatch.setattr(lessons, "leftovers", down)
    lab.use_lesson(1)
    assert capsys.readouterr().out.strip() == \
        "Lesson 01: objects without a namespace go to lesson-01."
