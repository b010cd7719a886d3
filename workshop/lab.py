"""The notebook surface: `from workshop.lab import *` in a lesson's first cell.

    use_lesson(1)                 # default namespace lesson-01 for %%apply
    %%apply 1.1                   # a cell of YAML, applied server-side (exercise id optional)
    check("1.1")                  # grade an exercise; shows a table, returns the Report
    show.nodes(); show.pods()     # small tables: instance type, zone, capacity, pool, price
    wait_for.pods(5, app="inflate"); wait_for.no_nodes(pool="team-payments")

Solution mode (WORKSHOP_SOLUTIONS=1, used by CI through nbval): an `%%apply N.M` cell
applies exercise N.M's reference solution instead of its body, and check() raises unless
everything passes, so notebooks and solutions cannot drift apart.

Errors a learner causes (broken YAML, an API rejection, the cluster being down) print as
a short message with the fix, never a traceback; the cell's text is never touched.
"""

from __future__ import annotations

import getpass
import html
import os
import shlex
import time

from . import grading, kube, lessons, observe
from .errors import WorkshopError

__all__ = ["use_lesson", "check", "apply_yaml", "show", "wait_for", "solution_mode"]

_state = {"lesson": None}


def solution_mode() -> bool:
    return os.environ.get("WORKSHOP_SOLUTIONS", "") not in ("", "0", "false")


def field_manager() -> str:
    # Named for the learner, so `kubectl get -o yaml --show-managed-fields` says who set what.
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "learner"
    return f"learner-{user}"[:128]


def use_lesson(n: int) -> None:
    """Set the lesson whose namespace %%apply uses by default."""
    _state["lesson"] = n
    _display_html(f"<b>Lesson {n:02d}</b>: objects without a namespace go to "
                  f"<code>{lessons.namespace(n)}</code>.")


def _default_namespace(exercise: str | None) -> str:
    if exercise:
        return lessons.namespace(int(exercise.split(".")[0]))
    if _state["lesson"] is not None:
        return lessons.namespace(_state["lesson"])
    return "default"


# ---------------------------------------------------------------- display helpers


def _display_html(markup: str) -> None:
    try:
        from IPython.display import HTML, display
    except ImportError:  # plain Python: print the text content
        print(html.unescape(markup.replace("<br>", "\n")))
        return
    display(HTML(markup))


def _error_box(exc: WorkshopError) -> None:
    lines = [f"<b>✗ {html.escape(exc.message)}</b>"]
    if exc.detail:
        lines.append(f"<pre style='margin:4px 0'>{html.escape(exc.detail)}</pre>")
    if exc.fix:
        lines.append(f"<i>fix:</i> {html.escape(exc.fix)}")
    _display_html("<div style='border-left:4px solid #d33;padding:4px 8px'>"
                  + "<br>".join(lines) + "</div>")


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- apply


def apply_yaml(text: str, exercise: str | None = None, namespace: str | None = None,
               quiet: bool = False) -> list[kube.Applied]:
    """Apply YAML text (or, in solution mode with an exercise id, the reference solution)."""
    ns = namespace or _default_namespace(exercise)
    if exercise and solution_mode():
        applied = lessons.apply_solution(exercise, field_manager=field_manager())
    else:
        objs = kube.parse_manifests(text, source="this cell")
        if not objs:
            raise WorkshopError("this cell holds no YAML objects",
                                fix="write a manifest under the %%apply line")
        applied = kube.apply(objs, field_manager=field_manager(), default_namespace=ns)
    if not quiet:
        _display_html("<br>".join(html.escape(str(a)) for a in applied))
    return applied


def _apply_magic(line: str, cell: str) -> None:
    try:
        # shlex only splits the magic's own arguments; nothing is ever run by a shell.
        args = shlex.split(line)
    except ValueError as exc:
        _error_box(WorkshopError(f"cannot read the %%apply line: {exc}",
                                 fix="use `%%apply`, `%%apply 1.1` or `%%apply -n NAMESPACE`"))
        return
    exercise = namespace = None
    while args:
        arg = args.pop(0)
        if arg in ("-n", "--namespace") and args:
            namespace = args.pop(0)
        elif exercise is None and arg[:1].isdigit():
            exercise = arg
        else:
            _error_box(WorkshopError(f"unexpected %%apply argument `{arg}`",
                                     fix="use `%%apply`, `%%apply 1.1` or `%%apply -n NAMESPACE`"))
            return
    try:
        if exercise:
            grading.find_exercise(exercise)
        apply_yaml(cell, exercise=exercise, namespace=namespace)
    except grading.UnknownExercise as exc:
        _error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"))
    except WorkshopError as exc:
        _error_box(exc)
        if solution_mode():
            raise


# ---------------------------------------------------------------- check


def check(exercise: str, wait: bool = True) -> grading.Report | None:
    """Grade one exercise (e.g. "1.1") or a whole lesson ("1") and show the result."""
    handle = _live_handle()

    def progress(result: grading.Result) -> None:
        if handle and not result.final:
            handle.update(_html_obj(f"… checking <code>{html.escape(result.id)}</code>: "
                                    f"{html.escape(result.found)}"))

    try:
        report = lessons.grade(exercise, on_progress=progress, wait=wait)
    except grading.UnknownExercise as exc:
        _error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"))
        if solution_mode():
            raise
        return None
    if handle:
        handle.update(_html_obj(grading.render_html(report)))
    else:
        print(grading.render_text(report))
    if solution_mode() and not report.passed:
        raise AssertionError("solution mode: not every check passed\n"
                             + grading.render_text(report))
    return report


def _live_handle():
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:
            return None
        return display(_html_obj("… checking"), display_id=True)
    except ImportError:
        return None


def _html_obj(markup: str):
    from IPython.display import HTML

    return HTML(markup)


# ---------------------------------------------------------------- show / wait_for


class _Show:
    """Small tables of what the cluster did."""

    def nodes(self, pool: str | None = None) -> None:
        sel = f"{observe.NODEPOOL_LABEL}={pool}" if pool else None
        infos = sorted(observe.node_infos(sel).values(), key=lambda i: (i.nodepool, i.name))
        if not infos:
            _display_html("<i>no nodes yet</i>" + (f" in NodePool {html.escape(pool)}" if pool else ""))
            return
        rows = [[i.name[:40], i.instance_type, i.zone, i.capacity_type, i.arch, i.nodepool,
                 f"${i.price:.4f}/h" if i.price is not None else "-", i.cpu, i.memory,
                 i.gpus or "-", ", ".join(i.taints) or "-"] for i in infos]
        _display_html(_table(["node", "instance type", "zone", "capacity", "arch", "pool",
                              "price", "cpu", "memory", "gpus", "taints"], rows))

    def pods(self, namespace: str | None = None, app: str | None = None) -> None:
        ns = namespace or _default_namespace(None)
        rows = []
        for pod, info in observe.placement(ns, f"app={app}" if app else None):
            phase = "Ready" if observe.is_ready(pod) else pod["status"].get("phase", "?")
            why = observe.pending_reason(pod) if observe.is_pending(pod) else ""
            rows.append([pod["metadata"]["name"], phase,
                         info.instance_type if info else "-", info.nodepool if info else "-",
                         (why or "")[:160]])
        if not rows:
            _display_html(f"<i>no pods in {html.escape(ns)}</i>")
            return
        _display_html(_table(["pod", "status", "instance type", "pool", "why pending"], rows))

    def nodepools(self) -> None:
        rows = []
        for np in kube.list_("karpenter.sh/v1", "NodePool"):
            ready = kube.condition(np, "Ready") or {}
            limits = (np.get("spec") or {}).get("limits") or {}
            used = (np.get("status") or {}).get("resources") or {}
            rows.append([np["metadata"]["name"], ready.get("status", "?"),
                         ", ".join(f"{k}={v}" for k, v in limits.items()) or "-",
                         ", ".join(f"{k}={v}" for k, v in used.items() if k in ("cpu", "memory", "nvidia.com/gpu")) or "-"])
        _display_html(_table(["NodePool", "Ready", "limits", "in use"], rows))


class _WaitFor:
    """Waits that show progress while Karpenter works."""

    def pods(self, count: int, app: str | None = None, namespace: str | None = None,
             timeout_s: float = 90) -> None:
        ns = namespace or _default_namespace(None)
        handle = _live_handle()

        def tick(elapsed: float, ready: int) -> None:
            if handle:
                handle.update(_html_obj(f"… {ready}/{count} pods Ready ({elapsed:.0f}s)"))

        try:
            start = time.monotonic()
            observe.wait_pods_ready(ns, f"app={app}" if app else None, count, timeout_s, tick)
            msg = f"✓ {count} pods Ready after {time.monotonic() - start:.1f}s"
            handle.update(_html_obj(msg)) if handle else print(msg)
        except WorkshopError as exc:
            _error_box(WorkshopError(exc.message, fix="show.pods() says why pods are pending"))

    def no_nodes(self, pool: str | None = None, timeout_s: float = 120) -> None:
        sel = f"{observe.NODEPOOL_LABEL}={pool}" if pool else f"{observe.NODEPOOL_LABEL}"
        handle = _live_handle()
        start = time.monotonic()

        def tick(elapsed: float) -> None:
            if handle:
                handle.update(_html_obj(f"… {len(observe.nodes(sel))} nodes left ({elapsed:.0f}s)"))

        try:
            kube.wait_until(lambda: not observe.nodes(sel), timeout_s, 1, "the nodes to go", tick)
            msg = f"✓ no nodes left after {time.monotonic() - start:.1f}s"
            handle.update(_html_obj(msg)) if handle else print(msg)
        except WorkshopError as exc:
            _error_box(exc)


show = _Show()
wait_for = _WaitFor()


def _register_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.register_magic_function(_apply_magic, magic_kind="cell", magic_name="apply")


_register_magic()
