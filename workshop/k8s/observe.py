"""Reading what the cluster did: pods, the nodes they landed on, NodeClaims, and why.

Shared by graders, the notebook's show()/wait_for(), the benchmark and the tests, so all
of them describe the cluster with the same words (instance type, zone, capacity type,
pool, price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from workshop.instances.quantity import quantity_or_zero, show_quantity
from workshop.k8s import kube, pending
from workshop.names import (
    CAPACITY_TYPE_LABEL as CAPACITY_LABEL, GPU_RESOURCE, KARPENTER_API, NODEPOOL_LABEL,
)

PRICE_LABEL = "eks-node-viewer/instance-price"  # set by the kwok provider on every node


def pods(namespace: str, selector: str | None = None) -> list[dict]:
    return kube.list_("v1", "Pod", namespace=namespace, label_selector=selector)


def is_ready(pod: dict) -> bool:
    return kube.is_true(pod, "Ready") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def is_pending(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Pending"


def nodes(selector: str | None = None) -> list[dict]:
    return kube.list_("v1", "Node", label_selector=selector)


def nodeclaims(nodepool: str | None = None) -> list[dict]:
    sel = f"{NODEPOOL_LABEL}={nodepool}" if nodepool else None
    return kube.list_(KARPENTER_API, "NodeClaim", label_selector=sel)


@dataclass
class NodeInfo:
    name: str
    instance_type: str
    zone: str
    capacity_type: str
    nodepool: str
    arch: str
    price: float | None
    cpu: str
    memory: str
    gpus: str
    taints: list[str]
    ready: bool
    labels: dict

    @classmethod
    def of(cls, node: dict) -> "NodeInfo":
        labels = (node.get("metadata") or {}).get("labels") or {}
        # Allocatable: what pods can use (the instance minus kube-reserved), what learners
        # compare with requests. Capacity is the instance's full size (the kit's kwok Stage,
        # cluster/kwok-stages.yaml), which is what NodePool limits and usage count.
        alloc = (node.get("status") or {}).get("allocatable") or {}
        try:
            price = float(labels.get(PRICE_LABEL, ""))
        except ValueError:
            price = None
        taints = [f"{t['key']}{'=' + t['value'] if t.get('value') else ''}:{t['effect']}"
                  for t in (node.get("spec") or {}).get("taints") or []]
        return cls(
            name=node["metadata"]["name"],
            instance_type=labels.get("node.kubernetes.io/instance-type", ""),
            zone=labels.get("topology.kubernetes.io/zone", ""),
            capacity_type=labels.get(CAPACITY_LABEL, ""),
            nodepool=labels.get(NODEPOOL_LABEL, ""),
            arch=labels.get("kubernetes.io/arch", ""),
            price=price,
            cpu=str(alloc.get("cpu", "")),
            memory=str(alloc.get("memory", "")),
            gpus=str(alloc.get("nvidia.com/gpu", "") or ""),
            taints=taints,
            ready=kube.is_true(node, "Ready"),
            labels=labels,
        )


def node_infos(selector: str | None = None) -> dict[str, NodeInfo]:
    return {n["metadata"]["name"]: NodeInfo.of(n) for n in nodes(selector)}


def placement(namespace: str, selector: str | None = None) -> list[tuple[dict, NodeInfo | None]]:
    """Each pod with the node it runs on (None while unscheduled)."""
    infos = node_infos()
    return [(p, infos.get((p.get("spec") or {}).get("nodeName") or ""))
            for p in pods(namespace, selector)]


# What a NodePool's limits usually cap, in the order lessons show them.
LIMITED_RESOURCES = ("cpu", "memory", GPU_RESOURCE)


@dataclass
class PoolUsage:
    """A NodePool's limits against what Karpenter counts as in use (`status.resources`).

    On EKS that count is the sum of the pool's nodes' instance capacity: an 8-vCPU node uses
    8 CPU of the limit however little runs on it. `instance_types` says which nodes they are.
    """

    name: str
    limits: dict[str, str]
    used: dict[str, str]
    instance_types: dict[str, int]
    weight: int | None

    def shown(self) -> list[str]:
        """The resources worth a row: the ones limited, plus GPUs once there are any."""
        extra = [r for r in LIMITED_RESOURCES if r not in self.limits
                 and r != GPU_RESOURCE and r in self.used]
        gpus = [GPU_RESOURCE] if self.used.get(GPU_RESOURCE, "0") not in ("0", "") else []
        return list(dict.fromkeys([*self.limits, *extra, *gpus]))

    def rows(self) -> list[list[str]]:
        """[resource, in use, limit, left] for each resource worth showing."""
        rows = []
        for resource in self.shown():
            used = quantity_or_zero(self.used.get(resource))
            limit = self.limits.get(resource)
            left = (show_quantity(resource, quantity_or_zero(limit) - used) if limit
                    else "no limit")
            rows.append([resource, show_quantity(resource, used),
                         show_quantity(resource, quantity_or_zero(limit)) if limit else "-", left])
        return rows

    def text(self) -> str:
        """"cpu 8/8, memory 16Gi/32Gi (1 × c5.2xlarge)": what Karpenter counts against the limits."""
        parts = [f"{r} {used}/{limit if limit != '-' else '∞'}" for r, used, limit, _ in self.rows()]
        nodes = ", ".join(f"{n} × {t}" for t, n in sorted(self.instance_types.items()))
        return ", ".join(parts) + (f" ({nodes})" if nodes else " (no nodes)")

    def over_limit(self) -> list[str]:
        """The resources whose use is above the pool's limit."""
        return [r for r, limit in self.limits.items()
                if quantity_or_zero(self.used.get(r)) > quantity_or_zero(limit)]


def pool_usage(name: str) -> PoolUsage | None:
    pool = kube.get(KARPENTER_API, "NodePool", name)
    if pool is None:
        return None
    spec = pool.get("spec") or {}
    counts: dict[str, int] = {}
    for claim in nodeclaims(name):
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            continue
        itype = ((claim.get("metadata") or {}).get("labels") or {}).get(
            "node.kubernetes.io/instance-type", "(launching)")
        counts[itype] = counts.get(itype, 0) + 1
    return PoolUsage(name, {k: str(v) for k, v in (spec.get("limits") or {}).items()},
                     {k: str(v) for k, v in ((pool.get("status") or {}).get("resources") or {}).items()},
                     counts, spec.get("weight"))


@dataclass
class Domain:
    """One topology domain (a zone) and what runs there."""
    name: str
    pods: int
    pending: int
    nodes: list[str]


def spread(namespace: str, selector: str | None, key: str = "topology.kubernetes.io/zone",
           domains: tuple[str, ...] = ()) -> list[Domain]:
    """Pods per zone (or any node label `key`), with the nodes they run on; `domains`
    are listed even when empty. Unscheduled pods count in a "(not scheduled)" row."""
    rows: dict[str, Domain] = {d: Domain(d, 0, 0, []) for d in domains}
    for pod, info in placement(namespace, selector):
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        name = info.labels.get(key, "(no label)") if info else "(not scheduled)"
        row = rows.setdefault(name, Domain(name, 0, 0, []))
        row.pods += 1
        row.pending += not is_ready(pod)
        if info and info.name not in row.nodes:
            row.nodes.append(info.name)
    return sorted(rows.values(), key=lambda d: (d.name.startswith("("), d.name))


def pending_reason(pod: dict) -> str | None:
    """Karpenter's (or else the scheduler's) quoted event: workshop.k8s.pending decides."""
    return pending.of(pod).event


def wait_pods_ready(namespace: str, selector: str | None, count: int, timeout_s: float,
                    on_tick: Callable[[float, int], None] | None = None) -> list[dict]:
    """Wait until `count` pods matching `selector` are Ready; return them."""
    ready: list[dict] = []

    def check():
        nonlocal ready
        ready = [p for p in pods(namespace, selector) if is_ready(p)]
        return len(ready) >= count

    kube.wait_until(check, timeout_s, 0.25, f"{count} Ready pods in {namespace}",
                    on_tick=(lambda t: on_tick(t, len(ready))) if on_tick else None)
    return ready


def wait_gone(kind_list: Callable[[], list], timeout_s: float, what: str) -> None:
    kube.wait_until(lambda: not kind_list(), timeout_s, 0.5, what)


def delete_namespace(name: str) -> None:
    """Empty a namespace (fast), then delete it without waiting for the controller."""
    if kube.get("v1", "Namespace", name) is None:
        return
    kube.empty_namespace(name)
    kube.delete("v1", "Namespace", name)
