"""The one grading model: checks, results, the runner and the three renderers.

The CLI (`workshop check 1.1`), the notebooks and the tests all grade through this
module, so a learner sees the same verdict everywhere:

    lesson  ->  exercises  ->  checks
    Check.fn(ctx) returns an Outcome  ->  run() stamps id/title/points  ->  Result
    Report  ->  render_text() / render_html() / to_json() / exit_code()

Checks never talk to the cluster themselves here: `ctx` is opaque to this module and
is provided by the caller (a live API wrapper in the kit, a fake in the tests).

Five statuses, and what each one tells a learner:

    pass     the cluster matches the exercise
    fail     we looked and found something else
    missing  the object is not there (or we could not check it yet: see depends_on)
    waiting  not there *yet* (Karpenter is still working); polled until a deadline
    error    the cluster or the checker broke; the message says what to do

Exercises that undo earlier ones (`undoes=`). Some exercises take back, by design, the state
an earlier one asked for: lesson 1's 1.3 scales `inflate` to zero, which undoes the 5 Ready
replicas of 1.1 and 1.2. A lesson says so on the later exercise:

    Exercise("1.3", "Scale inflate to zero", [...], undoes=["1.1", "1.2"])

When a whole lesson is graded, carry_undone() shows an undone exercise as passed only if
it passed before (the progress record) AND an exercise declaring `undoes` for it passes
now. Nothing else is ever carried: any other earlier exercise that fails now shows as
failing. `undoes` names earlier exercises of the same lesson; anything else is an
authoring error raised when the lesson module is imported.
"""

from __future__ import annotations

import html
import importlib
import logging
import pkgutil
import re
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable

from workshop.errors import ClusterNotRunning, WorkshopError

log = logging.getLogger(__name__)

__all__ = [
    "Status", "Outcome", "Result", "passed", "failed", "missing", "waiting", "errored",
    "CheckError", "ClusterUnavailable", "Check", "Exercise", "Lesson",
    "UnknownExercise", "register", "get_lesson", "load_lesson", "find_exercise",
    "lesson_numbers", "ExerciseReport", "Report", "run", "render_text", "render_html",
    "to_json", "exit_code", "carry_undone",
]


# --------------------------------------------------------------------------- results


class Status(str, Enum):
    # A str Enum so `Status.PASS == "pass"` and json.dumps() work without converters.
    PASS = "pass"
    FAIL = "fail"
    MISSING = "missing"
    WAITING = "waiting"
    ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: a verdict without id/title/points.

    Check authors build these with passed()/failed()/missing()/waiting()/errored();
    the runner owns the bookkeeping (id, points) so checks stay short.
    """

    status: Status
    expected: str = ""
    found: str = ""
    hint: str = ""
    object: str = ""
    event: str | None = None


@dataclass(frozen=True)
class Result:
    """One graded check, as every renderer shows it."""

    id: str  # "1.1.replicas"
    title: str
    status: Status
    points: int  # earned: max_points on pass, else 0
    max_points: int
    expected: str = ""
    found: str = ""
    hint: str = ""
    object: str = ""  # "Deployment lesson-01/inflate .spec.replicas"
    event: str | None = None  # a quoted FailedScheduling / Karpenter event
    # False only for the interim "still waiting" results sent to on_progress while a
    # check polls, so a live display knows when to move on to the next line.
    final: bool = True


# Constructors for check authors.  Values are str()-ed so `passed(5, replicas)` works.
# Keyword `object` shadows the builtin on purpose: it is the word the course uses.


def passed(expected: Any, found: Any, object: str = "") -> Outcome:
    return Outcome(Status.PASS, str(expected), str(found), "", object)


def failed(expected: Any, found: Any, hint: str, object: str = "",
           event: str | None = None) -> Outcome:
    return Outcome(Status.FAIL, str(expected), str(found), hint, object, event)


def missing(expected: Any, hint: str, object: str = "") -> Outcome:
    return Outcome(Status.MISSING, str(expected), "not found", hint, object)


def waiting(expected: Any, found: Any, hint: str, object: str = "",
            event: str | None = None) -> Outcome:
    return Outcome(Status.WAITING, str(expected), str(found), hint, object, event)


def errored(message: str, hint: str) -> Outcome:
    # The message goes in `found`: it is what the checker ran into.
    return Outcome(Status.ERROR, "", message, hint)


class CheckError(Exception):
    """The cluster or the checker broke. `str()` says what happened, `hint` what to do."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


class ClusterUnavailable(CheckError):
    """Nothing further can be checked (API server down): the runner stops here."""


# -------------------------------------------------------------------------- structure

_EXERCISE_ID = re.compile(r"^(\d+)\.[A-Za-z0-9_-]+$")


@dataclass
class Check:
    id: str
    title: str
    fn: Callable[[Any], Outcome]
    points: int = 1
    # wait_s > 0: while fn returns `waiting`, call it again every poll_s seconds until
    # wait_s have passed (Karpenter needs tens of seconds to launch a node).
    wait_s: float = 0
    poll_s: float = 1.0
    # Ids of earlier checks in the same exercise that must pass before this one
    # means anything (no point checking pod placement if the NodePool is wrong).
    depends_on: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a check needs an id")
        if self.points < 0 or self.wait_s < 0 or self.poll_s <= 0:
            raise ValueError(f"check {self.id}: points/wait_s must be >= 0, poll_s > 0")


@dataclass
class Exercise:
    id: str  # "1.1": lesson number, dot, exercise
    title: str
    checks: list[Check]
    # Earlier exercises of this lesson whose state this one takes back by design (see the
    # module docstring): their recorded passes carry over only while this one passes.
    undoes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Authoring mistakes fail at import time (and in the lesson tests), not in
        # front of a learner halfway through a run.
        if not _EXERCISE_ID.match(self.id):
            raise ValueError(f"exercise id {self.id!r} must look like '1.1'")
        seen: set[str] = set()
        for check in self.checks:
            if check.id in seen:
                raise ValueError(f"exercise {self.id}: duplicate check id {check.id}")
            for dep in check.depends_on:
                if dep not in seen:
                    raise ValueError(f"exercise {self.id}: check {check.id} depends on "
                                     f"{dep}, which is not an earlier check here")
            seen.add(check.id)

    @property
    def lesson(self) -> int:
        return int(self.id.split(".", 1)[0])


@dataclass
class Lesson:
    number: int
    title: str
    exercises: list[Exercise]

    def __post_init__(self) -> None:
        ids = [ex.id for ex in self.exercises]
        if len(set(ids)) != len(ids):
            raise ValueError(f"lesson {self.number}: duplicate exercise ids in {ids}")
        for i, ex in enumerate(self.exercises):
            if ex.lesson != self.number:  # find_exercise("1.1") looks in lesson 1
                raise ValueError(f"exercise {ex.id} does not belong to lesson {self.number}")
            earlier = ids[:i]
            for undone in ex.undoes:
                if undone not in earlier:
                    raise ValueError(
                        f"exercise {ex.id} undoes {undone!r}, which is not an earlier exercise "
                        f"of lesson {self.number} (earlier: {', '.join(earlier) or 'none'})")


# --------------------------------------------------------------------------- registry


class UnknownExercise(ValueError):
    """A lesson or exercise id that does not exist; the message lists the valid ones."""


_LESSONS: dict[int, Lesson] = {}
_PACKAGE = "checks"  # lesson modules live in checks/lesson_00.py, checks/lesson_01.py ...


def register(lesson: Lesson) -> Lesson:
    """Make a lesson findable. Re-registering a number replaces the old lesson."""
    _LESSONS[lesson.number] = lesson
    return lesson


def _module_name(n: int) -> str:
    return f"{_PACKAGE}.lesson_{n:02d}"


def lesson_numbers() -> list[int]:
    """Lessons that exist: registered ones plus checks/lesson_NN.py modules on disk."""
    found = set(_LESSONS)
    try:
        pkg = importlib.import_module(_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name != _PACKAGE:
            raise
    else:
        for mod in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            m = re.fullmatch(r"lesson_(\d+)", mod.name)
            if m:
                found.add(int(m.group(1)))
    return sorted(found)


def _lessons_phrase() -> str:
    nums = lesson_numbers()
    if not nums:
        return "no lessons are installed"
    if len(nums) == 1:
        return f"the only lesson is {nums[0]}"
    if nums == list(range(nums[0], nums[-1] + 1)):
        return f"lessons are {nums[0]}–{nums[-1]}"
    return "lessons are " + ", ".join(map(str, nums))


def load_lesson(n: int) -> Lesson:
    """Import checks.lesson_NN, register its LESSON and return it."""
    name = _module_name(n)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only "that lesson does not exist" is the learner's problem; a lesson module
        # that itself imports something missing is a kit bug and must surface as such.
        if exc.name not in (_PACKAGE, name):
            raise
        raise UnknownExercise(f"no lesson {n}; {_lessons_phrase()}") from None
    lesson = getattr(module, "LESSON", None)
    if not isinstance(lesson, Lesson):
        raise TypeError(f"{name} must define LESSON = Lesson(...)")
    if lesson.number != n:
        raise ValueError(f"{name} defines lesson {lesson.number}, expected {n}")
    return register(lesson)


def get_lesson(n: int) -> Lesson:
    return _LESSONS.get(n) or load_lesson(n)


def find_exercise(exercise_id: str) -> Exercise:
    exercise_id = exercise_id.strip()
    m = _EXERCISE_ID.match(exercise_id)
    if not m:
        raise UnknownExercise(f"no exercise {exercise_id!r}; exercise ids look like 1.1")
    try:
        lesson = get_lesson(int(m.group(1)))
    except UnknownExercise:
        raise UnknownExercise(f"no exercise {exercise_id}; {_lessons_phrase()}") from None
    for ex in lesson.exercises:
        if ex.id == exercise_id:
            return ex
    ids = ", ".join(ex.id for ex in lesson.exercises) or "no exercises"
    raise UnknownExercise(f"no exercise {exercise_id}; lesson {lesson.number} has {ids}")


# ----------------------------------------------------------------------------- runner


@dataclass
class ExerciseReport:
    id: str
    title: str
    results: list[Result]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status is Status.PASS for r in self.results)


@dataclass
class Report:
    lesson: int
    exercises: list[ExerciseReport]
    title: str = ""  # the lesson title when a whole lesson was run

    @property
    def results(self) -> list[Result]:
        return [r for ex in self.exercises for r in ex.results]

    @property
    def score(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def max(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status is Status.PASS for r in self.results)

    @property
    def broken(self) -> bool:
        return any(r.status is Status.ERROR for r in self.results)

    def _repr_html_(self) -> str:  # Jupyter displays a Report as the HTML table
        return render_html(self)

    def __str__(self) -> str:
        return render_text(self, color=False)


class _Stop(Exception):
    """Internal: carries a ClusterUnavailable-style outcome out of the check loop."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome


def _call(check: Check, ctx: Any) -> Outcome:
    """Run one check once. Every failure mode becomes an Outcome, except a dead cluster."""
    try:
        outcome = check.fn(ctx)
    except ClusterUnavailable as exc:
        raise _Stop(errored(exc.message, exc.hint)) from None
    except ClusterNotRunning as exc:  # raised by the kit's API layer
        raise _Stop(errored(exc.message, exc.fix)) from None
    except CheckError as exc:
        return errored(exc.message, exc.hint)
    except WorkshopError as exc:  # any other known problem carries its own fix
        return errored(exc.message, exc.fix)
    except Exception as exc:
        # A bug in a check must not hide the rest of the report or show a traceback
        # to a learner. One line in the report; the traceback goes to the debug log.
        log.debug("check %s crashed", check.id, exc_info=True)
        what = f"{type(exc).__name__} {exc}".strip().splitlines()[0][:200]
        return errored(f"checker crashed: {what}", "this is a bug in the kit; tell the instructor")
    if not isinstance(outcome, Outcome):
        return errored(f"checker crashed: {check.id} returned {type(outcome).__name__}, "
                       "not an Outcome", "this is a bug in the kit; tell the instructor")
    return outcome


def _stamp(check: Check, outcome: Outcome, final: bool = True) -> Result:
    earned = check.points if outcome.status is Status.PASS else 0
    return Result(check.id, check.title, outcome.status, earned, check.points,
                  outcome.expected, outcome.found, outcome.hint, outcome.object,
                  outcome.event, final)


def _run_check(check: Check, ctx: Any, clock: Callable[[], float],
               sleep: Callable[[float], None],
               on_progress: Callable[[Result], None] | None) -> Outcome:
    start = clock()
    outcome = _call(check, ctx)
    # Only `waiting` is retried: fail/missing are answers, and polling them would make
    # a learner sit through the deadline for a mistake we have already found.
    while outcome.status is Status.WAITING and check.wait_s > 0:
        remaining = start + check.wait_s - clock()
        if remaining <= 0:
            elapsed = clock() - start
            note = f"still waiting after {elapsed:.0f}s"
            return replace(outcome, found=f"{outcome.found} ({note})" if outcome.found else note)
        if on_progress:
            on_progress(_stamp(check, outcome, final=False))
        sleep(min(check.poll_s, remaining))
        outcome = _call(check, ctx)
    return outcome


def run(target: Lesson | Exercise, ctx: Any, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[Result], None] | None = None) -> Report:
    """Grade a whole lesson or one exercise against `ctx` (passed as-is to every check).

    on_progress(result) is called with each final result as it is decided, and with
    interim results (result.final is False) while a check is still waiting.
    """
    if isinstance(target, Lesson):
        report = Report(target.number, [], target.title)
        exercises = target.exercises
    else:
        report = Report(target.lesson, [])
        exercises = [target]

    stopped: Outcome | None = None  # set once the cluster is gone
    for ex in exercises:
        results: list[Result] = []
        status_of: dict[str, Status] = {}
        for check in ex.checks:
            not_passed = [d for d in check.depends_on if status_of.get(d) is not Status.PASS]
            if stopped is not None:
                # Same message on every remaining check: one cause, one fix.
                outcome = stopped
            elif not_passed:
                # MISSING, not FAIL/WAITING/ERROR: we never looked, so "fail" would be
                # a false verdict, "waiting" would promise it resolves on its own, and
                # "error" would blame the cluster. The result is simply not there yet;
                # the hint points at the check to fix first.
                names = ", ".join(not_passed)
                outcome = Outcome(Status.MISSING, "", f"not checked: {names} did not pass",
                                  f"fix {names} first")
            else:
                try:
                    outcome = _run_check(check, ctx, clock, sleep, on_progress)
                except _Stop as stop:
                    stopped = outcome = stop.outcome
            result = _stamp(check, outcome)
            status_of[check.id] = result.status
            results.append(result)
            if on_progress:
                on_progress(result)
        report.exercises.append(ExerciseReport(ex.id, ex.title, results))
    return report


def carry_undone(report: Report, lesson: Lesson, done: dict[str, str]) -> Report:
    """`report` (a whole lesson's) with undone exercises shown as passed, where allowed.

    `done` maps exercise ids to when they last passed (the progress record). An exercise
    that fails now is carried only if it is in `done` and a later exercise that passes
    now declares `undoes` for it; its failing results become passes that say so.
    """
    by_id = {ex.id: ex for ex in lesson.exercises}
    passing_now = [ex.id for ex in report.exercises if ex.passed]
    exercises = list(report.exercises)
    for i, ex in enumerate(exercises):
        if ex.passed or ex.id not in done:
            continue
        undoers = [e for e in passing_now
                   if e in by_id and ex.id in by_id[e].undoes]
        if not undoers:
            continue
        note = (f"passed at {done[ex.id]}; {undoers[0]} undoes this state by design "
                "(accepted)")
        exercises[i] = replace(ex, results=[
            r if r.status is Status.PASS else replace(
                r, status=Status.PASS, points=r.max_points, found=note, hint="", event=None)
            for r in ex.results])
    return replace(report, exercises=exercises)


# -------------------------------------------------------------------------- renderers

SYMBOLS = {
    Status.PASS: "✓",
    Status.FAIL: "✗",
    Status.MISSING: "?",
    Status.WAITING: "…",
    Status.ERROR: "!",
}
# Mid-tone colours: readable on both dark and light backgrounds (terminal and Jupyter).
_ANSI = {Status.PASS: "32", Status.FAIL: "31", Status.MISSING: "33",
         Status.WAITING: "36", Status.ERROR: "35"}
_CSS = {Status.PASS: "#2da44e", Status.FAIL: "#e5534b", Status.MISSING: "#c69026",
        Status.WAITING: "#3b8eea", Status.ERROR: "#b65fd1"}


def _found_with_event(r: Result) -> str:
    return f"{r.found}\nevent: {r.event}" if r.event else r.found


def _summary(report: Report) -> str:
    n = len(report.results)
    ok = sum(r.status is Status.PASS for r in report.results)
    line = f"Score {report.score}/{report.max} — {ok} of {n} checks passed"
    if report.passed:
        return line + ". Well done!"
    if report.broken:
        return line + "; some could not be checked (!): do what they say, then run again."
    return line + "."


def render_text(report: Report, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    head = f"Lesson {report.lesson}" + (f" — {report.title}" if report.title else "")
    lines = [paint(head, "1")]
    for ex in report.exercises:
        lines += ["", paint(f"{ex.id}  {ex.title}", "1")]
        width = max((len(r.id) for r in ex.results), default=0)
        for r in ex.results:
            sym = paint(SYMBOLS[r.status], _ANSI[r.status])
            status = paint(f"{r.status.value:<7}", _ANSI[r.status])
            pts = paint(f"({r.points}/{r.max_points})", "2")
            lines.append(f"  {sym} {status}  {r.id:<{width}}  {r.title}  {pts}")
            if r.status is Status.PASS:
                # A pass with a remark ("accepted, but ...") still shows what was found.
                if "accepted" in r.found:
                    lines.append(f"      {paint('found    ', '2')}{r.found}")
                continue
            for label, value in (("object", r.object), ("expected", r.expected),
                                 ("found", r.found), ("event", r.event or ""),
                                 ("hint", r.hint)):
                if not value:
                    continue
                first, *rest = value.splitlines() or [""]
                lines.append(f"      {paint(f'{label:<9}', '2')}{first}")
                lines += [f"      {'':<9}{more}" for more in rest]
    lines += ["", paint(_summary(report), "1")]
    return "\n".join(lines)


def render_html(report: Report) -> str:
    e = html.escape
    # No backgrounds and `inherit` colours so the table follows JupyterLab's light or
    # dark theme; borders are a translucent grey that shows on both. Jupyter
    # right-aligns table cells by default, hence the explicit text-align.
    cell = "padding:4px 8px;text-align:left;vertical-align:top;white-space:pre-wrap;" \
           "border-bottom:1px solid rgba(128,128,128,0.35);background:transparent;color:inherit"
    head = f"Lesson {report.lesson}" + (f" — {report.title}" if report.title else "")
    rows = []
    for ex in report.exercises:
        rows.append(f'<tr><th colspan="5" style="{cell};font-weight:bold">'
                    f"{e(ex.id)} {e(ex.title)}</th></tr>")
        for r in ex.results:
            obj = (f'<br><small style="opacity:0.7">{e(r.object)}</small>'
                   if r.object else "")
            sym = (f'<span style="color:{_CSS[r.status]};font-weight:bold" '
                   f'title="{e(r.status.value)}">{e(SYMBOLS[r.status])} '
                   f"{e(r.status.value)}</span>")
            rows.append(
                "<tr>"
                f'<td style="{cell}">{e(r.title)} <small style="opacity:0.7">'
                f"({e(r.id)}, {r.points}/{r.max_points})</small>{obj}</td>"
                f'<td style="{cell}">{sym}</td>'
                f'<td style="{cell}">{e(r.expected)}</td>'
                f'<td style="{cell}">{e(_found_with_event(r))}</td>'
                f'<td style="{cell}">{e(r.hint)}</td>'
                "</tr>")
    header = "".join(f'<th style="{cell};font-weight:bold">{h}</th>'
                     for h in ("check", "status", "expected", "found", "hint"))
    return (
        '<div class="workshop-report" style="color:inherit;background:transparent">'
        f"<p style=\"font-weight:bold;margin:4px 0\">{e(head)}</p>"
        '<table style="border-collapse:collapse;background:transparent;color:inherit">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p style=\"margin:4px 0\">{e(_summary(report))}</p></div>"
    )


def to_json(report: Report) -> dict:
    """The `--json` shape. Exactly these keys: scripts and the instructor rely on them."""
    return {
        "lesson": report.lesson,
        "score": report.score,
        "max": report.max,
        "exercises": [
            {
                "id": ex.id,
                "title": ex.title,
                "checks": [
                    {
                        "id": r.id,
                        "status": r.status.value,
                        "points": r.points,
                        "expected": r.expected,
                        # The event rides along in `found` to keep the key set fixed.
                        "found": _found_with_event(r),
                        "hint": r.hint,
                        "object": r.object,
                    }
                    for r in ex.results
                ],
            }
            for ex in report.exercises
        ],
    }


def exit_code(report: Report) -> int:
    """0: all passed. 2: something broke (cluster or checker). 1: work left to do."""
    if report.broken:
        return 2
    return 0 if report.passed else 1
