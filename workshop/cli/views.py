"""CLI verbs that look at the cluster: `workshop nodes` (the live viewer in a terminal) and
`workshop explain POD -n NS` (why this node, or why still Pending)."""

from __future__ import annotations



def _nodes(args) -> int:
    from workshop.lab import node_viewer

    return node_viewer.run_terminal(args.pool, args.namespace, once=args.once)


def _explain(args) -> int:
    from workshop.lab import explanation
    from workshop.k8s import kube

    kube.require_cluster()
    print(explanation.explain_pod(args.pod, args.namespace).text())
    return 0


def add_parsers(sub) -> None:
    n = sub.add_parser("nodes", help="live node viewer: nodes, pools, prices, pending pods (Ctrl-C stops)")
    n.add_argument("--pool", help="only this NodePool's nodes")
    n.add_argument("-n", "--namespace", help="only nodes running pods of this namespace")
    n.add_argument("--once", action="store_true", help="print one frame and exit")
    e = sub.add_parser("explain", help="why a pod runs where it does, or why it is Pending")
    e.add_argument("pod", help="a pod's name (or a Deployment's: its first pod)")
    e.add_argument("-n", "--namespace", default="default")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "nodes": _nodes,
    "explain": _explain,
}
