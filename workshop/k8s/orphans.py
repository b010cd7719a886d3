"""Orphan nodes: Nodes Karpenter's kwok provider created for a NodeClaim that is gone.

The kwok provider creates a node's Node object in a goroutine, after the NodeClaim's
registration delay (kwok/cloudprovider/cloudprovider.go, Create), and its Delete removes
only the NodeClaim. A NodeClaim deleted before its Node appeared (a NodePool deleted while
a node launches, a lesson reset mid-launch) therefore leaves a Node that nothing owns: it
keeps the `karpenter.sh/unregistered` taint forever, Karpenter never consolidates it, and
a check such as "no empty node left" would fail for good. On AWS the instance would be
terminated with its NodeClaim, and a leaked-instance collector catches the rest; here
`sweep()` plays that collector. `up`, `reset` and the checks' waits call it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from workshop.k8s import kube, timestamps
from workshop.names import HOSTNAME_LABEL, KARPENTER_API, NODEPOOL_LABEL

# The kwok provider puts both on every Node it creates (kwok/cloudprovider/cloudprovider.go,
# addInstanceLabels): nodes of other origins are never touched.
KWOK_LABEL = "kwok.x-k8s.io/node=fake"

# A Node appears only after its NodeClaim exists, so a missing claim means a deleted one;
# the grace only keeps us clear of an API that answers the two lists from different moments.
GRACE_S = 10.0


def _age_s(obj: dict, now: datetime) -> float:
    return timestamps.age_seconds((obj.get("metadata") or {}).get("creationTimestamp"), now) or 0.0


def find(grace_s: float = GRACE_S) -> list[dict]:
    """Kwok-provider Nodes older than `grace_s` whose NodeClaim no longer exists."""
    # Nodes first: a Node listed here had its NodeClaim before it, so a claim missing from
    # the later list was deleted, never "not created yet".
    nodes = kube.list_("v1", "Node", label_selector=f"{KWOK_LABEL},{NODEPOOL_LABEL}")
    if not nodes:
        return []
    claims = kube.list_(KARPENTER_API, "NodeClaim")
    names = {c["metadata"]["name"] for c in claims}
    provider_ids = {(c.get("status") or {}).get("providerID") for c in claims} - {None, ""}
    now = datetime.now(timezone.utc)
    orphans = []
    for node in nodes:
        labels = node["metadata"].get("labels") or {}
        if labels.get(HOSTNAME_LABEL) in names:
            continue
        if (node.get("spec") or {}).get("providerID") in provider_ids:
            continue
        if _age_s(node, now) >= grace_s:
            orphans.append(node)
    return orphans


def sweep(grace_s: float = GRACE_S) -> list[str]:
    """Delete orphan Nodes (see the module docstring); return their names. Never raises
    for a node that vanished meanwhile."""
    removed = []
    for node in find(grace_s):
        name = node["metadata"]["name"]
        if node["metadata"].get("finalizers"):
            # No NodeClaim means no Karpenter termination flow will ever release them.
            kube.call(kube.core().patch_node, name, {"metadata": {"finalizers": None}})
        if kube.call(kube.core().delete_node, name, grace_period_seconds=0) is not None:
            removed.append(name)
    return removed
