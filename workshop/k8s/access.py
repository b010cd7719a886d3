"""What an account may not read, said in one line: the read-only tools (`workshop nodes`,
`workshop explain`, `viewer()`) on a real cluster.

Application teams usually may read their namespace (pods, events) but not NodePools,
NodeClaims or Nodes. The tools then show what they can and say, per refused read, which
permission is missing and what it would show, e.g.

    missing permission: list nodepools.karpenter.sh (cluster-wide): it would show each
    NodePool in Karpenter's order and why it can or cannot take the pod

They never ask the API server what the account may do (a SelfSubjectAccessReview is a
POST): they try the read and take the server's 403 as the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from workshop.k8s import kube

T = TypeVar("T")


@dataclass(frozen=True)
class Missing:
    verbs: str  # "list" or "list, watch"
    resource: str  # "nodes", "nodepools.karpenter.sh"
    scope: str  # "cluster-wide" or "in namespace x"
    shows: str  # what it would show

    def line(self) -> str:
        return (f"missing permission: {self.verbs} {self.resource} ({self.scope}): "
                f"it would show {self.shows}")


def attempt(read: Callable[[], T], missing: Missing, found: list[Missing]) -> T | None:
    """`read()`, or None when the account may not (the Missing is added to `found`)."""
    try:
        return read()
    except kube.Forbidden:
        if missing not in found:
            found.append(missing)
        return None


NODEPOOLS = Missing("list", "nodepools.karpenter.sh", "cluster-wide",
                    "each NodePool in Karpenter's order and why it can or cannot take the pod")
NODE = Missing("get", "nodes", "cluster-wide",
               "the node's instance type, capacity type, zone and price")
PODS_ON_NODE = Missing("list", "pods", "all namespaces",
                       "the other pods sharing the node")
DAEMONSETS = Missing("list", "daemonsets.apps", "cluster-wide",
                     "the DaemonSets every new node also runs, whose requests Karpenter adds "
                     "when it sizes a node")
EVENTS = Missing("list", "events", "in the pod's namespace",
                 "Karpenter's and the scheduler's words about the pod")
