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
from workshop.stack import lifecycle
from workshop.progress import say
from workshop.k8s.workloads import deployment

from .curve import Point
from .timeline import Timeline

SIZES = (100, 500, 1000, 2000)
NS = "bench"
APP = "scale"
POD = {"cpu": "250m", "memory": "256Mi"}  # ~ 30 pods on a 8-vCPU node: many nodes, as at work
STEP_TIMEOUT_S = 600


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
    last_launched = max(m.launched.values(), default=None)
    last_bound = max(m.bound.values(), default=None)
    phases = {k: round(max(v.values()) - t0, 2) for k, v in
              (("created", m.created), ("unschedulable", m.unschedulable), ("launched", m.launched),
               ("bound", m.bound), ("ready", m.ready)) if v}
    firsts = {k: round(min(v.values()) - t0, 2) for k, v in
              (("created", m.created), ("unschedulable", m.unschedulable), ("launched", m.launched),
               ("bound", m.bound), ("ready", m.ready)) if v}

    tl.reset()
    t1 = time.monotonic()
    _apply(0)
    tl.wait(lambda m: not m.nodes, STEP_TIMEOUT_S, "every empty node to go")
    gone_s = time.monotonic() - t1
    return Point(
        pods=pods, ready_s=round(ready_s, 2), nodes=nodes,
        last_launched_s=round(last_launched - t0, 2) if last_launched else None,
        last_bound_s=round(last_bound - t0, 2) if last_bound else None,
        empty_gone_s=round(gone_s, 1), other_pods=others, load_1m=load, cpu_s=cpu,
        rss_mib=sum(rss_by.values()), rss_by_component_mib=rss_by,
        phases={"first": firsts, "last": phases})


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
