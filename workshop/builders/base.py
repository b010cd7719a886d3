"""The public base every check builder stands on: how a Check is made, how a learner's
NodePool or Deployment is fetched and described, and how "Ready where expected" is waited for.

A builder module (one per topic: cluster, nodepools, workloads, taints, affinity, spread,
limits, gpu, disruption, platform) returns `grading.Check`s whose function takes the lesson's
`Context` (`ctx.namespace`, `ctx.catalog`, see workshop/grading/lessons.py) and looks at the
live cluster. Every diagnosis lives in one builder: a lesson only says which fact, which
object, which values.
"""

from __future__ import annotations


import time


from collections import Counter




from typing import Any, Callable, Iterable, Mapping


from workshop.instances import catalog




from workshop.k8s import kube, observe
from workshop.k8s.pending import pending_hint, why_pending


from workshop.grading import lessons




from workshop.platform import defaults as platform


from workshop.grading.core import (
    Check, Outcome, failed, missing, passed, waiting,
)
from workshop.names import APPS_API




NODEPOOL_API = platform.NODEPOOL_API


NODECLASS_GROUP = platform.NODECLASS_API.split("/")[0]


NODECLASS_KIND = "KWOKNodeClass"


# Pods should be Ready within a minute (kwok nodes start at once; Karpenter batches for at
# most 3 s). Empty nodes go after consolidateAfter + Karpenter's 10 s poll + 15 s validation.
READY_WAIT_S = 60


CONSOLIDATION_WAIT_S = 60


NODEPOOL_READY_WAIT_S = 15


# Karpenter posts "cannot schedule" once per pod and keeps it for minutes, so a quoted
# event may predate the learner's fix. Only call it final once it has held this long
# across consecutive polls (Karpenter reacts to a fix within its 3 s batch window).
KARPENTER_VERDICT_HOLD_S = 6


# Labels Karpenter or the kubelet put on every node besides the catalog's.
NODE_LABEL_KEYS = frozenset({
    "kubernetes.io/hostname", "karpenter.sh/nodepool", "karpenter.sh/initialized",
    "karpenter.sh/registered", "karpenter.kwok.sh/kwoknodeclass", "type",
})


def make_check(check_id: str, title: str, fn: Callable[[Any], Outcome], options: dict,
               wait_s: float = 0) -> Check:
    """A Check; `options` (depends_on, points, wait_s, poll_s) override the builder's defaults."""
    return Check(check_id, title, fn, **{"wait_s": wait_s, **options})


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def condition_text(cond: Mapping | None) -> str:
    if not cond:
        return "no status yet"
    text = f"{cond.get('type')}={cond.get('status')} {cond.get('reason') or ''}".strip()
    return f"{text}: {cond['message']}" if cond.get("message") else text


def spec_diff(want: Any, live: Any, path: str) -> tuple[list[str], list[str]]:
    """(changed, added) field paths: values differing from the manifest, fields it lacks."""
    if isinstance(want, dict) and isinstance(live, dict):
        changed: list[str] = []
        added: list[str] = []
        for key in want:
            c, a = spec_diff(want[key], live.get(key), f"{path}.{key}")
            changed += c
            added += a
        added += [f"{path}.{key}" for key in live if key not in want]
        return changed, added
    if live is None:
        return [f"{path} removed"], []
    # Scalars by str(): a limit written `1000` or `"1000"` is the same value.
    same = want == live if isinstance(want, list) else str(want) == str(live)
    return ([] if same else [f"{path}: {shorten(live)} (platform: {shorten(want)})"]), []


def shorten(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def get_nodepool(name: str) -> dict | None:
    return kube.get(NODEPOOL_API, "NodePool", name)


def absent_nodepool(name: str) -> Outcome:
    return missing(f"NodePool {name}",
                   f"create NodePool `{name}` (cluster-scoped: it has no namespace)",
                   f"NodePool {name}")


def with_nodepool(name: str, fn: Callable[[Any, dict], Outcome]) -> Callable[[Any], Outcome]:
    """A check function that looks at NodePool `name` (`missing` while there is none)."""
    def check(ctx) -> Outcome:
        pool = get_nodepool(name)
        return absent_nodepool(name) if pool is None else fn(ctx, pool)

    return check


def pool_template_spec(pool: dict) -> dict:
    return ((pool.get("spec") or {}).get("template") or {}).get("spec") or {}


def ready_outcome(pool: dict, where: str, ok: str = "Ready") -> Outcome:
    """Ready passes; False quotes Karpenter's reason; no verdict yet is `waiting`."""
    conds = (pool.get("status") or {}).get("conditions") or []
    ready = kube.condition(pool, "Ready")
    if ready and ready.get("status") == "True":
        return passed(ok, ok, where)
    if not (ready and ready.get("status") == "False"):
        ref = pool_template_spec(pool).get("nodeClassRef") or {}
        if not conds and (ref.get("group"), ref.get("kind")) != (NODECLASS_GROUP, NODECLASS_KIND):
            # Seen on v1.14: Karpenter never reconciles (nor reports on) a NodePool whose
            # node class kind it does not serve; waiting for a status would wait forever.
            return failed("Ready", "no status: Karpenter ignores this NodePool",
                          f"Karpenter ignores a NodePool whose nodeClassRef is not a "
                          f"{NODECLASS_KIND} ({NODECLASS_GROUP}): check nodeClassRef", where)
        return waiting("Ready", condition_text(ready),
                       "Karpenter has not reported on this NodePool yet", where)
    # Ready=False only says "UnhealthyDependents": the dependent conditions say why.
    why = [c for c in conds if c.get("type") != "Ready" and c.get("status") == "False"]
    found = "; ".join(condition_text(c) for c in (why or [ready]))
    kinds = {c.get("type") for c in why}
    if "NodeClassReady" in kinds:
        hint = ("Karpenter cannot find or use the node class this NodePool references: "
                "check nodeClassRef")
    elif "ValidationSucceeded" in kinds:
        hint = "Karpenter rejected this NodePool's spec: the message says which field"
    else:
        hint = "the NodePool is not Ready: read Karpenter's reason"
    return failed("Ready", found, hint, where)


def get_deployment(ctx, name: str) -> dict | None:
    return kube.get(APPS_API, "Deployment", name, ctx.namespace)


def absent_deployment(ctx, name: str) -> Outcome:
    return missing(f"Deployment {name} in namespace {ctx.namespace}",
                   f"create it first (metadata.namespace: {ctx.namespace})",
                   f"Deployment {ctx.namespace}/{name}")


def with_deployment(name: str, fn: Callable[[Any, dict], Outcome]) -> Callable[[Any], Outcome]:
    """A check function that looks at Deployment `name` in the lesson's namespace."""
    def check(ctx) -> Outcome:
        dep = get_deployment(ctx, name)
        return absent_deployment(ctx, name) if dep is None else fn(ctx, dep)

    return check


def deployment_containers(dep: dict) -> list[dict]:
    return ((((dep.get("spec") or {}).get("template") or {}).get("spec") or {})
            .get("containers") or [])


def pod_template_spec(dep: dict) -> dict:
    return ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}


def replica_count(dep: dict) -> int:
    value = (dep.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)  # the API's default


def known_node_labels(ctx) -> dict[str, set[str]]:
    """Every label key (with its values) a node here has or could get."""
    known: dict[str, set[str]] = {k: set() for k in NODE_LABEL_KEYS}
    for o in ctx.catalog.offerings:
        for k, v in o.labels.items():
            known.setdefault(k, set()).add(v)
    for pool in kube.list_(NODEPOOL_API, "NodePool"):
        known["karpenter.sh/nodepool"].add(pool["metadata"]["name"])
        template = (pool.get("spec") or {}).get("template") or {}
        for k, v in ((template.get("metadata") or {}).get("labels") or {}).items():
            known.setdefault(k, set()).add(v)
        for req in (template.get("spec") or {}).get("requirements") or []:
            # Custom keys' single values become node labels; catalog keys' values are
            # only what the catalog offers (a NodePool asking for `Spot` gets nothing).
            if req.get("key") not in ctx.catalog.label_keys and req.get("operator") == "In":
                known.setdefault(req["key"], set()).update(req.get("values") or [])
    for info in observe.node_infos().values():
        for k, v in info.labels.items():
            known.setdefault(k, set()).add(v)
    return known


def affinity_terms(pod_spec: dict, kind: str) -> list:
    node_aff = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    if kind == "required":
        return ((node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
                .get("nodeSelectorTerms") or [])
    return [p.get("preference") or {}
            for p in node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def allows_label(pod_spec: dict, key: str, value: str | None) -> bool:
    """Would the REQUIRED rules accept a node whose `key` label is `value` (None: absent)?

    Rules on other keys are ignored: this asks only about `key`.
    """
    labels = {} if value is None else {key: value}
    selector = pod_spec.get("nodeSelector") or {}
    if key in selector and selector[key] != value:
        return False
    terms = affinity_terms(pod_spec, "required")
    if not terms:
        return True
    # Terms are ORed; a term's expressions ANDed (Kubernetes semantics).
    return any(catalog.matches([e for e in t.get("matchExpressions") or [] if e.get("key") == key],
                               labels) for t in terms)


def mentioned_labels(pod_spec: dict, kind: str) -> list[tuple[str, list[str]]]:
    """(key, values) of each rule: nodeSelector and expressions of required or preferred terms."""
    found: list[tuple[str, list[str]]] = []
    if kind == "required":
        found += [(k, [v]) for k, v in (pod_spec.get("nodeSelector") or {}).items()]
    for term in affinity_terms(pod_spec, kind):
        found += [(e.get("key", ""), list(e.get("values") or []))
                  for e in term.get("matchExpressions") or []]
    return found


class Holding:
    """How long the same verdict has held across consecutive polls of one check."""

    def __init__(self, gap_s: float = 5.0):
        self.gap_s = gap_s
        self.key: object = None
        self.since = self.last = 0.0

    def seconds(self, key: object) -> float:
        now = time.monotonic()
        # A new run (a gap since the last poll) or a new verdict starts the clock again.
        if key != self.key or now - self.last > self.gap_s:
            self.key, self.since = key, now
        self.last = now
        return now - self.since


def describe_nodes(infos: Iterable[observe.NodeInfo]) -> str:
    counts = Counter(f"{i.nodepool or 'no NodePool'} ({i.instance_type} {i.capacity_type})"
                     for i in infos)
    return ", ".join(f"{n} on {what}" for what, n in counts.most_common(3))


def pools_of(infos: Iterable[observe.NodeInfo]) -> str:
    """The NodePools of these nodes, for a hint that names where pods run (`{where}` in a
    misplaced hint): what the checker saw, never what it assumed."""
    names = sorted({i.nodepool or "nodes outside any NodePool" for i in infos})
    return " and ".join(names) or "other nodes"


def is_rolling(dep: dict) -> bool:
    st = dep.get("status") or {}
    want = replica_count(dep)
    return (st.get("observedGeneration") != dep["metadata"].get("generation")
            or (st.get("updatedReplicas") or 0) < want or (st.get("replicas") or 0) > want)


def deployment_selector(dep: dict) -> str:
    labels = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items())


def pods_ready(check_id: str, name: str, count: int, on: Callable[[observe.NodeInfo], bool],
               on_text: str, misplaced_hint: str, title: str, options: dict) -> Check:
    """`count` pods Ready on nodes `on` accepts. `{where}` in `misplaced_hint` becomes the
    NodePools the misplaced pods run on."""
    holding = Holding()
    expected = f"{count} Ready pods on {on_text}"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"pods of Deployment {ctx.namespace}/{name}"
        if replica_count(dep) != count:
            return failed(expected, f"the Deployment asks for {replica_count(dep)}",
                          "fix the replica count first", where)
        infos = observe.node_infos()
        pods = [p for p in observe.pods(ctx.namespace, deployment_selector(dep))
                if not p["metadata"].get("deletionTimestamp")]
        ready = [(p, infos.get(p["spec"].get("nodeName") or "")) for p in pods
                 if observe.is_ready(p)]
        good = [i for _, i in ready if i is not None and on(i)]
        bad = [i for _, i in ready if i is not None and not on(i)]
        pending = [p for p in pods if not (p.get("spec") or {}).get("nodeName")]
        progress = f"{len(good)} of {count} Ready on {on_text}"
        if len(good) == count and not bad and not pending:
            return passed(expected, f"{count} Ready: {describe_nodes(good)}", where)
        if pending:
            verdict, event = why_pending(pending[0])
            found = f"{progress}; {plural(len(pending), 'pod')} Pending"
            if verdict == "cannot":
                held = holding.seconds((pending[0]["metadata"]["uid"], event))
                if held >= KARPENTER_VERDICT_HOLD_S:
                    hint = pending_hint(event or "", known_node_labels(ctx).keys())
                    return failed(expected, found, hint, where, event)
                return waiting(expected, found, "Karpenter says it cannot place them yet",
                               where, event)
            if verdict == "launching":
                return waiting(expected, found, "Karpenter is launching nodes for them",
                               where, event)
            return waiting(expected, found,
                           "Karpenter has not acted on them yet: is it running? "
                           "(`make status`)", where, event)
        holding.seconds(None)
        if bad and not is_rolling(dep):
            return failed(expected, f"{len(bad)} Ready on other nodes: {describe_nodes(bad)}",
                          leftover_hint(ctx, bad)
                          or misplaced_hint.replace("{where}", pools_of(bad)), where)
        return waiting(expected, progress, "the pods are starting (or rolling out)", where)

    return make_check(check_id, title, with_deployment(name, fn), options, wait_s=READY_WAIT_S)


def leftover_hint(ctx, infos: Iterable[observe.NodeInfo]) -> str | None:
    """When pods sit on a NodePool another lesson owns, that lesson is in the way, not the
    learner's selector: name it and how to clear it."""
    for info in infos:
        owner = lessons.pool_owner(info.nodepool) if info.nodepool else None
        if owner is not None and owner != ctx.lesson:
            return (f"lesson {owner}'s NodePool {info.nodepool} is still in the cluster and "
                    f"its untainted nodes' spare room took some of these pods: clear it with "
                    f"`make reset-lesson-{owner}`, then check again")
    return None
