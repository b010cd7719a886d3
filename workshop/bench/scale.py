"""The scale curve (`make bench SCALE=1`): 100, 500, 1,000 and 2,000 pods, each asked for at
once and then scaled back to zero, on a running cluster.

Every step starts from no Karpenter node, so each size pays for its own nodes; the times
come from watches (bench/timeline.py). CPU seconds by component show who did the work.
"""

from __future__ import annotations

import os
import time

import psutil

from workshop.k8s import kube
from workshop.stack import karpenter, lifecycle
from workshop.progress import say
from workshop.k8s.workloads import deployment

from .curve import DISRUPTION_FAMILIES, Point, disruption_delta
from .timeline import Timeline

SIZES = (100, 500, 1000, 2000)
NS = "bench"
APP = "scale"
POD = {"cpu": "250m", "memory": "256Mi"}  # ~ 30 pods on a 8-vCPU node: many nodes, as at work
STEP_TIMEOUT_S = 600
SETTLE_TIMEOUT_S = 60


def cpu_seconds() -> dict[str, float]:
    """User + system CPU seconds so far of every running component, by name."""
    out = {}
    for row in lifecycle.status_rows():
        if row.pid:
            try:
                t = psutil.Process(row.pid).cpu_times()
                out[row.name] = t.user + t.system
            except psutil.Error:
                pass
    return out


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before.get(k, 0.0), 1) for k in after}


def _apply(replicas: int) -> None:
    kube.apply([deployment(APP, NS, replicas=replicas, **POD)], field_manager="bench",
               default_namespace=NS)


def step(tl: Timeline, pods: int) -> Point:
    """Ask for `pods` pods at once and wait for all of them Ready; then scale to zero and
    wait until every Karpenter node is gone."""
    tl.reset()
    load = round(os.getloadavg()[0], 2)
    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    _apply(pods)
    tl.wait(lambda m: len(m.ready) >= pods, STEP_TIMEOUT_S, f"{pods:,} pods Ready")
    ready_s = time.monotonic() - t0
    cpu = _delta(cpu0, cpu_seconds())
    rss_by = {r.name: round(r.rss_mib) for r in lifecycle.status_rows()}
    m = tl.marks
    nodes, others = len(m.nodes), len(m.others_on_nodes)
    states = (("created", m.created), ("unschedulable", m.unschedulable),
              ("launched", m.launched), ("bound", m.bound), ("ready", m.ready))
    firsts = {k: _since(v, t0, min, 2) for k, v in states if v}
    lasts = {k: _since(v, t0, max, 2) for k, v in states if v}

    settle_s = settle(tl)
    tl.reset()
    before = karpenter.metric_samples(*DISRUPTION_FAMILIES)
    t1 = time.monotonic()
    _apply(0)
    tl.wait(lambda m: not m.nodes, STEP_TIMEOUT_S, "every empty node to go")
    gone_s = time.monotonic() - t1
    disruption = disruption_delta(before, karpenter.metric_samples(*DISRUPTION_FAMILIES))
    m = tl.marks
    consolidatable = _since(m.consolidatable, t1)
    if consolidatable is None and settle_s is not None:
        consolidatable = 0.0  # every claim already was (settled) and no pod event cleared it
    empty = {
        "pods_gone": _since(m.pod_gone, t1), "consolidatable": consolidatable,
        "deleting_first": _since(m.deleting, t1, min),
        "deleting_last": _since(m.deleting, t1), "nodes_gone": round(gone_s, 1)}
    return Point(
        pods=pods, ready_s=round(ready_s, 2), nodes=nodes,
        last_launched_s=lasts.get("launched"), last_bound_s=lasts.get("bound"),
        empty_gone_s=round(gone_s, 1), other_pods=others, load_1m=load, cpu_s=cpu,
        rss_mib=sum(rss_by.values()), rss_by_component_mib=rss_by,
        phases={"first": firsts, "last": lasts, "empty": empty},
        settle_s=settle_s, disruption=disruption)


def _since(times: dict[str, float], t0: float, pick=max, ndigits: int = 1) -> float | None:
    """Seconds from t0 to the latest (or, with pick=min, the earliest) of these marks."""
    return round(pick(times.values()) - t0, ndigits) if times else None


def settle(tl: Timeline) -> float | None:
    """Wait (at most SETTLE_TIMEOUT_S) until every NodeClaim is Consolidatable: the pool's
    consolidateAfter has passed since each node's last pod event. Seconds waited, or None
    if they never all were.

    Why the curve waits: Karpenter writes a NodeClaim's last pod event at most every 10 s
    (nodeclaim/podevents/controller.go:44, dedupeTimeout), so in the first seconds after a
    burst a node can be Consolidatable while its pods still come and go. A scale to zero
    then can meet a consolidation decision already in its 15 s validation, which fails on the
    churn and costs a whole validation and poll more (`scale_to_zero_nodes_gone_s`, taken
    straight after Ready, shows that case). A learner scales down after reading a cell,
    long after that window; so does a team's workload."""
    t0 = time.monotonic()
    try:
        tl.wait(lambda m: m.claims <= m.consolidatable_now, SETTLE_TIMEOUT_S,
                "every NodeClaim Consolidatable")
    except TimeoutError:
        return None
    return round(time.monotonic() - t0, 1)


def curve(sizes=SIZES) -> list[Point]:
    """One Point per size, smallest first (each from and back to no Karpenter node)."""
    kube.ensure_namespace(NS, "bench")
    tl = Timeline(NS, f"app={APP}").start()
    try:
        tl.wait(lambda m: not m.nodes, STEP_TIMEOUT_S, "no Karpenter node before the curve")
        points = []
        for n in sizes:
            say(f"bench: scale curve, {n:,} pods ...")
            points.append(step(tl, n))
            say(f"  {points[-1]}")
        return points
    finally:
        tl.close()
        kube.delete_all("apps/v1", "Deployment", NS)
