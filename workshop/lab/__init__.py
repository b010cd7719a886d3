"""The notebook surface: `from workshop.lab import *` in a lesson's first cell.

    use_lesson(1)                 # default namespace lesson-01 for %%apply
    %%apply 1.1                   # a cell of YAML, applied server-side (exercise id optional)
    check("1.1")                  # grade an exercise; shows a table, returns the Report
    show.nodes(); show.pods()     # small tables: instance type, zone, capacity, pool, price
    show.nodeclaims(); show.events()   # what Karpenter launched, and the story in events
    show.offerings(pool=..., cpu="5", memory="5Gi")   # the catalog: why this instance type
    show.usage("team-a"); show.gpu_offerings(pool=...)  # usage against limits; GPU prices
    show.status()                 # the local processes (control plane, kwok, Karpenter)
    show.spread(app="web")        # pods per zone, with their nodes
    wait_for.pods(5, app="inflate"); wait_for.no_nodes(pool="team-payments")
    viewer()                      # live nodes, pools, prices and pending pods (watches)
    explain("inflate")            # why this node (or why Pending), pool by pool
    node = wait_for.node(pool="agent-ready"); remove_taint(node, "example.com/agent-not-ready")

Solution mode (WORKSHOP_SOLUTIONS=1, used by CI through nbval): an `%%apply N.M` cell
applies exercise N.M's reference solution instead of its body (`%%apply N.M-2`: only its
step 2, solutions/lesson-NN/N.M-2.yaml), and check() raises unless everything passes, so
notebooks and solutions cannot drift apart.

Errors a learner causes (broken YAML, an API rejection, the cluster being down) print as
a short message with the fix, never a traceback; the cell's text is never touched.
"""

from __future__ import annotations

import getpass
import html
import os
import re
import shlex
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from workshop.grading import core as grading, lessons
from workshop.k8s import kube, observe
from workshop.lab import explain as _explain
from workshop.lab import viewer as _viewer
from workshop.errors import WorkshopError

__all__ = ["use_lesson", "check", "apply_yaml", "show", "wait_for", "remove_taint",
           "solution_mode", "viewer", "explain"]

_state: dict = {"lesson": None, "applied_at": None}


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
                  f"<code>{lessons.namespace(n)}</code>." + _leftovers_note(n))


def _leftovers_note(n: int) -> str:
    """What other lessons left in the cluster (it can take room this lesson's pods would
    get), with the command that clears each; nothing when the cluster is not up yet."""
    try:
        left = lessons.leftovers(besides=n)
    except WorkshopError:
        return ""
    if not left:
        return ""
    items = "".join(f"<li>lesson {m}: {html.escape(', '.join(what))} — "
                    f"<code>make reset-lesson-{m}</code> clears it</li>"
                    for m, what in sorted(left.items()))
    return ("<br>Other lessons left these in the cluster; their nodes' spare room can take "
            f"this lesson's pods:<ul style='margin:2px 0'>{items}</ul>")


def _default_namespace(exercise: str | None) -> str:
    if exercise:
        return lessons.namespace(int(exercise.split(".")[0]))
    if _state["lesson"] is not None:
        return lessons.namespace(_state["lesson"])
    return "default"


# ---------------------------------------------------------------- display helpers


def _display_html(markup: str) -> None:
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


def _error_html(exc: WorkshopError) -> str:
    lines = [f"<b>✗ {html.escape(exc.message)}</b>"]
    if exc.detail:
        lines.append(f"<pre style='margin:4px 0'>{html.escape(exc.detail)}</pre>")
    if exc.fix:
        lines.append(f"<i>fix:</i> {html.escape(exc.fix)}")
    return ("<div style='border-left:4px solid #d33;padding:4px 8px'>"
            + "<br>".join(lines) + "</div>")


def _error_box(exc: WorkshopError, handle=None) -> None:
    if handle is not None:  # replace a "… checking" line rather than leave it behind
        handle.update(_html_obj(_error_html(exc)))
    else:
        _display_html(_error_html(exc))


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- apply


def apply_yaml(text: str, exercise: str | None = None, namespace: str | None = None,
               quiet: bool = False, step: int | None = None) -> list[kube.Applied]:
    """Apply YAML text (or, in solution mode with an exercise id, the reference solution:
    all of it, or only `step` of an exercise done in steps)."""
    ns = namespace or _default_namespace(exercise)
    if exercise and solution_mode():
        applied = lessons.apply_solution(exercise, field_manager=field_manager(), step=step)
    else:
        objs = kube.parse_manifests(text, source="this cell")
        if not objs:
            raise WorkshopError("this cell holds no YAML objects",
                                fix="write a manifest under the %%apply line")
        applied = kube.apply(objs, field_manager=field_manager(), default_namespace=ns)
    _state["applied_at"] = datetime.now(timezone.utc)  # show.events() starts here
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
    exercise = namespace = step = None
    while args:
        arg = args.pop(0)
        if arg in ("-n", "--namespace") and args:
            namespace = args.pop(0)
        elif exercise is None and arg[:1].isdigit():
            # `7.1-2`: step 2 of exercise 7.1 (its solution file 7.1-2.yaml).
            exercise, _, number = arg.partition("-")
            step = int(number) if number.isdigit() else None
        else:
            _error_box(WorkshopError(f"unexpected %%apply argument `{arg}`",
                                     fix="use `%%apply`, `%%apply 1.1` or `%%apply -n NAMESPACE`"))
            return
    try:
        if exercise:
            grading.find_exercise(exercise)
        apply_yaml(cell, exercise=exercise, namespace=namespace, step=step)
    except grading.UnknownExercise as exc:
        _error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"))
    except WorkshopError as exc:
        _error_box(exc)
        if solution_mode():
            raise


# ---------------------------------------------------------------- check


def check(exercise: str | int | None = None, wait: bool = True) -> grading.Report | None:
    """Grade one exercise (e.g. "1.1") or a whole lesson ("1") and show the result.

    With no argument: the whole lesson chosen with use_lesson(N).
    """
    if exercise is None:
        exercise = _state["lesson"]
    if exercise is None:
        _error_box(WorkshopError("check() needs to know what to grade",
                                 fix='call use_lesson(N) first, or name it: check("1.1")'))
        if solution_mode():
            raise TypeError("check() without an argument needs use_lesson(N) first")
        return None
    handle = _live_handle()

    def progress(result: grading.Result) -> None:
        if handle and not result.final:
            handle.update(_html_obj(f"… checking <code>{html.escape(result.id)}</code>: "
                                    f"{html.escape(result.found)}"))

    try:
        report = lessons.grade(exercise, on_progress=progress, wait=wait)
    except grading.UnknownExercise as exc:
        _error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"), handle)
        if solution_mode():
            raise
        return None
    if handle:
        handle.update(_html_obj(grading.render_html(report)))
        report = _ShownReport.of(report)
    else:
        print(grading.render_text(report))
    if solution_mode() and not report.passed:
        raise AssertionError("solution mode: not every check passed\n"
                             + grading.render_text(report))
    return report


class _ShownReport(grading.Report):
    """The Report check() returns in a notebook. check() has already shown the table, so
    Jupyter's automatic display of the cell's last value (`check("1.1")` on its own line)
    must not show it a second time; displaying it in a later cell still works."""

    _shown_in: int | None = None

    @classmethod
    def of(cls, report: grading.Report) -> "_ShownReport":
        shown = cls(report.lesson, report.exercises, report.title)
        shown._shown_in = _execution_count()
        return shown

    def _ipython_display_(self) -> None:
        if self._shown_in is not None and self._shown_in == _execution_count():
            return
        from IPython.display import display

        display(_html_obj(grading.render_html(self)))


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return getattr(ip, "execution_count", None) if ip is not None else None


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


def _friendly(fn):
    """show.* and wait_for.*: a known problem (the cluster is down, ...) prints as a short
    message with its fix, never a traceback; solution mode (CI) still fails on it."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WorkshopError as exc:
            _error_box(exc)
            if solution_mode():
                raise
    return wrapper


class _Show:
    """Small tables of what the cluster did."""

    @_friendly
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

    @_friendly
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

    @_friendly
    def spread(self, app: str | None = None, namespace: str | None = None) -> None:
        """Pods per zone, with the nodes they run on (every zone listed, empty ones too)."""
        from workshop.instances.catalog import ZONES

        ns = namespace or _default_namespace(None)
        rows = [[d.name, d.pods - d.pending, d.pending or "-", len(d.nodes),
                 ", ".join(n[:40] for n in d.nodes) or "-"]
                for d in observe.spread(ns, f"app={app}" if app else None, domains=ZONES)]
        _display_html(_table(["zone", "pods Ready", "not Ready", "nodes", "node names"], rows))

    @_friendly
    def nodepools(self) -> None:
        rows = []
        for np in kube.list_("karpenter.sh/v1", "NodePool"):
            ready = kube.condition(np, "Ready") or {}
            limits = (np.get("spec") or {}).get("limits") or {}
            used = (np.get("status") or {}).get("resources") or {}
            rows.append([np["metadata"]["name"], _pool_readiness(np, ready),
                         ", ".join(f"{k}={v}" for k, v in limits.items()) or "-",
                         ", ".join(f"{k}={v}" for k, v in used.items() if k in ("cpu", "memory", "nvidia.com/gpu")) or "-"])
        _display_html(_table(["NodePool", "Ready", "limits", "in use"], rows))


    @_friendly
    def usage(self, pool: str) -> None:
        """A NodePool's usage against its limits (CPU, memory, GPUs): what Karpenter counts
        (`status.resources`: on EKS the instances' full capacity) and the nodes behind it."""
        from workshop.builders import limits as limit_checks

        usage = observe.pool_usage(pool)
        if usage is None:
            _pool_requirements(pool)  # raises "there is no NodePool ..." with the list
            return
        nodes = ", ".join(f"{n} × {t}" for t, n in sorted(usage.instance_types.items()))
        weight = "no weight (0)" if usage.weight is None else f"weight {usage.weight}"
        _display_html(f"NodePool <code>{html.escape(pool)}</code>, {html.escape(weight)}: "
                      f"{html.escape(nodes or 'no nodes')}"
                      + _table(["resource", "in use", "limit", "left"],
                               limit_checks.usage_rows(usage)))

    @_friendly
    def gpu_offerings(self, pool: str | None = None, top: int = 8) -> None:
        """NVIDIA GPU instance types (of a NodePool, or the whole catalog), cheapest per GPU
        first, on-demand, and what the pool costs an hour at its GPU limit."""
        from workshop.instances import catalog as catalog_mod
        from workshop.instances import gpu_cost

        reqs = _pool_requirements(pool) if pool else []
        offers = gpu_cost.gpu_offers(catalog_mod.load_catalog(), reqs)
        rows = [[o.instance_type, o.gpu_name, o.gpus, f"{o.gpu_memory_mib} MiB", o.vcpu,
                 f"${o.price:.3f}/h", f"${o.per_gpu:.3f}/h"] for o in offers[:top]]
        text = (f"NodePool <code>{html.escape(pool)}</code> admits" if pool
                else "The catalog has") + f" {len(offers)} NVIDIA GPU instance types."
        limit = ((kube.get("karpenter.sh/v1", "NodePool", pool) or {}).get("spec", {})
                 .get("limits", {}).get(observe.GPU_RESOURCE)) if pool else None
        if limit is not None and offers:
            n = int(str(limit))
            least, _ = gpu_cost.cost_at_limit(offers, n)
            most, mix = gpu_cost.cost_at_limit(offers, n, most=True)
            shown = ", ".join(f"{k} × {t}" for t, k in Counter(mix).most_common())
            text += (f" At its limit of {n} GPUs it costs ${least:.2f}/h at the least, and up "
                     f"to ${most:.2f}/h ({html.escape(shown)}).")
        _display_html(text + _table(["instance type", "GPU", "GPUs", "memory per GPU", "vCPU",
                                     "on-demand", "per GPU"], rows))

    @_friendly
    def nodeclaims(self, pool: str | None = None) -> None:
        """Karpenter's NodeClaims: what it launched, for which pool, and how far it got."""
        from workshop.k8s import disruption

        rows = []
        pools = {p["metadata"]["name"]: p for p in kube.list_("karpenter.sh/v1", "NodePool")}
        for nc in sorted(observe.nodeclaims(pool), key=lambda c: c["metadata"]["name"]):
            labels = nc["metadata"].get("labels") or {}
            status = nc.get("status") or {}
            owner = labels.get(observe.NODEPOOL_LABEL, "-")
            rows.append([nc["metadata"]["name"], owner,
                         labels.get("node.kubernetes.io/instance-type", "-"),
                         labels.get(observe.CAPACITY_LABEL, "-"),
                         labels.get("topology.kubernetes.io/zone", "-"),
                         _claim_state(nc), disruption.state(nc, pools.get(owner)),
                         (status.get("nodeName") or "-")[:40],
                         _age(nc["metadata"].get("creationTimestamp"))])
        if not rows:
            _display_html("<i>no NodeClaims</i>" + (f" for NodePool {html.escape(pool)}" if pool else ""))
            return
        _display_html(_table(["NodeClaim", "pool", "instance type", "capacity", "zone",
                              "state", "disruption", "node", "age"], rows))

    @_friendly
    def events(self, minutes: float | None = None, namespace: str | None = None) -> None:
        """The story so far, oldest first: the lesson's pods and Deployments, and Karpenter's
        NodeClaims, Nodes and NodePools. By default it starts at your last %%apply (or 5
        minutes ago); `minutes=10` looks further back. Repeats of the same event (e.g. five
        pods Nominated) are folded into one row."""
        ns = namespace or _default_namespace(None)
        now = datetime.now(timezone.utc)
        if minutes is None and _state["applied_at"] is not None:
            # Events carry whole seconds: start a little before the apply.
            since, start = _state["applied_at"] - timedelta(seconds=2), "your last %%apply"
        else:
            minutes = 5 if minutes is None else minutes
            since, start = now - timedelta(minutes=minutes), f"the last {minutes:g} minutes"
        evs = [e for e in _events(ns) if e[0] >= since]
        if ns != "default":
            evs += [e for e in _events("default") if e[0] >= since
                    and e[1].get("involvedObject", {}).get("kind") in ("NodeClaim", "Node", "NodePool")
                    and not _healthy_pool_event(e[1])]
        evs.sort(key=lambda e: e[0])
        groups: list[list] = []  # [time, who, kind, names, reason, message, count]
        for when, ev in evs:
            obj = ev.get("involvedObject") or {}
            who = ((ev.get("source") or {}).get("component") or ev.get("reportingComponent")
                   or "")
            key = (who, obj.get("kind", ""), ev.get("reason", ""))
            count = ev.get("count") or ((ev.get("series") or {}).get("count")) or 1
            if groups and (groups[-1][1], groups[-1][2], groups[-1][4]) == key:
                groups[-1][3].add(obj.get("name", ""))
                groups[-1][6] += count
                continue
            groups.append([when, who, obj.get("kind", ""), {obj.get("name", "")},
                           ev.get("reason", ""), _short_event(ev.get("message") or ""), count])
        if not groups:
            _display_html(f"<i>no events in {html.escape(ns)} or from Karpenter since "
                          f"{html.escape(start)}</i>; <code>show.events(minutes=10)</code> "
                          "looks further back")
            return
        rows = []
        for when, who, kind, names, reason, message, count in groups:
            names.discard("")
            if len(names) > 1:
                what = f"{len(names)} {kind}s"
            else:
                what = f"{kind} {next(iter(names), '')}".strip()[:60]
            times = f" (×{count})" if count > 1 else ""
            rows.append([when.astimezone().strftime("%H:%M:%S"), who, what, reason + times,
                         message[:200]])
        _display_html(f"<small>Events since {html.escape(start)}, oldest first:</small>"
                      + _table(["time", "from", "object", "reason", "message (first)"], rows))

    @_friendly
    def offerings(self, pool: str | None = None, cpu: str | None = None,
                  memory: str | None = None, top: int = 8) -> None:
        """The catalog through a NodePool's requirements, cheapest first.

        With cpu/memory (the pods' total requests, e.g. cpu="5", memory="5Gi") it marks
        which instance types can hold them and the offering Karpenter would pick: the
        cheapest one that fits (allocatable = capacity minus 100m CPU and 10Mi kept for
        the kubelet)."""
        from workshop.instances import catalog as catalog_mod

        try:
            reqs = _pool_requirements(pool) if pool else []
            cat = catalog_mod.load_catalog()
            cpu_m = memory_mi = None
            if cpu is not None or memory is not None:
                cpu_m = int(catalog_mod.parse_quantity(str(cpu or "0")) * 1000)
                memory_mi = int(catalog_mod.parse_quantity(str(memory or "0")) / 2**20)
        except ValueError as exc:
            _error_box(WorkshopError(str(exc), fix='write quantities as Kubernetes does, e.g. cpu="500m", memory="512Mi"'))
            return
        except WorkshopError as exc:
            _error_box(exc)
            return
        admitted = cat.admitted(reqs)
        # One row per instance type and capacity type, in its cheapest zone.
        best: dict = {}
        for o in sorted(admitted, key=lambda o: (o.price, o.instance_type, o.zone)):
            best.setdefault((o.instance_type, o.capacity_type), o)
        offers = sorted(best.values(), key=lambda o: (o.price, o.instance_type, o.capacity_type))
        pick = (cat.cheapest(reqs, cpu_m, memory_mi) if cpu_m is not None else None)
        shown = offers[:top]
        if pick is not None and not any(o.instance_type == pick.instance_type
                                        and o.capacity_type == pick.capacity_type for o in shown):
            shown.append(None)  # a gap, then Karpenter's pick further down the list
            shown.append(best[(pick.instance_type, pick.capacity_type)])
        rows = []
        for o in shown:
            if o is None:
                rows.append(["…"] + [""] * (7 + (cpu_m is not None)))
                continue
            it = cat.by_name(o.instance_type)
            row = [o.instance_type, o.capacity_type, o.zone, it.arch, it.vcpu,
                   f"{it.memory_mib / 1024:g}Gi",
                   f"{it.allocatable_cpu_millis}m / {it.allocatable_memory_mib}Mi",
                   f"${o.price:.4f}/h"]
            if cpu_m is not None:
                fits = it.fits(cpu_m, memory_mi)
                mark = "✓" if fits else "✗ too small"
                if pick is not None and (o.instance_type, o.capacity_type, o.zone) == \
                        (pick.instance_type, pick.capacity_type, pick.zone):
                    mark = "✓ ← cheapest that fits"
                row.append(mark)
            rows.append(row)
        headers = ["instance type", "capacity", "cheapest zone", "arch", "vCPU", "memory",
                   "allocatable", "price"]
        if cpu_m is not None:
            headers.append(f"holds {cpu} CPU, {memory}?")
        where = f"NodePool <code>{html.escape(pool)}</code> admits" if pool else "The catalog has"
        head = f"{where} {html.escape(catalog_mod.describe_set(admitted))}."
        if not admitted:
            head += (" <b>Its requirements match nothing in the catalog</b>: check each "
                     "value's spelling (values are exact and case-sensitive).")
        elif cpu_m is not None and pick is None:
            head += f" <b>None of them can hold {html.escape(str(cpu))} CPU and {html.escape(str(memory))}.</b>"
        _display_html(head + ("<br>" + _table(headers, rows) if rows else ""))

    @_friendly
    def status(self) -> None:
        """The local processes standing in for EKS: control plane, kwok and Karpenter."""
        from workshop.stack import lifecycle

        rows = [[r.name, r.status, r.pid or "-", r.port or "-",
                 lifecycle.fmt_uptime(r.uptime_s), f"{r.rss_mib:.0f} MiB" if r.rss_mib else "-"]
                for r in lifecycle.status_rows()]
        if not rows:
            _display_html("<i>no workshop cluster yet: run <code>make up</code> in a terminal</i>")
            return
        note = ("" if all(r[1] == "running" for r in rows)
                else "<br><b>Something is stopped:</b> run <code>make up</code> in a terminal (it heals the cluster).")
        _display_html(_table(["component", "status", "pid", "port", "uptime", "memory"], rows) + note)


def _pool_readiness(np: dict, ready: dict) -> str:
    """"True", or why not: each failing condition with Karpenter's message."""
    if ready.get("status") == "True":
        return "True"
    why = [f"{c.get('type')}: {c.get('message') or c.get('reason') or c.get('status')}"
           for c in (np.get("status") or {}).get("conditions") or []
           if c.get("type") != "Ready" and c.get("status") == "False"]
    return f"{ready.get('status', 'no status yet')}" + (" (" + "; ".join(why) + ")" if why else "")


def _claim_state(nc: dict) -> str:
    if (nc.get("metadata") or {}).get("deletionTimestamp"):
        return "deleting"
    state = "launching"
    for cond in ("Launched", "Registered", "Initialized", "Ready"):
        if kube.is_true(nc, cond):
            state = cond
    return state


_TRANSITION = re.compile(r"Status condition transitioned, Type: (\w+), Status: (\w+) -> (\w+)"
                         r"(?:, Reason: [^,]*)?(?:, Message: (.*))?$", re.S)


def _short_event(message: str) -> str:
    """Karpenter's "Status condition transitioned, Type: X, Status: A -> B, ..." as "X: A → B"."""
    message = message.strip()
    m = _TRANSITION.match(message)
    if not m:
        return message
    kind, old, new, detail = m.groups()
    return f"{kind}: {old} → {new}" + (f" ({detail.strip()})" if detail and detail.strip() else "")


def _healthy_pool_event(ev: dict) -> bool:
    """A NodePool condition turning True: noise next to the pods' story."""
    return ((ev.get("involvedObject") or {}).get("kind") == "NodePool"
            and "-> True" in (ev.get("message") or ""))


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _age(created: str | None) -> str:
    when = _parse_time(created)
    if when is None:
        return "-"
    seconds = max(0.0, (datetime.now(timezone.utc) - when).total_seconds())
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _events(namespace: str) -> list[tuple[datetime, dict]]:
    items = kube.call(kube.core().list_namespaced_event, namespace)
    out = []
    for ev in (kube.api_client().sanitize_for_serialization(e) for e in (items.items if items else [])):
        when = _parse_time(ev.get("eventTime") or ev.get("lastTimestamp")
                           or ev.get("firstTimestamp")
                           or (ev.get("metadata") or {}).get("creationTimestamp"))
        if when is not None:
            out.append((when, ev))
    return out


def _pool_requirements(pool: str) -> list[dict]:
    np = kube.get("karpenter.sh/v1", "NodePool", pool)
    if np is None:
        names = ", ".join(n["metadata"]["name"] for n in kube.list_("karpenter.sh/v1", "NodePool"))
        raise WorkshopError(f"there is no NodePool `{pool}`",
                            fix=f"NodePools in the cluster: {names or 'none'}")
    return ((np.get("spec") or {}).get("template") or {}).get("spec", {}).get("requirements") or []


class _WaitFor:
    """Waits that show progress while Karpenter works."""

    @_friendly
    def pods(self, count: int, app: str | None = None, namespace: str | None = None,
             timeout_s: float = 90) -> None:
        ns = namespace or _default_namespace(None)
        sel = f"app={app}" if app else None
        what = f"pods with app={app}" if app else "pods"
        handle = _live_handle()
        seen = {"ready": 0, "pending": 0, "total": 0}

        def enough() -> bool:
            pods = [p for p in observe.pods(ns, sel)
                    if not (p.get("metadata") or {}).get("deletionTimestamp")]
            seen.update(ready=sum(observe.is_ready(p) for p in pods),
                        pending=sum(observe.is_pending(p) for p in pods), total=len(pods))
            return seen["ready"] >= count

        def tick(elapsed: float) -> None:
            if handle:
                handle.update(_html_obj(f"… {seen['ready']}/{count} {html.escape(what)} Ready, "
                                        f"{seen['pending']} Pending ({elapsed:.0f}s)"))
            # Waiting cannot help when fewer pods exist than asked for and none is coming.
            if elapsed >= 10 and seen["total"] < count and not seen["pending"]:
                raise WorkshopError(
                    f"only {seen['total']} {what} exist in {ns}, {count} expected",
                    fix="check `replicas` (and the namespace) and run the %%apply cell again")

        try:
            start = time.monotonic()
            kube.wait_until(enough, timeout_s, 0.25, f"{count} Ready {what} in {ns}", tick)
            msg = f"✓ {count} {what} Ready after {time.monotonic() - start:.1f}s"
            handle.update(_html_obj(html.escape(msg))) if handle else print(msg)
        except WorkshopError as exc:
            _error_box(WorkshopError(exc.message, detail=exc.detail,
                                     fix=exc.fix or "show.pods() says why pods are pending"))
        except KeyboardInterrupt:
            _display_html("<i>stopped waiting</i>")
            if solution_mode():
                raise

    @_friendly
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
            _error_box(WorkshopError(exc.message, detail=exc.detail, fix=exc.fix or
                                     "show.pods() lists pods that still hold a node; "
                                     "show.events() says what Karpenter is doing"))
        except KeyboardInterrupt:
            _display_html("<i>stopped waiting</i>")
            if solution_mode():
                raise


    @_friendly
    def node(self, pool: str, timeout_s: float = 90) -> str | None:
        """Wait until NodePool `pool` has a node Karpenter has registered; return its name.

        Registered, not merely created: Karpenter puts a pool's startup taints on a node when
        it registers it (until then the node carries only karpenter.sh/unregistered), so an
        agent acting earlier would find nothing to remove."""
        from workshop.k8s import taints

        found = kube.wait_until(
            lambda: sorted(n["metadata"]["name"] for n in taints.pool_nodes(pool)[0]),
            timeout_s, 0.5, f"a registered node of NodePool {pool}")
        _display_html(f"node of {html.escape(pool)}: <code>{html.escape(found[0])}</code>")
        return found[0]


@_friendly
def remove_taint(node: str, key: str) -> None:
    """Play the node agent: remove the taint `key` from node `node` (only that taint)."""
    from workshop.k8s import taints

    removed = taints.remove_taint(node, key)
    _display_html(f"✓ removed taint <code>{html.escape(str(removed))}</code> from node "
                  f"<code>{html.escape(node)}</code><br><small>in a terminal: <code>"
                  f"{html.escape(taints.kubectl_untaint(node, key, removed.effect))}</code>"
                  "</small>")


show = _Show()
wait_for = _WaitFor()


@_friendly
def viewer(pool: str | None = None, namespace: str | None = None) -> None:
    """The live node viewer (Kubernetes watches; running the cell again replaces it)."""
    _viewer.viewer(pool, namespace)


@_friendly
def explain(pod: str, namespace: str | None = None):
    """Why this pod runs where it does (or is still Pending): NodePool by NodePool, then
    the instance types that fit. `pod` may be a Deployment's name (its first pod)."""
    kube.require_cluster()
    return _explain.explain_pod(pod, namespace or _default_namespace(None))


def _register_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.register_magic_function(_apply_magic, magic_kind="cell", magic_name="apply")


_register_magic()
