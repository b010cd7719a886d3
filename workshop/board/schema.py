"""What a learner's laptop may send the board, checked strictly (pydantic models).

A report is `grading.to_json(report)` wrapped in an envelope with the time it was graded.
The body is parsed and validated in one pass by pydantic's JSON parser: malformed or deeply
nested JSON, NaN, infinities, wrong types and oversized strings or lists are refused with a
422 and a message, never a 500. Exercise and check ids must be the kit's own (`Kit`, read
from checks/lesson_NN.py through the grading layer's public API), so a made-up id can never
become a column on the instructor's page.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BODY = 64 * 1024  # a whole lesson's report is ~5 KB; 64 KB leaves room, not abuse
MAX_TEXT = 4000
MAX_NAME = 40
MAX_ITEMS = 50  # exercises per report, checks per exercise (the kit's largest has 14)
# graded_at: a report graded longer ago than this is refused (a laptop clock that is days
# off, or a replay); a clock ahead by up to MAX_AHEAD_S is pulled back to the board's.
MAX_AGE_S = 24 * 3600
MAX_AHEAD_S = 600
STATUSES = ("pass", "fail", "missing", "waiting", "error")


class Invalid(ValueError):
    """The request is not what the board accepts; str() says what is wrong."""


@dataclass(frozen=True)
class Kit:
    """The kit's exercises and their checks: the only ids a report may carry."""

    checks: dict[str, tuple[str, ...]]  # exercise id -> its check ids, in the kit's order

    @classmethod
    def from_lessons(cls) -> "Kit":
        """Read every lesson through the grading layer (checks/lesson_NN.py)."""
        from workshop.grading import core as grading

        checks: dict[str, tuple[str, ...]] = {}
        for n in grading.lesson_numbers():
            try:
                lesson = grading.get_lesson(n)
            except Exception:  # a broken lesson module must not keep the board from starting
                continue
            for ex in lesson.exercises:
                checks[ex.id] = tuple(c.id for c in ex.checks)
        return cls(checks)

    @property
    def exercises(self) -> list[str]:
        return list(self.checks)

    @property
    def lessons(self) -> set[int]:
        return {int(ex.split(".", 1)[0]) for ex in self.checks}


# ---------------------------------------------------------------- the models


class _Strict(BaseModel):
    # strict: no "5" for 5, no true for 1; unknown keys are dropped, not stored.
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Count = Annotated[int, Field(ge=0, le=10_000)]


class CheckIn(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=120)]
    status: Literal["pass", "fail", "missing", "waiting", "error"]
    points: Count
    expected: Text = ""
    found: Text = ""
    hint: Text = ""
    object: Text = ""


class ExerciseIn(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=24)]
    title: Text = ""
    checks: Annotated[list[CheckIn], Field(max_length=MAX_ITEMS)]


class ReportIn(_Strict):
    lesson: Annotated[int, Field(ge=0, le=999)]
    score: Count
    max: Count
    exercises: Annotated[list[ExerciseIn], Field(max_length=MAX_ITEMS)]


class Envelope(_Strict):
    graded_at: float
    report: ReportIn


class JoinIn(_Strict):
    name: Annotated[str, Field(max_length=200)]  # cleaned and bounded by learner_name


# ---------------------------------------------------------------- parsing


def _parse(model: type[_Strict], body: bytes) -> _Strict:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise Invalid(f"the body is not JSON ({first['msg'].removeprefix('Invalid JSON: ')})")
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(f"{where}: {first['msg']}") from None


def learner_name(value: str) -> str:
    """A display name: plain text, 1-40 characters. Markup is refused (and the page shows
    every name as text anyway)."""
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise Invalid(f"name must be 1-{MAX_NAME} characters")
    if "<" in name or ">" in name:
        raise Invalid("name must be plain text (no < or >)")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise Invalid("name must not contain control characters")
    return name


def join(body: bytes) -> str:
    """The cleaned learner name from a POST /api/join body."""
    return learner_name(_parse(JoinIn, body).name)


def envelope(body: bytes, now: float, kit: Kit) -> tuple[float, dict]:
    """(graded_at, report) from a POSTed body; a clock a little ahead is pulled back."""
    env = _parse(Envelope, body)
    if env.graded_at < now - MAX_AGE_S or env.graded_at > now + MAX_AHEAD_S:
        raise Invalid(f"graded_at must be within the last {MAX_AGE_S // 3600} hours "
                      "(is this laptop's clock right?)")
    report = env.report
    if report.lesson not in kit.lessons:
        raise Invalid(f"report.lesson: no lesson {report.lesson} in this kit")
    seen: set[str] = set()
    for i, ex in enumerate(report.exercises):
        known = kit.checks.get(ex.id)
        if known is None or ex.id.split(".", 1)[0] != str(report.lesson):
            raise Invalid(f"report.exercises.{i}.id: no exercise {ex.id!r} in lesson "
                          f"{report.lesson} of this kit")
        for j, c in enumerate(ex.checks):
            if c.id not in known or c.id in seen:
                raise Invalid(f"report.exercises.{i}.checks.{j}.id: {c.id!r} is not a check "
                              f"of exercise {ex.id}" + (" (twice)" if c.id in seen else ""))
            seen.add(c.id)
        if ex.id in seen:
            raise Invalid(f"report.exercises.{i}.id: exercise {ex.id} twice")
        seen.add(ex.id)
    return min(env.graded_at, now), report.model_dump()


def exercise_status(checks: list[dict]) -> str:
    """One cell of the grid: pass when every check passes, waiting while something is
    still on its way (and nothing failed), fail otherwise."""
    statuses = {c["status"] for c in checks}
    if statuses and statuses == {"pass"}:
        return "pass"
    if statuses and statuses <= {"pass", "waiting"}:
        return "waiting"
    return "fail"
