"""CLI verbs that look at the cluster: `workshop nodes` (the live viewer in a terminal) and
`workshop explain POD -n NS` (why this node, or why still Pending)."""

from __future__ import annotations



def _nodes(args) -> int:
    from workshop.lab import node_viewer as viewer

    return viewer.run_terminal(args.pool, args.namespace, once=args.once,
                               context=args.context, kubeconfig=args.kubeconfig)


def _explain(args) -> int:
    from workshop.lab import explanation as explain
    from workshop.k8s import kube

    with kube.target(args.kubeconfig, args.context):
        kube.require_cluster()
        namespace = args.namespace or kube.context_namespace() or "default"
        print(explain.explain_pod(args.pod, namespace).text())
    return 0


def add_parsers(sub) -> None:
    n = sub.add_parser("nodes", help="live node viewer: nodes, pools, prices, pending pods (Ctrl-C stops)")
    n.add_argument("--pool", help="only this NodePool's nodes")
    n.add_argument("-n", "--namespace", help="only nodes running pods of this namespace")
    n.add_argument("--once", action="store_true", help="print one frame and exit")
    _target_args(n)
    e = sub.add_parser("explain", help="why a pod runs where it does, or why it is Pending")
    e.add_argument("pod", help="a pod's name (or a Deployment's: its first pod)")
    e.add_argument("-n", "--namespace",
                   help="the pod's namespace (default: the context's, else `default`)")
    _target_args(e)


def _target_args(p) -> None:
    """Another cluster running Karpenter v1 (EKS included), read only."""
    p.add_argument("--context", help="a kubeconfig context: read that cluster (never writes)")
    p.add_argument("--kubeconfig", help="a kubeconfig file (default with --context: "
                   "$KUBECONFIG or ~/.kube/config)")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "nodes": _nodes,
    "explain": _explain,
}
