"""What a learner's laptop may send the board, checked strictly.

A report is `grading.to_json(report)` wrapped in an envelope with the time it was graded.
Anything else (wrong types, unknown statuses, huge strings) is refused with 422 and a
message, so the instructor's page never has to guess at what it shows.
"""

from __future__ import annotations

import re
import unicodedata

MAX_BODY = 64 * 1024  # a whole lesson's report is ~5 KB; 64 KB leaves room, not abuse
MAX_TEXT = 4000
MAX_NAME = 40
STATUSES = ("pass", "fail", "missing", "waiting", "error")
EXERCISE_ID = re.compile(r"^\d{1,3}\.[A-Za-z0-9_-]{1,20}$")


class Invalid(ValueError):
    """The request is not what the board accepts; str() says what is wrong."""


def learner_name(value) -> str:
    """A display name: plain text, 1-40 characters. Markup is refused (and the page shows
    every name as text anyway)."""
    if not isinstance(value, str):
        raise Invalid("name must be a string")
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise Invalid(f"name must be 1-{MAX_NAME} characters")
    if "<" in name or ">" in name:
        raise Invalid("name must be plain text (no < or >)")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise Invalid("name must not contain control characters")
    return name


def _text(obj: dict, key: str, where: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise Invalid(f"{where}.{key} must be a string")
    if len(value) > MAX_TEXT:
        raise Invalid(f"{where}.{key} is longer than {MAX_TEXT} characters")
    return value


def _int(obj: dict, key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
        raise Invalid(f"{where}.{key} must be a whole number 0-10000")
    return value


def _list(obj: dict, key: str, where: str, most: int) -> list:
    value = obj.get(key)
    if not isinstance(value, list) or len(value) > most:
        raise Invalid(f"{where}.{key} must be a list of at most {most}")
    return value


def report(value) -> dict:
    """A grading.to_json report, rebuilt from the keys the board knows (others dropped)."""
    if not isinstance(value, dict):
        raise Invalid("report must be an object")
    out = {"lesson": _int(value, "lesson", "report"), "score": _int(value, "score", "report"),
           "max": _int(value, "max", "report"), "exercises": []}
    for i, ex in enumerate(_list(value, "exercises", "report", 50)):
        where = f"exercises[{i}]"
        if not isinstance(ex, dict):
            raise Invalid(f"{where} must be an object")
        ex_id = _text(ex, "id", where)
        if not EXERCISE_ID.match(ex_id):
            raise Invalid(f"{where}.id must look like 1.2")
        checks = []
        for j, c in enumerate(_list(ex, "checks", where, 50)):
            cw = f"{where}.checks[{j}]"
            if not isinstance(c, dict):
                raise Invalid(f"{cw} must be an object")
            status = c.get("status")
            if status not in STATUSES:
                raise Invalid(f"{cw}.status must be one of {', '.join(STATUSES)}")
            check_id = _text(c, "id", cw)
            if not check_id or len(check_id) > 120:
                raise Invalid(f"{cw}.id must be 1-120 characters")
            checks.append({"id": check_id, "status": status, "points": _int(c, "points", cw),
                           **{k: _text(c, k, cw) for k in ("expected", "found", "hint", "object")}})
        out["exercises"].append({"id": ex_id, "title": _text(ex, "title", where),
                                 "checks": checks})
    return out


def envelope(value, now: float) -> tuple[float, dict]:
    """(graded_at, report) from a POSTed body; a clock ahead of the board's is pulled back."""
    if not isinstance(value, dict):
        raise Invalid("body must be a JSON object with `graded_at` and `report`")
    graded_at = value.get("graded_at")
    if not isinstance(graded_at, (int, float)) or isinstance(graded_at, bool) or graded_at <= 0:
        raise Invalid("graded_at must be a Unix time in seconds")
    return min(float(graded_at), now), report(value.get("report"))


def exercise_status(checks: list[dict]) -> str:
    """One cell of the grid: pass when every check passes, waiting while something is
    still on its way (and nothing failed), fail otherwise."""
    statuses = {c["status"] for c in checks}
    if statuses and statuses == {"pass"}:
        return "pass"
    if statuses and statuses <= {"pass", "waiting"}:
        return "waiting"
    return "fail"
