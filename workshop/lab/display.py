"""How the notebook surface shows things: HTML in Jupyter, plain text elsewhere, errors as a
short box with the fix, and a live line that a long check or wait keeps updating."""

from __future__ import annotations

import functools
import html
import re

from workshop.errors import WorkshopError
from workshop.grading import core as grading
from workshop.lab.session import solution_mode


def display_html(markup: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        # Plain Python (a script, a REPL): print the text, not "<HTML object>".
        text = re.sub(r"<br>|</tr>|</p>|</div>", "\n", markup)
        text = re.sub(r"</t[dh]>", "  ", text)
        print(html.unescape(re.sub(r"<[^>]+>", "", text)).strip())
        return
    display(HTML(markup))


def error_html(exc: WorkshopError) -> str:
    lines = [f"<b>✗ {html.escape(exc.message)}</b>"]
    if exc.detail:
        lines.append(f"<pre style='margin:4px 0'>{html.escape(exc.detail)}</pre>")
    if exc.fix:
        lines.append(f"<i>fix:</i> {html.escape(exc.fix)}")
    return ("<div style='border-left:4px solid #d33;padding:4px 8px'>"
            + "<br>".join(lines) + "</div>")


def error_box(exc: WorkshopError, handle=None) -> None:
    if handle is not None:  # replace a "… checking" line rather than leave it behind
        handle.update(html_obj(error_html(exc)))
    else:
        display_html(error_html(exc))


def table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class ShownReport(grading.Report):
    """The Report check() returns in a notebook. check() has already shown the table, so
    Jupyter's automatic display of the cell's last value (`check("1.1")` on its own line)
    must not show it a second time; displaying it in a later cell still works."""

    _shown_in: int | None = None

    @classmethod
    def of(cls, report: grading.Report) -> "ShownReport":
        shown = cls(report.lesson, report.exercises, report.title)
        shown._shown_in = execution_count()
        return shown

    def _ipython_display_(self) -> None:
        if self._shown_in is not None and self._shown_in == execution_count():
            return
        from IPython.display import display

        display(html_obj(grading.render_html(self)))


def execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return getattr(ip, "execution_count", None) if ip is not None else None


def live_handle():
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:
            return None
        return display(html_obj("… checking"), display_id=True)
    except ImportError:
        return None


def html_obj(markup: str):
    from IPython.display import HTML

    return HTML(markup)


def friendly(fn):
    """show.* and wait_for.*: a known problem (the cluster is down, ...) prints as a short
    message with its fix, never a traceback; solution mode (CI) still fails on it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WorkshopError as exc:
            error_box(exc)
            if solution_mode():
                raise
    return wrapper
