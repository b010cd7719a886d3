"""The node agent's one move: remove a startup taint from a node once it is ready.

Lesson 03's learner plays this agent (`remove_taint` in the notebook), and `workshop solve`
and the lesson tests play it for every node of a pool (`play_agent`). On EKS a DaemonSet
does it; here the kit does it through the API, with the same patch.
"""

from __future__ import annotations

import time

from workshop.errors import WorkshopError
from workshop.k8s import kube, observe
from workshop.k8s.taints import Taint, node_taints


def remove_taint(node: str, key: str) -> Taint:
    """Remove the taint `key` from node `node`, and nothing else (what a node agent does
    when it is ready). Returns the taint removed.

    A JSON patch with a `test` of the current list: if anything changed the node's taints
    in between (Karpenter, another agent), the API refuses the patch instead of losing
    their change, and we read the node again.
    """
    for _ in range(5):
        obj = kube.get("v1", "Node", node)
        if obj is None:
            names = ", ".join(sorted(observe.node_infos())) or "none"
            raise WorkshopError(f"there is no node `{node}`", fix=f"nodes now: {names}")
        raw = list((obj.get("spec") or {}).get("taints") or [])
        mine = [t for t in raw if t.get("key") == key]
        if not mine:
            have = ", ".join(str(Taint.of(t)) for t in raw) or "no taints"
            raise WorkshopError(f"node {node} carries no taint `{key}` (it has {have})",
                                fix="show.nodes() lists every node's taints")
        keep = [t for t in raw if t.get("key") != key]
        ops = [{"op": "test", "path": "/spec/taints", "value": raw},
               {"op": "replace", "path": "/spec/taints", "value": keep}]
        if kube.json_patch("v1", "Node", node, ops):
            return Taint.of(mine[0])
        time.sleep(0.2)  # the list changed under us: read it again
    raise WorkshopError(f"the taints of node {node} keep changing; could not remove `{key}`",
                        fix="run the cell again")


def pool_nodes(pool: str) -> tuple[list[dict], list[str]]:
    """(the nodes of `pool`'s live NodeClaims that Karpenter has registered, the names of
    those it has not registered yet). Karpenter copies a pool's startup taints onto a node
    when it registers it, so only registered nodes say whether the agent is done; NodeClaims
    being deleted, and any node without one, are ignored."""
    nodes = {n["metadata"]["name"]: n for n in observe.nodes(f"{observe.NODEPOOL_LABEL}={pool}")}
    registered, joining = [], []
    for claim in observe.nodeclaims(pool):
        if claim["metadata"].get("deletionTimestamp"):
            continue
        node = nodes.get((claim.get("status") or {}).get("nodeName") or "")
        if node is not None and kube.is_true(claim, "Registered"):
            registered.append(node)
        else:
            joining.append(claim["metadata"]["name"])
    return registered, joining


def tainted_nodes(pool: str, key: str) -> list[str]:
    """Registered nodes of `pool` that still carry the taint `key`."""
    return [n["metadata"]["name"] for n in pool_nodes(pool)[0]
            if any(t.key == key for t in node_taints(n))]


def play_agent(pool: str, key: str, timeout_s: float = 60) -> list[str]:
    """The node agent of every node of `pool`: once Karpenter has registered them (and so
    tainted them), remove the taint `key` from each. Returns the nodes freed (for
    `workshop solve`)."""
    def ready_to_free() -> list[str]:
        registered, joining = pool_nodes(pool)
        return [] if joining or not registered else tainted_nodes(pool, key)

    names = kube.wait_until(ready_to_free, timeout_s, 0.5, f"registered {pool} nodes carrying {key}")
    for name in names:
        remove_taint(name, key)
    return names
