"""`workshop try FILE...`: a team's own manifests tried against the platform's pools.

    report = run(["deploy/"], progress=print)    # the notebook's try_workload("deploy/")
    print(report.text())

Applies the adapted copies (trial_plan.py) into a scratch namespace of the local cluster,
waits until every pod is placed or stuck, and says per workload: the NodePool, instance
types and capacity type Karpenter launched, what those nodes cost per hour, the pods left
Pending with Karpenter's reason (pending.py, the one reader of its events) and the fix,
and whether the platform's default pools serve it. Where they do not, it drafts the
request for a custom pool in the generator's words (request.py). Afterwards the namespace,
the NodePools from the files and the nodes launched for the trial are removed (`keep`
leaves them to look around).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from workshop.errors import WorkshopError
from workshop.names import KARPENTER_API, NODEPOOL_LABEL as NODEPOOL
from workshop.instances import catalog
from workshop.k8s import kube, pending
from workshop.platform import defaults, request, trial_draft
from workshop.platform.trial_plan import (TRIAL_LABEL, WORKLOAD_LABEL, Plan, Workload,
                                          cluster_scope, plan, read)

FIELD_MANAGER = "workshop-try"
NAMESPACE_PREFIX = "try-"
TIMEOUT_S = 90.0
# A pod the scheduler has turned down but Karpenter has not answered for this long is
# reported with the scheduler's reason (Karpenter batches pods for 1-10 s, then speaks).
SILENT_S = 25.0
# A pod Karpenter launched a node for that still waits this long is reported as waiting
# (e.g. a node whose startup taint an agent must lift first).
LAUNCH_S = 45.0
# A workload with fewer pods than it asks for this long: its controller's event says why.
NO_PODS_S = 15.0
# Karpenter's "cannot" is not final while a NodeClaim is this young. Within one round it
# counts a new claim's largest instance-type option against the pool's limits
# (scheduling/scheduler.go:1045-1048, subtractMax: "a batch of pods [may] take multiple
# rounds"), so a pool sized exactly for a workload turns its second pod down at first. It
# looks at a pending pod again every 10 s (provisioning/controller.go:64-77) with the claim's
# real type counted; 3 s more is the kit's longest batch window (BATCH_MAX_DURATION).
RELOOK_S = 13.0
DEFAULT_WEIGHT = 50  # the platform's default pools (cluster/platform/)


@dataclass
class NodeSeen:
    name: str
    pool: str
    instance_type: str
    capacity_type: str
    zone: str
    price: float | None
    new: bool  # launched for the trial (created after it started)

    def __str__(self) -> str:
        price = f"${self.price:.4f}/h" if self.price is not None else "price unknown"
        return f"{self.instance_type} {self.capacity_type} ({price})"


@dataclass
class Outcome:
    workload: Workload
    placed: dict[str, str] = field(default_factory=dict)  # pod -> node
    waiting: dict[str, pending.Pending] = field(default_factory=dict)  # pod -> why
    no_pods: str | None = None  # the controller's reason when pods are missing
    rejected: str | None = None
    spec: dict = field(default_factory=dict)  # the pod spec as applied


@dataclass
class Report:
    namespace: str
    plan: Plan
    outcomes: list[Outcome]
    nodes: dict[str, NodeSeen]
    seconds: float
    rejected: list[str]
    cleaned: list[str]
    kept: bool
    cat: catalog.Catalog
    known_keys: set[str]

    def text(self) -> str:
        return "\n".join(_lines(self))

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        import html
        return f"<pre class='workshop-try'>{html.escape(self.text())}</pre>"


# ---------------------------------------------------------------- running a trial


def run(paths, keep: bool = False, progress: Callable[[str], None] = print,
        timeout_s: float = TIMEOUT_S) -> Report:
    docs = read(paths)  # broken YAML stops here, before anything is applied
    kube.require_cluster()
    cat = catalog.load_catalog()
    namespace = NAMESPACE_PREFIX + secrets.token_hex(3)
    pl = plan(docs, namespace, cluster_scope)
    _drop_unknown_priority_classes(pl)
    if not pl.workloads and not pl.pools:
        raise WorkshopError("nothing to try: the files hold no Deployment, StatefulSet, Job, "
                            "CronJob, ReplicaSet, Pod or NodePool",
                            fix="give the manifests of a workload (e.g. `helm template` output)")
    # Nodes running before the trial: any other node holding its pods was launched for it
    # (names, not creation times: those have whole seconds only).
    before = {n["metadata"]["name"] for n in kube.list_("v1", "Node")}
    t0 = time.monotonic()
    progress(f"trying {len(pl.workloads)} workload(s) in namespace {namespace}"
             + (f" with NodePool(s) {', '.join(pl.pools)}" if pl.pools else ""))
    outcomes = {w.key: Outcome(w) for w in pl.workloads}
    rejected: list[str] = []
    nodes: dict[str, NodeSeen] = {}
    cleaned: list[str] = []
    try:
        kube.apply([{"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": namespace, "labels": {TRIAL_LABEL: namespace}}}],
                   field_manager=FIELD_MANAGER)
        _apply_all(pl, outcomes, rejected, progress)
        _wait(pl, outcomes, nodes, before, t0, timeout_s, progress)
        # Read while the trial's own NodePools still exist: their labels are known keys, so
        # a pod turned down by one of them is not told that no pool has its labels.
        known = _known_keys(cat)
    finally:
        if not keep:
            cleaned = cleanup(namespace, pl.pools, nodes)
    return Report(namespace, pl, list(outcomes.values()), nodes, time.monotonic() - t0,
                  rejected, cleaned, keep, cat, known)


def _drop_unknown_priority_classes(pl: Plan) -> None:
    """A pod naming a PriorityClass this cluster lacks is refused at creation: the trial
    drops the name (the platform's classes are cluster-scoped, not in a team's files)."""
    known: dict[str, bool] = {}
    for obj in pl.objects:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") if obj["kind"] != "Pod" \
            else obj.get("spec")
        name = (spec or {}).get("priorityClassName") if isinstance(spec, dict) else None
        if not name:
            continue
        if name not in known:
            known[name] = kube.get("scheduling.k8s.io/v1", "PriorityClass", name) is not None
        if not known[name]:
            spec.pop("priorityClassName")
            pl.notes.append(f"{obj['kind']} {obj['metadata']['name']}: priorityClassName {name} "
                            "is not on this cluster; dropped for the trial")


def _apply_all(pl: Plan, outcomes: dict[str, Outcome], rejected: list[str],
               progress: Callable[[str], None]) -> None:
    for obj in pl.objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "NodePool":
            existing = kube.get(KARPENTER_API, "NodePool", name)
            if existing and ((existing["metadata"].get("labels") or {}).get(TRIAL_LABEL) is None):
                rejected.append(f"NodePool {name}: one of that name already exists here; the "
                                "trial never changes it (its pods may use the existing one)")
                pl.pools.remove(name)
                continue
        try:
            kube.apply([obj], field_manager=FIELD_MANAGER)
        except WorkshopError as exc:
            line = f"{kind} {name}: {exc.message}"
            rejected.append(line)
            progress(f"rejected: {line}")
            key = (((obj.get("spec") or {}).get("template") or obj).get("metadata") or {}) \
                .get("labels", {}).get(WORKLOAD_LABEL)
            if key in outcomes:
                outcomes[key].rejected = exc.message
            if kind == "NodePool":
                pl.pools.remove(name)
            continue
        key = (((obj.get("spec") or {}).get("template") or obj).get("metadata") or {}) \
            .get("labels", {}).get(WORKLOAD_LABEL)
        if key in outcomes:
            outcomes[key].spec = (obj.get("spec") if kind == "Pod"
                                  else obj["spec"]["template"].get("spec")) or {}


def _wait(pl: Plan, outcomes: dict[str, Outcome], nodes: dict[str, NodeSeen],
          before: set[str], t0: float, timeout_s: float,
          progress: Callable[[str], None]) -> None:
    last, last_said = "", 0.0
    prices = {(o.instance_type, o.zone, o.capacity_type): o.price
              for o in catalog.load_catalog().offerings}
    while True:
        elapsed = time.monotonic() - t0
        pods = kube.list_("v1", "Pod", namespace=pl.namespace)
        events: dict[str, list[dict]] = {}
        for ev in kube.list_("v1", "Event", namespace=pl.namespace):
            if (ev.get("involvedObject") or {}).get("kind") == "Pod":
                events.setdefault(ev["involvedObject"]["name"], []).append(ev)
        # a claim this young may still change Karpenter's "cannot" (RELOOK_S)
        relook = any(_age(c) < RELOOK_S for c in kube.list_(KARPENTER_API, "NodeClaim")
                     if not c["metadata"].get("deletionTimestamp"))
        settled = True
        for out in outcomes.values():
            if out.rejected:
                continue
            mine = [p for p in pods
                    if (p["metadata"].get("labels") or {}).get(WORKLOAD_LABEL) == out.workload.key
                    and not p["metadata"].get("deletionTimestamp")]  # e.g. a replaced rollout's
            out.placed, out.waiting = {}, {}
            for p in mine:
                name, node = p["metadata"]["name"], (p.get("spec") or {}).get("nodeName")
                if node:
                    out.placed[name] = node
                    if node not in nodes:
                        seen = _node_seen(node, node not in before, prices)
                        if seen:
                            nodes[node] = seen
                else:
                    why = pending.from_events(events.get(name, []))
                    if why.verdict == "launching":
                        why = _startup_taint(why) or why
                    out.waiting[name] = why
                    age = _age(p)
                    if (why.verdict == "launching" and age < LAUNCH_S) or \
                            (why.verdict == "scheduler" and age < SILENT_S) or \
                            (why.verdict == "cannot" and relook):
                        settled = False
            if len(mine) > out.workload.pods and out.workload.kind != "Job":
                settled = False  # a rollout replacing an earlier version's pods: wait for it
            if len(mine) < out.workload.pods and not out.no_pods:
                if elapsed < NO_PODS_S:
                    settled = False
                else:
                    out.no_pods = _controller_reason(out.workload, pl.namespace)
        summary = _progress_line(outcomes)
        if summary != last or time.monotonic() - last_said > 10:
            progress(f"  {elapsed:4.0f}s  {summary}")
            last, last_said = summary, time.monotonic()
        if settled:
            return
        if elapsed > timeout_s:
            progress(f"  stopped waiting after {timeout_s:.0f}s")
            return
        time.sleep(1.0)


def _startup_taint(why: pending.Pending) -> pending.Pending | None:
    """A pod nominated for a NodeClaim whose node is up but still carries the pool's
    startupTaints waits for an agent to lift them (lesson 03): nothing more will happen."""
    match = re.search(r"nodeclaim/([\w.-]+)", why.event or "")
    claim = kube.get(KARPENTER_API, "NodeClaim", match.group(1)) if match else None
    taints = ((claim or {}).get("spec") or {}).get("startupTaints") or []
    node_name = ((claim or {}).get("status") or {}).get("nodeName")
    node = kube.get("v1", "Node", node_name) if node_name and taints else None
    left = [t for t in (node or {}).get("spec", {}).get("taints") or []
            if any(t.get("key") == s.get("key") for s in taints)]
    if not left:
        return None
    text = ", ".join(f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in left)
    return pending.Pending("startup", f"its node {node_name} is up but keeps the NodePool's "
                           f"startupTaint {text} until an agent lifts it")


def _age(pod: dict) -> float:
    created = kube.event_time({"metadata": pod["metadata"]})
    return (datetime.now(timezone.utc) - created).total_seconds()


def _node_seen(name: str, new: bool, prices: dict) -> NodeSeen | None:
    node = kube.get("v1", "Node", name)
    if node is None:
        return None
    labels = node["metadata"].get("labels") or {}
    it, cap, zone = (labels.get(catalog.INSTANCE_TYPE, "?"), labels.get(catalog.CAPACITY_TYPE, "?"),
                     labels.get(catalog.ZONE, "?"))
    try:
        price = float(labels[catalog.NODE_VIEWER_PRICE])
    except (KeyError, ValueError):
        price = prices.get((it, zone, cap))
    return NodeSeen(name, labels.get(NODEPOOL, ""), it, cap, zone, price, new)


def _controller_reason(w: Workload, namespace: str) -> str:
    """Why a workload has fewer pods than it asks for: its (or its ReplicaSet's) newest
    FailedCreate-like event, quoted."""
    kinds = [w.kind] + (["ReplicaSet"] if w.kind == "Deployment" else [])
    for ev in reversed(kube.list_("v1", "Event", namespace=namespace)):
        inv = ev.get("involvedObject") or {}
        if inv.get("kind") in kinds and str(inv.get("name", "")).startswith(w.name) \
                and ev.get("type") == "Warning":
            return pending.quote(kube.event_source(ev) or inv.get("kind", ""), ev.get("message", ""))
    return "its controller made no pod and said nothing"


def _progress_line(outcomes: dict[str, Outcome]) -> str:
    placed = sum(len(o.placed) for o in outcomes.values())
    launching = sum(1 for o in outcomes.values() for p in o.waiting.values() if p.verdict == "launching")
    cannot = sum(1 for o in outcomes.values() for p in o.waiting.values() if p.verdict == "cannot")
    other = sum(1 for o in outcomes.values() for p in o.waiting.values() if p.verdict == "scheduler")
    startup = sum(1 for o in outcomes.values() for p in o.waiting.values() if p.verdict == "startup")
    parts = [f"{placed} placed"]
    if launching:
        parts.append(f"{launching} waiting for a node Karpenter is launching")
    if cannot:
        parts.append(f"{cannot} Karpenter cannot place")
    if other:
        parts.append(f"{other} waiting for the scheduler/Karpenter")
    if startup:
        parts.append(f"{startup} on a node behind a startup taint")
    return "pods: " + ", ".join(parts)


# ---------------------------------------------------------------- cleaning up


def cleanup(namespace: str, pools: list[str], nodes: dict[str, NodeSeen],
            timeout_s: float = 30) -> list[str]:
    """Remove the scratch namespace, the files' NodePools and the nodes launched for the
    trial (their NodeClaims: Karpenter then removes the nodes)."""
    done = []
    kube.empty_namespace(namespace)  # pods go at once; the namespace controller is slower
    if kube.delete("v1", "Namespace", namespace):
        done.append(f"namespace {namespace}")
    for pool in pools:
        if kube.delete(KARPENTER_API, "NodePool", pool):
            done.append(f"NodePool {pool}")
    launched = {n.name for n in nodes.values() if n.new}
    claims = [c for c in kube.list_(KARPENTER_API, "NodeClaim")
              if (c.get("status") or {}).get("nodeName") in launched
              or ((c["metadata"].get("labels") or {}).get(NODEPOOL) in pools)]
    for c in claims:
        kube.delete(KARPENTER_API, "NodeClaim", c["metadata"]["name"])
    if claims:
        done.append(f"{len(claims)} node(s)")
        names = {c["metadata"]["name"] for c in claims}
        try:
            kube.wait_until(lambda: not any(c["metadata"]["name"] in names for c in
                                            kube.list_(KARPENTER_API, "NodeClaim")),
                            timeout_s, 0.5, "the trial's nodes to go")
        except WorkshopError:
            done.append("(some nodes still terminating: Karpenter removes them)")
    return done


# ---------------------------------------------------------------- the report


def _known_keys(cat: catalog.Catalog) -> set[str]:
    keys = set(cat.label_keys) | {NODEPOOL}
    for pool in kube.list_(KARPENTER_API, "NodePool"):
        tmpl = (pool.get("spec") or {}).get("template") or {}
        keys |= set(((tmpl.get("metadata") or {}).get("labels") or {}))
        keys |= {r.get("key") for r in (tmpl.get("spec") or {}).get("requirements") or []}
    return keys


def _lines(r: Report) -> list[str]:
    out = [f"workshop try: {len(r.outcomes)} workload(s) in {r.namespace}, "
           f"{r.seconds:.0f}s"]
    for note in r.plan.notes:
        out.append(f"  adapted: {note}")
    for line in r.plan.refused:
        out.append(f"  refused: {line}")
    for line in r.rejected:
        out.append(f"  rejected: {line}")
    sharers: dict[str, set[str]] = {}
    for o in r.outcomes:
        for node in set(o.placed.values()):
            sharers.setdefault(node, set()).add(str(o.workload))
    for o in r.outcomes:
        out.append("")
        out += _workload_lines(o, r, sharers)
    new = [n for n in r.nodes.values() if n.new]
    if new:
        total = sum(n.price or 0.0 for n in new)
        out.append("")
        out.append(f"In all: {len(new)} node(s) launched, ${total:.4f}/h "
                   "(kwok prices from the kit's catalog; on EKS spot prices move).")
    out.append("")
    if r.kept:
        out.append(f"Kept: namespace {r.namespace}"
                   + (f", NodePool(s) {', '.join(r.plan.pools)}" if r.plan.pools else "")
                   + f". Look around (`workshop nodes`, `workshop explain POD -n {r.namespace}`), "
                   f"then `kubectl delete namespace {r.namespace}`.")
    else:
        out.append("Cleaned up: " + (", ".join(r.cleaned) or "nothing was left")
                   + ". Your files were only read.")
    return out


def _workload_lines(o: Outcome, r: Report, sharers: dict[str, set[str]]) -> list[str]:
    w = o.workload
    head = f"{w} ({w.source}): "
    if o.rejected:
        return [head + f"rejected by the API server: {o.rejected}"]
    total = len(o.placed) + len(o.waiting)
    if w.pods == 0 and not total:
        return [head + "asks for no pods (replicas: 0): nothing to place"]
    head += f"{len(o.placed)} of {max(total, w.pods)} pod(s) placed"
    lines = [head]
    if o.no_pods and total < w.pods:
        lines.append(f"  only {total} of {w.pods} pods were made: {o.no_pods}")
    seen = [r.nodes[n] for n in dict.fromkeys(o.placed.values()) if n in r.nodes]
    by_pool: dict[str, list[NodeSeen]] = {}
    for n in seen:
        by_pool.setdefault(n.pool or "(not a Karpenter node)", []).append(n)
    for pool, ns in by_pool.items():
        kinds: dict[str, int] = {}
        for n in ns:
            kinds[str(n)] = kinds.get(str(n), 0) + 1
        types = ", ".join(f"{c} × {k}" for k, c in kinds.items())
        origin = " (from your files)" if pool in r.plan.pools else ""
        lines.append(f"  NodePool {pool}{origin}: {types}")
    if seen:
        cost = sum(n.price or 0.0 for n in seen)
        new = sum(1 for n in seen if n.new)
        shared = sorted({s for n in seen for s in sharers.get(n.name, set())} - {str(w)})
        old = len(seen) - new
        lines.append(f"  cost: ${cost:.4f}/h for {len(seen)} node(s)"
                     + (f" ({old} already running before the trial)" if old else "")
                     + (f"; shared with {', '.join(shared)}" if shared else ""))
    reasons: dict[str, list[str]] = {}
    for pod, why in o.waiting.items():
        reasons.setdefault(why.text, []).append(pod)
    for text, pods in list(reasons.items())[:3]:
        who = pods[0] if len(pods) == 1 else f"{len(pods)} pods ({pods[0]}, …)"
        lines.append(f"  Pending {who}: {text}")
    if len(reasons) > 3:
        lines.append(f"  … and {len(reasons) - 3} more reasons")
    lines += _verdict_lines(o, r, by_pool)
    return lines


def _verdict_lines(o: Outcome, r: Report, by_pool: dict[str, list[NodeSeen]]) -> list[str]:
    pools = set(by_pool)
    on_defaults = pools and pools <= set(defaults.DEFAULT_NODEPOOLS)
    if on_defaults and not o.waiting:
        return ["  ✓ the platform's default pools serve it"]
    lines = []
    if o.waiting:
        events = [p.event for p in o.waiting.values() if p.event and p.verdict == "cannot"]
        if events:
            lines.append("  fix: " + pending.pending_hint(events[0], r.known_keys))
        elif any(p.verdict == "startup" for p in o.waiting.values()):
            lines.append("  fix: run the agent that lifts the startup taint (here: "
                         "remove_taint() in the notebook); the pool itself serves it")
        else:
            lines.append("  (Karpenter had not decided when the trial stopped; "
                         "`--keep`, then `workshop explain POD -n NAMESPACE`, looks further)")
    files_pools = pools & set(r.plan.pools)
    if files_pools and not o.waiting:
        weights = [_weight(p) for p in files_pools]
        if all(wt < DEFAULT_WEIGHT for wt in weights):
            lines.append(f"  served by your NodePool {', '.join(sorted(files_pools))}; the default "
                         "pools could not (Karpenter tries them first: weight 50)")
        else:
            lines.append(f"  served by your NodePool {', '.join(sorted(files_pools))}; it outranks "
                         "the defaults (weight ≥ 50), so they were not tried")
        return lines
    if o.waiting and not any(p.verdict == "cannot" for p in o.waiting.values()):
        return lines  # undecided: no verdict on the defaults, no draft
    if o.waiting or not on_defaults:
        lines.append("  ✗ the platform's default pools do not serve it")
        lines += _draft_lines(o, r)
    return lines


def _weight(pool: str) -> int:
    obj = kube.get(KARPENTER_API, "NodePool", pool) or {}
    return int((obj.get("spec") or {}).get("weight") or 0)


def _draft_lines(o: Outcome, r: Report) -> list[str]:
    if not o.spec:
        return []
    req, why = trial_draft.draft_request(o.workload, o.spec, r.cat)
    if req is None:
        return [f"  no custom pool would help: {why}"]
    problems = request.validate(req, r.cat)
    if not problems.ok:
        return ["  a drafted request has problems: " + "; ".join(problems.errors)]
    lines = [f"  draft of the custom-pool request (`{trial_draft.command_line(req)} --text` makes it; "
             "edit the limits to your real need):"]
    lines += ["    | " + line for line in request.request_text(req, r.cat).splitlines()]
    return lines
