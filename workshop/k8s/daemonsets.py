"""DaemonSets and the room they take on a node, counted the way Karpenter counts them.

Every node runs one pod of each DaemonSet that can run there (the platform's are in
cluster/platform/30-daemonsets.yaml), so Karpenter sizes a new node for the pods it packs
PLUS those daemon pods. Read in Karpenter v1.14.1 (sigs.k8s.io/karpenter):

- It lists every DaemonSet and takes, for each, its newest pod, or else a pod made from the
  template with limits copied into missing requests (provisioner.go:534 getDaemonSetPods;
  pkg/utils/daemonset/daemonset.go:25 PodForDaemonSet). The template is what we read here.
- A daemon pod counts for a NodePool's node of a given instance type when
  (scheduling/scheduler.go:1020 isDaemonPodCompatible):
  * it tolerates the pool's `taints` (PreferNoSchedule ignored; line 1023-1024). Only
    `taints`: `startupTaints` are not checked, because they go away once the node is ready;
  * its required node selection (nodeSelector and a required nodeAffinity term; the next
    term is tried when one fails, line 1039) is compatible with the pool's requirements and
    template labels, an undefined well-known label being allowed (line 1030), and
    intersects the instance type's labels (line 1033).
- The compatible pods' requests and one `pods` each (pkg/utils/resources/resources.go:30
  RequestsForPods) are added to the packed pods' requests before an instance type must fit
  (scheduling/nodeclaim.go:570 filterInstanceTypesByRequirements).
- Daemon pods never make a node busy: a node whose only pods belong to DaemonSets is empty to
  consolidation (pkg/utils/pod/scheduling.go:44 IsReschedulable, :168 IsOwnedByDaemonSet;
  disruption/types.go:198).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from workshop.instances import catalog
from workshop.k8s import kube, taints, usage
from workshop.names import (APPS_API, ARCH_LABEL, CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL,
                            NODEPOOL_LABEL, OS_LABEL, ZONE_LABEL)

# Labels a pod may require though a pool does not define them (v1.WellKnownLabels,
# pkg/apis/v1/labels.go:75; AllowUndefinedWellKnownLabels). The catalog's keys count too:
# the kwok provider registers every offering key as well-known (kwok/cloudprovider/helpers.go:174).
WELL_KNOWN = frozenset({
    NODEPOOL_LABEL, ZONE_LABEL, "topology.kubernetes.io/region", INSTANCE_TYPE_LABEL,
    ARCH_LABEL, OS_LABEL, CAPACITY_TYPE_LABEL, "node.kubernetes.io/windows-build",
})
NO_EFFECTS = ("NoSchedule", "NoExecute")  # PreferNoSchedule never keeps a daemon pod off


def is_daemon_pod(pod: Mapping[str, Any]) -> bool:
    """Whether a pod belongs to a DaemonSet (it comes with every node, not with a workload)."""
    return any(o.get("kind") == "DaemonSet"
               for o in (pod.get("metadata") or {}).get("ownerReferences") or [])


@dataclass(frozen=True)
class Overhead:
    """What the compatible DaemonSets take on one node."""

    requests: usage.Requests
    pods: int
    names: tuple[str, ...]  # namespace/name of each DaemonSet counted

    @property
    def cpu_millis(self) -> int:
        return self.requests.cpu_millis

    @property
    def memory_mib(self) -> int:
        return self.requests.memory_mib

    def __str__(self) -> str:
        if not self.pods:
            return "no DaemonSet pods"
        return f"{self.requests} in {self.pods} DaemonSet pod{'s' if self.pods != 1 else ''}"


NONE = Overhead(usage.Requests(), 0, ())


# ---------------------------------------------------------------- requirements


def _term_requirements(spec: Mapping[str, Any]) -> list[list[dict]]:
    """The pod's required node selection, one list per nodeAffinity term (terms are ORed;
    Karpenter tries them in order), each with the nodeSelector in it."""
    selector = [{"key": k, "operator": "In", "values": [str(v)]}
                for k, v in (spec.get("nodeSelector") or {}).items()]
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {})
    terms = ((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    return [selector + list(t.get("matchExpressions") or []) for t in terms] or [selector]


def _admits(req: Mapping[str, Any], value: str | None) -> bool:
    """Whether a label value (None: absent) satisfies one requirement."""
    op, values = req.get("operator"), [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


def _intersect(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether some value (or absence) satisfies both requirements on one key."""
    for one, other in ((a, b), (b, a)):
        if one.get("operator") == "In":
            return any(_admits(other, str(v)) and _admits(one, str(v)) for v in one.get("values") or [])
    ops = {a.get("operator"), b.get("operator")}
    if "DoesNotExist" in ops:
        return ops <= {"DoesNotExist", "NotIn"}
    return True  # NotIn / Exists / Gt / Lt together: some value is left (Gt/Lt bounds aside)


def _pool_requirements(pool: Mapping[str, Any]) -> dict[str, list[dict]]:
    """The pool's requirements per key, its template labels and its own name included
    (what Karpenter's NodeClaimTemplate holds)."""
    template = (pool.get("spec") or {}).get("template") or {}
    out: dict[str, list[dict]] = {}
    name = (pool.get("metadata") or {}).get("name")
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    if name:
        labels[NODEPOOL_LABEL] = name
    for k, v in labels.items():
        out.setdefault(k, []).append({"key": k, "operator": "In", "values": [str(v)]})
    for r in (template.get("spec") or {}).get("requirements") or []:
        out.setdefault(r["key"], []).append(r)
    return out


def _well_known() -> frozenset[str]:
    try:
        return WELL_KNOWN | catalog.load_catalog().label_keys
    except catalog.CatalogError:
        return WELL_KNOWN


def _selection_fits(term: list[dict], pool_reqs: Mapping[str, list[dict]],
                    offering: catalog.Offering | None) -> bool:
    for r in term:
        key = r["key"]
        defined = pool_reqs.get(key)
        if defined is None:
            # Undefined in the pool: only a well-known label (the catalog's keys included,
            # checked against the offering below) may be required; NotIn / DoesNotExist
            # are always met.
            if r.get("operator") in ("In", "Exists") and key not in _well_known():
                return False
        elif not all(_intersect(r, d) for d in defined):
            return False
        if offering is not None and key in offering.labels and not _admits(r, offering.labels[key]):
            return False
    return True


# ---------------------------------------------------------------- the overhead


def daemon_pod_spec(daemonset: Mapping[str, Any]) -> dict:
    """The pod a DaemonSet would run, as Karpenter models it from the template."""
    return dict(((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {})


def compatible(pool: Mapping[str, Any], daemon_spec: Mapping[str, Any],
               offering: catalog.Offering | None = None) -> bool:
    """Whether this daemon pod would run on the pool's node of this offering (None: any
    instance type; only the pool is judged)."""
    tolerations = list(daemon_spec.get("tolerations") or [])
    template_spec = ((pool.get("spec") or {}).get("template") or {}).get("spec") or {}
    for raw in template_spec.get("taints") or []:
        taint = taints.Taint.of(raw)
        if taint.effect in NO_EFFECTS and not any(taints.tolerates(t, taint) for t in tolerations):
            return False
    pool_reqs = _pool_requirements(pool)
    return any(_selection_fits(term, pool_reqs, offering) for term in _term_requirements(daemon_spec))


def overhead(pool: Mapping[str, Any], daemonsets: Iterable[Mapping[str, Any]],
             offering: catalog.Offering | None = None) -> Overhead:
    """What the DaemonSets that would run on this pool's node (of `offering`) request."""
    total, names = usage.Requests(), []
    for ds in daemonsets:
        spec = daemon_pod_spec(ds)
        if compatible(pool, spec, offering):
            total = total + usage.pod_requests(spec)
            meta = ds.get("metadata") or {}
            names.append(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
    return Overhead(total, len(names), tuple(names))


def per_offering(pool: Mapping[str, Any], daemonsets: Sequence[Mapping[str, Any]]
                 ) -> Callable[[catalog.Offering], tuple[int, int, int]]:
    """For Catalog.cheapest(overhead=...): (cpu millis, memory MiB, pods) per offering."""
    daemonsets = list(daemonsets)
    known: dict[catalog.Offering, tuple[int, int, int]] = {}  # bounded by the catalog's size

    def of(offering: catalog.Offering) -> tuple[int, int, int]:
        if offering not in known:
            o = overhead(pool, daemonsets, offering)
            known[offering] = (o.cpu_millis, o.memory_mib, o.pods)
        return known[offering]

    return of


def in_cluster() -> list[dict]:
    """Every DaemonSet in the cluster, the platform's and any other: Karpenter lists them all."""
    return kube.list_(APPS_API, "DaemonSet")


def pool_of_requirements(requirements: Iterable[Mapping[str, Any]]) -> dict:
    """A NodePool-shaped dict for code that holds only requirements (no taints, no labels)."""
    return {"metadata": {}, "spec": {"template": {"spec": {"requirements": list(requirements)}}}}
