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
    delete_deployment("gpu-gotcha")   # a demo's Deployment, in the lesson's namespace

Solution mode (WORKSHOP_SOLUTIONS=1, used by CI through nbval): an `%%apply N.M` cell
applies exercise N.M's reference solution instead of its body (`%%apply N.M-2`: only its
step 2, solutions/lesson-NN/N.M-2.yaml), and check() raises unless everything passes, so
notebooks and solutions cannot drift apart.

Errors a learner causes (broken YAML, an API rejection, the cluster being down) print as
a short message with the fix, never a traceback; the cell's text is never touched.
"""

from __future__ import annotations

import html

from workshop.board import wiring
from workshop.errors import WorkshopError
from workshop.grading import core as grading, lessons
from workshop.k8s import kube
from workshop.lab import explanation, node_viewer
from workshop.lab.apply import apply_yaml, register_magic
from workshop.lab.display import (
    ShownReport, display_html, error_box, friendly, html_obj, live_handle,
)
from workshop.lab.session import SESSION, default_namespace, solution_mode
from workshop.lab.tables import Show
from workshop.lab.waits import WaitFor

__all__ = ["use_lesson", "check", "apply_yaml", "show", "wait_for", "remove_taint",
           "delete_deployment", "solution_mode", "viewer", "explain", "try_workload", "try_"]


def use_lesson(n: int) -> None:
    """Set the lesson whose namespace %%apply uses by default."""
    SESSION["lesson"] = n
    display_html(f"<b>Lesson {n:02d}</b>: objects without a namespace go to "
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


def check(exercise: str | int | None = None, wait: bool = True) -> grading.Report | None:
    """Grade one exercise (e.g. "1.1") or a whole lesson ("1") and show the result.

    With no argument: the whole lesson chosen with use_lesson(N).
    """
    if exercise is None:
        exercise = SESSION["lesson"]
    if exercise is None:
        error_box(WorkshopError("check() needs to know what to grade",
                                fix='call use_lesson(N) first, or name it: check("1.1")'))
        if solution_mode():
            raise TypeError("check() without an argument needs use_lesson(N) first")
        return None
    handle = live_handle()

    def progress(result: grading.Result) -> None:
        if handle and not result.final:
            handle.update(html_obj(f"… checking <code>{html.escape(result.id)}</code>: "
                                   f"{html.escape(result.found)}"))

    try:
        report = lessons.grade(exercise, on_progress=progress, wait=wait)
    except grading.UnknownExercise as exc:
        error_box(WorkshopError(str(exc), fix="use an exercise id from this lesson"), handle)
        if solution_mode():
            raise
        return None
    if handle:
        handle.update(html_obj(grading.render_html(report)))
        report = ShownReport.of(report)
    else:
        print(grading.render_text(report))
    if solution_mode() and not report.passed:
        raise AssertionError("solution mode: not every check passed\n"
                             + grading.render_text(report))
    return report


@friendly
def remove_taint(node: str, key: str) -> None:
    """Play the node agent: remove the taint `key` from node `node` (only that taint)."""
    from workshop.k8s import node_agent, taints

    removed = node_agent.remove_taint(node, key)
    display_html(f"✓ removed taint <code>{html.escape(str(removed))}</code> from node "
                 f"<code>{html.escape(node)}</code><br><small>in a terminal: <code>"
                 f"{html.escape(taints.kubectl_untaint(node, key, removed.effect))}</code>"
                 "</small>")


@friendly
def delete_deployment(name: str, namespace: str | None = None) -> None:
    """Delete a Deployment this lesson's cells made (e.g. a demo's), in the lesson's namespace
    by default; its pods go, and consolidation removes the nodes they leave empty."""
    ns = namespace or default_namespace(None)
    if kube.delete("apps/v1", "Deployment", name, ns):
        display_html(f"✓ deleted Deployment <code>{html.escape(ns)}/{html.escape(name)}</code>"
                     f"<br><small>in a terminal: <code>kubectl delete deployment "
                     f"{html.escape(name)} -n {html.escape(ns)}</code></small>")
    else:
        display_html(f"no Deployment <code>{html.escape(ns)}/{html.escape(name)}</code>: "
                     "nothing to delete")


show = Show()


wait_for = WaitFor()


@friendly
def viewer(pool: str | None = None, namespace: str | None = None,
           context: str | None = None, kubeconfig: str | None = None) -> None:
    """The live node viewer (Kubernetes watches; running the cell again replaces it).
    `context=`/`kubeconfig=`: another cluster running Karpenter v1 (EKS too), read only."""
    node_viewer.viewer(pool, namespace, context=context, kubeconfig=kubeconfig)


@friendly
def explain(pod: str, namespace: str | None = None, context: str | None = None,
            kubeconfig: str | None = None):
    """Why this pod runs where it does (or is still Pending): NodePool by NodePool, then
    the instance types that fit. `pod` may be a Deployment's name (its first pod).
    `context=`/`kubeconfig=`: another cluster, read only."""
    if context or kubeconfig:
        with kube.target(kubeconfig, context):
            kube.require_cluster()
            return explanation.explain_pod(pod, namespace or kube.context_namespace() or "default")
    kube.require_cluster()
    return explanation.explain_pod(pod, namespace or default_namespace(None))


@friendly
def try_workload(*paths: str, keep: bool = False):
    """Try your own manifests (files or directories, e.g. `helm template` output) against
    the platform's pools, as `workshop try`: per workload the NodePool, instance types and
    cost, or why it stays Pending and the fix (and a custom-pool request where the defaults
    do not serve it). Your files are only read; `keep=True` leaves the trial to look at."""
    from workshop.platform import trial

    return trial.run(paths, keep=keep, progress=print)


try_ = try_workload  # `try` is a Python keyword


register_magic()
# A learner who joined a room reports checks run here too (the CLI wires the same hooks).
wiring.connect()
