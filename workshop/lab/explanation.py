""""Why this node?": Karpenter's choice for one pod, retold from the cluster and the catalog.

    explain_pod("inflate-5d4b7c-x2x9z", "lesson-01")   # notebook: explain("inflate")
    workshop explain POD -n NAMESPACE

What it follows, read in Karpenter v1.14.1's source (sigs.k8s.io/karpenter):
- NodePools are tried by weight, highest first; equal weights go by name, the name LATER in
  the alphabet first (pkg/utils/nodepool/nodepool.go OrderByWeight). NodePools that are not
  Ready are skipped (pkg/controllers/provisioning/provisioner.go).
- For each pool (scheduling/nodeclaim.go CanAdd): the pool's taints must be tolerated; the
  pod's requirements (nodeSelector, the FIRST required nodeAffinity term, and the heaviest
  preferred term until relaxed; pkg/scheduling/requirements.go) must be compatible with the
  pool's requirements and template labels; a key the pool does not define fails an In or
  Exists ("label ... does not have known values") unless it is a well-known label.
- An instance type must hold the pod plus the pods of every DaemonSet that would run on
  the pool's node (scheduling/scheduler.go buildDaemonOverheadGroups; workshop.k8s.daemonsets).
- Limits (scheduling/scheduler.go addToNewNodeClaim): instance types whose capacity would
  take the pool past a limit are dropped ("all available instance types exceed limits").
- The kwok provider then launches the cheapest available offering among the types left
  (kwok/cloudprovider/cloudprovider.go toNode); equal prices are picked at random.

On EKS the AWS provider launches spot with the price-capacity-optimized strategy, so there
"cheapest" is a strong hint, not the rule; this output says so where price decides.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

from workshop.instances import catalog
from workshop.instances.quantity import quantity_or_zero
from workshop.k8s import access, daemonsets, kube, pending, taints, usage
from workshop.errors import WorkshopError
from workshop.k8s import timestamps
from workshop.names import KARPENTER_API, NODECLASS_API, NODEPOOL_LABEL as NODEPOOL

# Labels Karpenter lets a pod require though no NodePool defines them (v1.WellKnownLabels in
# pkg/apis/v1/labels.go, checked with AllowUndefinedWellKnownLabels); the catalog's keys
# are checked against the offerings instead.
WELL_KNOWN = frozenset({"topology.kubernetes.io/region",
                        "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type",
                        "kubernetes.io/arch", "kubernetes.io/os", "karpenter.sh/capacity-type",
                        "node.kubernetes.io/windows-build"})
PRICE_NOTE = ("Price decides here: the kwok provider launches the cheapest offering. On EKS, "
              "spot uses the price-capacity-optimized strategy, so AWS may pick a slightly "
              "pricier spot pool with more capacity.")
TOP = 6
KWOK_GROUP = NODECLASS_API.split("/")[0]  # karpenter.kwok.sh; on EKS karpenter.k8s.aws
CATALOG_NOTE = ("Instance types and prices above come from the kit's catalog (a subset of "
                "AWS's, us-west-2 list prices); on EKS Karpenter chooses among every type "
                "the pool admits.")


# ---------------------------------------------------------------- the pod's side


def pod_requirements(spec: dict) -> list[dict]:
    """The requirements Karpenter reads from a pod: nodeSelector, the first required
    nodeAffinity term, and the heaviest preferred term (relaxed by Karpenter if it fails)."""
    reqs = [{"key": k, "operator": "In", "values": [str(v)]}
            for k, v in (spec.get("nodeSelector") or {}).items()]
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {})
    terms = ((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    if terms:
        reqs += terms[0].get("matchExpressions") or []
    return reqs


def _tolerated(tolerations: list[dict], taint: dict) -> bool:
    t = taints.Taint.of(taint)
    return any(taints.tolerates(tol, t) for tol in tolerations or [])


def _req_text(r: dict) -> str:
    values = r.get("values") or []
    if r.get("operator") == "In" and len(values) == 1:
        return f"{r['key']}={values[0]}"
    return f"{r['key']} {r.get('operator')} {values}" if values else f"{r['key']} {r.get('operator')}"


# ---------------------------------------------------------------- one pool


@dataclass
class PoolVerdict:
    name: str
    weight: int
    ok: bool
    why: str = ""
    fitting: list[catalog.Offering] = field(default_factory=list)  # cheapest offering per type
    over_limit: list[str] = field(default_factory=list)


def _template(pool: dict) -> dict:
    return ((pool.get("spec") or {}).get("template") or {})


def _pool_values(pool: dict) -> dict[str, set[str] | None]:
    """What a pool defines for keys outside the catalog: template labels and requirements
    (None: Exists, any value)."""
    defined: dict[str, set[str] | None] = {NODEPOOL: {pool["metadata"]["name"]}}
    for k, v in ((_template(pool).get("metadata") or {}).get("labels") or {}).items():
        defined[k] = {str(v)}
    for r in (_template(pool).get("spec") or {}).get("requirements") or []:
        if r.get("operator") == "In":
            defined[r["key"]] = set(r.get("values") or [])
        elif r.get("operator") == "Exists":
            defined.setdefault(r["key"], None)
    return defined


def _custom_conflict(r: dict, defined: dict) -> str | None:
    key, op, values = r["key"], r.get("operator"), set(r.get("values") or [])
    if key not in defined:
        if op in ("In", "Exists"):
            return (f"the pod requires {_req_text(r)}, but the pool's nodes carry no label "
                    f"{key} (Karpenter: label \"{key}\" does not have known values)")
        return None
    have = defined[key]
    if op == "In" and have is not None and not (have & values):
        return f"the pod requires {_req_text(r)}; the pool's nodes get {key}={', '.join(sorted(have))}"
    if op == "NotIn" and have is not None and not (have - values):
        return f"the pod excludes {key} {sorted(values)}; the pool's nodes get only {', '.join(sorted(have))}"
    if op == "DoesNotExist":
        return f"the pod requires that {key} is absent; the pool's nodes carry it"
    return None


def _catalog_conflict(cat: catalog.Catalog, pool_reqs: list[dict], pod_reqs: list[dict]) -> str | None:
    if cat.admitted(pool_reqs + pod_reqs):
        return None
    pool_set = cat.admitted(pool_reqs)
    for r in pod_reqs:
        if r["key"] in cat.label_keys and not cat.admitted(pool_reqs + [r]):
            offered = sorted({o.labels.get(r["key"], "") for o in pool_set} - {""})
            return (f"the pod requires {_req_text(r)}; the pool admits "
                    f"{r['key']} in {', '.join(offered[:8]) or 'nothing'}")
    return "the pod's requirements together match none of the pool's offerings"


def _remaining(pool: dict, freed: dict | None = None) -> dict[str, float]:
    limits = (pool.get("spec") or {}).get("limits") or {}
    used = (pool.get("status") or {}).get("resources") or {}
    freed = freed or {}
    return {r: float(quantity_or_zero(v)) - float(quantity_or_zero(used.get(r, 0)))
            + float(quantity_or_zero(freed.get(r, 0))) for r, v in limits.items()}


def _within(it: catalog.InstanceType, remaining: dict[str, float]) -> bool:
    capacity = {"cpu": it.vcpu, "memory": it.memory_mib * 2**20, catalog.GPU_RESOURCE: it.gpus,
                "nodes": 1, "pods": it.pods}
    return all(capacity.get(r, 0) <= left for r, left in remaining.items())


def _limits_text(pool: dict) -> str:
    limits = (pool.get("spec") or {}).get("limits") or {}
    used = (pool.get("status") or {}).get("resources") or {}
    return ", ".join(f"{r} {used.get(r, 0)} in use of {v}" for r, v in limits.items())


def judge(pool: dict, pod_spec: dict, req: usage.Requests, cat: catalog.Catalog,
          freed: dict | None = None, daemon_sets: list[dict] | None = None) -> PoolVerdict:
    """Could this pool launch a node for a pod with this spec and these requests?
    `freed`: capacity to leave out of the pool's usage (the node the pod already runs on,
    which would not exist had Karpenter not launched it). `daemon_sets`: the cluster's
    DaemonSets, whose pods every new node also runs (Karpenter adds their requests)."""
    name = pool["metadata"]["name"]
    v = PoolVerdict(name, int((pool.get("spec") or {}).get("weight") or 0), False)
    if not kube.is_true(pool, "Ready"):
        v.why = "the NodePool is not Ready, so Karpenter skips it"
        return v
    tmpl_spec = _template(pool).get("spec") or {}
    for taint in tmpl_spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and \
                not _tolerated(pod_spec.get("tolerations") or [], taint):
            v.why = f"the pod does not tolerate its taint {taints.Taint.of(taint)}"
            return v
    pod_reqs = pod_requirements(pod_spec)
    defined = _pool_values(pool)
    for r in pod_reqs:
        if r["key"] not in cat.label_keys and r["key"] not in WELL_KNOWN:
            problem = _custom_conflict(r, defined)
            if problem:
                v.why = problem
                return v
    pool_reqs = tmpl_spec.get("requirements") or []
    problem = _catalog_conflict(cat, pool_reqs, pod_reqs)
    if problem:
        v.why = problem
        return v
    admitted = cat.admitted(pool_reqs + pod_reqs)
    room = daemonsets.per_offering(pool, daemon_sets or [])

    def holds(o: catalog.Offering) -> bool:
        cpu, mem, pods = room(o)
        return cat.by_name(o.instance_type).fits(req.cpu_millis + cpu, req.memory_mib + mem,
                                                 req.gpus, 1 + pods)

    fits = [o for o in admitted if holds(o)]
    if not fits:
        besides = daemonsets.overhead(pool, daemon_sets or [])
        v.why = (f"none of the {len({o.instance_type for o in admitted})} instance types it admits "
                 f"can hold {req}" + (f" besides the DaemonSets' {besides.requests}"
                                      if besides.pods else ""))
        return v
    remaining = _remaining(pool, freed)
    allowed = [o for o in fits if _within(cat.by_name(o.instance_type), remaining)]
    if not allowed:
        v.why = f"limit reached: {_limits_text(pool)}; every type that fits would exceed it"
        return v
    best: dict[str, catalog.Offering] = {}
    for o in sorted(allowed, key=lambda o: (o.price, o.instance_type, o.zone, o.capacity_type)):
        best.setdefault(o.instance_type, o)
    v.ok, v.fitting = True, sorted(best.values(), key=lambda o: (o.price, o.instance_type))
    v.over_limit = sorted({o.instance_type for o in fits} - {o.instance_type for o in allowed})
    return v


def ordered(pools: list[dict]) -> list[dict]:
    """Karpenter's order: weight, highest first; equal weights by name, later name first."""
    by_name = sorted(pools, key=lambda p: p["metadata"]["name"], reverse=True)
    return sorted(by_name, key=lambda p: -int((p.get("spec") or {}).get("weight") or 0))


# ---------------------------------------------------------------- the whole story


@dataclass
class Explanation:
    pod: str
    lines: list[tuple[int, str]]  # (indent, text)

    def text(self) -> str:
        return "\n".join("  " * depth + line for depth, line in self.lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        out = []
        for depth, line in self.lines:
            style = f"margin-left:{depth * 1.5}em" + (";font-weight:bold" if depth == 0 else "")
            out.append(f"<div style='{style}'>{html.escape(line)}</div>")
        return "<div class='workshop-explain'>" + "".join(out) + "</div>"


def _find_pod(name: str, namespace: str) -> dict:
    pod = kube.get("v1", "Pod", name, namespace)
    if pod is not None:
        return pod
    # A Deployment's name (or app label) is easier to type than a pod's: take its first pod,
    # a Pending one first since that is the one worth explaining.
    pods = kube.list_("v1", "Pod", namespace=namespace, label_selector=f"app={name}")
    pods = pods or [p for p in kube.list_("v1", "Pod", namespace=namespace)
                    if p["metadata"]["name"].startswith(name + "-")]
    if not pods:
        raise WorkshopError(f"no pod `{name}` in namespace {namespace}",
                            fix="give a pod's name (show.pods() lists them) and its namespace")
    pods.sort(key=lambda p: (bool((p.get("spec") or {}).get("nodeName")), p["metadata"]["name"]))
    return pods[0]


def _time(obj: dict) -> datetime | None:
    return timestamps.parse((obj.get("metadata") or {}).get("creationTimestamp"))


def _offer_text(o: catalog.Offering, cat: catalog.Catalog) -> str:
    it = cat.by_name(o.instance_type)
    return (f"{o.instance_type:13} {o.capacity_type:9} {o.zone:11} ${o.price:.4f}/h  "
            f"({it.vcpu} vCPU, {it.memory_mib / 1024:g}Gi{f', {it.gpus} GPU' if it.gpus else ''})")


def _owner(pod: dict) -> str:
    return next((o.get("name", "?") for o in pod["metadata"].get("ownerReferences") or []), "?")


def predict(verdict: PoolVerdict) -> catalog.Offering | None:
    return verdict.fitting[0] if verdict.fitting else None


def _nodepools(missing: list[access.Missing]) -> list[dict] | None:
    """The NodePools, or None when this account may not list them (or the cluster has
    no Karpenter v1)."""
    try:
        return access.attempt(lambda: kube.list_(KARPENTER_API, "NodePool"),
                              access.NODEPOOLS, missing)
    except WorkshopError as exc:  # the kind is unknown here: no Karpenter v1
        if "does not know kind" not in exc.message:
            raise
        missing.append(access.Missing("-", "nodepools.karpenter.sh", "not on this cluster",
                                      "nothing: Karpenter v1 is not installed here"))
        return None


def _real_instances(pool: dict) -> bool:
    """A pool whose node class is not kwok's launches real instances (EKS)."""
    ref = ((_template(pool).get("spec") or {}).get("nodeClassRef") or {})
    return ref.get("group", KWOK_GROUP) != KWOK_GROUP


def explain_pod(name: str, namespace: str, context: str | None = None,
                kubeconfig: str | None = None) -> Explanation:
    """`context`/`kubeconfig`: another cluster running Karpenter v1, read only; where the
    account may not read something, the story says which permission is missing."""
    with kube.target(kubeconfig, context):
        return _explain_pod(name, namespace)


def _explain_pod(name: str, namespace: str) -> Explanation:
    missing: list[access.Missing] = []
    pod = _find_pod(name, namespace)
    meta, spec = pod["metadata"], pod.get("spec") or {}
    pod_name = f"{meta['namespace']}/{meta['name']}"
    req = usage.pod_requests(spec)
    cat = catalog.load_catalog()
    listed = _nodepools(missing)
    pools = ordered(listed or [])
    node_name = spec.get("nodeName") or ""
    node = access.attempt(lambda: kube.get("v1", "Node", node_name), access.NODE,
                          missing) if node_name else None
    home = ((node or {}).get("metadata", {}).get("labels") or {}).get(NODEPOOL)
    freed = ((node or {}).get("status") or {}).get("capacity") or {}
    daemon_sets = access.attempt(daemonsets.in_cluster, access.DAEMONSETS, missing) or []
    verdicts = [judge(p, spec, req, cat, freed if p["metadata"]["name"] == home else None,
                      daemon_sets) for p in pools]
    lines: list[tuple[int, str]] = []
    pod_reqs = pod_requirements(spec)
    lines.append((0, f"Pod {pod_name}: requests {req}"
                  + (f"; requires {', '.join(_req_text(r) for r in pod_reqs)}" if pod_reqs else "")))
    if node is not None:
        _placed_story(pod, node, verdicts, cat, lines, missing)
    elif node_name:
        lines.append((0, f"Runs on node {node_name}."))
    else:
        _pending_story(pod, verdicts, lines, missing, known=listed is not None)
    if listed is not None:
        lines.append((0, "NodePools in the order Karpenter tries them (weight, then name, later name first):"))
    for v in verdicts:
        mark = "✓ could launch a node for it" if v.ok else f"✗ {v.why}"
        lines.append((1, f"{v.name} (weight {v.weight}): {mark}"))
    served = next((v for v in verdicts if v.ok), None)
    if node is not None:
        served = next((v for v in verdicts
                       if v.name == (node["metadata"].get("labels") or {}).get(NODEPOOL)), served)
    if served is not None and served.fitting:
        lines.append((0, f"Instance types of {served.name} that hold {req} and meet its "
                         "requirements, cheapest offering first:"))
        for o in served.fitting[:TOP]:
            lines.append((1, _offer_text(o, cat)))
        if len(served.fitting) > TOP:
            lines.append((1, f"… and {len(served.fitting) - TOP} more"))
        if served.over_limit:
            lines.append((1, f"left out by the pool's limits: {', '.join(served.over_limit[:8])}"))
        lines.append((0, PRICE_NOTE))
        if any(_real_instances(p) for p in pools):
            lines.append((0, CATALOG_NOTE))
    for m in missing:
        lines.append((0, m.line() if m.verbs != "-" else f"{m.resource}: {m.scope} ({m.shows})"))
    return Explanation(pod_name, lines)


def _pending_story(pod: dict, verdicts: list[PoolVerdict], lines: list,
                   missing: list[access.Missing], known: bool = True) -> None:
    said = (access.attempt(lambda: pending.of(pod), access.EVENTS, missing)
            or pending.Pending("scheduler", None))
    ok = [v for v in verdicts if v.ok]
    if not known:
        lines.append((0, "Pending" + (f" ({said.verdict}: Karpenter "
                                      + ("is launching a node for it)." if said.verdict == "launching"
                                         else "cannot place it).") if said.verdict != "scheduler"
                                      else ": Karpenter has not spoken yet.")))
    elif ok:
        lines.append((0, f"Pending: NodePool {ok[0].name} can serve it; Karpenter "
                         + ("is launching a node for it." if said.verdict == "launching"
                            else "has not acted yet (it batches pending pods for a few seconds).")))
    elif not verdicts:
        lines.append((0, "Pending: there is no NodePool at all, so Karpenter cannot launch a node."))
    else:
        why = "; ".join(f"{v.name}: {v.why}" for v in verdicts[:3])
        more = f"; and {len(verdicts) - 3} more NodePools" if len(verdicts) > 3 else ""
        lines.append((0, f"Pending: no NodePool can serve it ({why}{more})."))
    if said.event:
        lines.append((1, said.event))


def _node_price(labels: dict, cat: catalog.Catalog) -> tuple[float | None, str]:
    """The node's price per hour and where it came from: the eks-node-viewer label the kwok
    provider sets, else the kit's catalog (on EKS), else nothing (a type it lacks)."""
    try:
        return float(labels[catalog.NODE_VIEWER_PRICE]), ""
    except (KeyError, ValueError):
        pass
    it, cap = labels.get(catalog.INSTANCE_TYPE, ""), labels.get(catalog.CAPACITY_TYPE, "")
    prices = [o.price for o in cat.offerings if o.instance_type == it and o.capacity_type == cap]
    if prices:
        return min(prices), " (the kit's catalog price)"
    return None, f" ({it or 'its type'} is not in the kit's catalog: no price)"


def _placed_story(pod: dict, node: dict, verdicts: list[PoolVerdict], cat: catalog.Catalog,
                  lines: list, missing: list[access.Missing]) -> None:
    labels = node["metadata"].get("labels") or {}
    pool = labels.get(NODEPOOL, "")
    price, source = _node_price(labels, cat)
    lines.append((0, f"Runs on {node['metadata']['name']}: {labels.get(catalog.INSTANCE_TYPE, '?')} "
                     f"{labels.get(catalog.CAPACITY_TYPE, '?')} in {labels.get(catalog.ZONE, '?')}"
                     + (f" at ${price:.4f}/h" if price is not None else "") + source
                     + (f", NodePool {pool}" if pool else ", not a Karpenter node")))
    nominated = access.attempt(lambda: pending.nomination(pod), access.EVENTS, missing) or ""
    node_t, pod_t = _time(node), _time(pod)
    if nominated:  # "nodeclaim/X" for a new launch; "..., node/Y" for a node that exists
        existing = "node/" in nominated
    else:
        existing = node_t is not None and pod_t is not None and node_t < pod_t
    if existing:
        lines.append((1, "It went onto a node that already existed (or was already being "
                         "launched): Karpenter fills room on existing nodes before launching new ones."))
    on_node = access.attempt(
        lambda: kube.call(kube.core().list_pod_for_all_namespaces,
                          field_selector=f"spec.nodeName={node['metadata']['name']}"),
        access.PODS_ON_NODE, missing)
    running = [p for p in (kube.api_client().sanitize_for_serialization(x)
                           for x in (on_node.items if on_node is not None else []))
               if p["metadata"]["uid"] != pod["metadata"]["uid"]
               and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    others = [p for p in running if not daemonsets.is_daemon_pod(p)]
    daemon_pods = [p for p in running if daemonsets.is_daemon_pod(p)]
    if daemon_pods:
        ds_total = usage.Requests()
        for p in daemon_pods:
            ds_total = ds_total + usage.pod_requests(p.get("spec") or {})
        lines.append((1, f"The node also runs {len(daemon_pods)} DaemonSet pod(s) "
                         f"({', '.join(sorted(_owner(p) for p in daemon_pods))}: {ds_total}); "
                         "Karpenter counted them when it sized the node."))
    if others:
        total = usage.pod_requests(pod.get("spec") or {})
        for p in others:
            total = total + usage.pod_requests(p.get("spec") or {})
        lines.append((1, f"It shares the node with {len(others)} other pod(s); together they "
                         f"request {total}. Karpenter sizes a new node for all the pending pods "
                         "it packs onto it, so the type below is what this pod alone would get."))
    verdict = next((v for v in verdicts if v.name == pool), None)
    pick = predict(verdict) if verdict else None
    if pick is not None:
        same = (pick.instance_type == labels.get(catalog.INSTANCE_TYPE)
                and pick.capacity_type == labels.get(catalog.CAPACITY_TYPE))
        lines.append((1, f"For this pod alone Karpenter would launch {pick.instance_type} "
                         f"{pick.capacity_type} (${pick.price:.4f}/h): "
                         + ("that is what it launched." if same else "it launched another type "
                            "(other pods shared the launch, or the pool changed since).")))
