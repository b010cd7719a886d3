"""The read-only tools' pure parts: which kubeconfig `--context`/`--kubeconfig` read, and what
the viewer's frame says when an account may not read nodes or when a node's type is not in
the kit's catalog (an EKS cluster). The real accounts are tested on the cluster
(tests/integration/test_7_read_only.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from workshop.k8s import clusterwatch, kube, usage
from workshop.lab import node_viewer as viewer


def test_target_picks_kubectls_file_and_nests(tmp_path, monkeypatch):
    cfg = tmp_path / "config"
    cfg.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}},
                     {"name": "b", "context": {"cluster": "c", "user": "u"}}]}))
    monkeypatch.setenv("KUBECONFIG", f"{cfg}:{tmp_path / 'other'}")
    assert not kube.remote()
    with kube.target(context="b"):
        assert kube.remote()
        assert kube._TARGET.get() == (None, "b")
        assert kube.context_namespace() is None
        with kube.target():  # neither: the outer target stays
            assert kube._TARGET.get() == (None, "b")
    with kube.target(kubeconfig=cfg):
        assert kube.context_namespace() == "team-a"  # its current context's
    assert not kube.remote()
    monkeypatch.delenv("KUBECONFIG")
    with kube.target(context="x"):
        assert kube._target_path(None, "x") == Path("~/.kube/config").expanduser()


def _pod(ns: str, name: str, node: str, phase: str = "Running") -> clusterwatch.PodRow:
    return clusterwatch.PodRow(ns, name, node, phase, usage.Requests(500, 2**29), False)


def test_a_frame_without_nodes_shows_the_namespaces_pods_and_the_missing_permissions():
    snap = clusterwatch.Snapshot(
        pods={("team", "api-1"): _pod("team", "api-1", "ip-10-0-1-7.ec2.internal"),
              ("team", "stuck-1"): _pod("team", "stuck-1", "", "Pending")},
        missing=["missing permission: list, watch nodes (cluster-wide): it would show every node"],
        hidden={"nodes"})
    f = viewer.frame(snap)
    assert f.nodes_hidden and f.unseen == [("team", "api-1", "ip-10-0-1-7.ec2.internal")]
    text = viewer.text(f)
    assert text.splitlines()[0] == "nodes: this account may not read them (below: what it can see)"
    assert "1 pods on nodes this account cannot read:\n  team/api-1 on ip-10-0-1-7.ec2.internal" in text
    assert "team/stuck-1: waiting for the scheduler" in text
    assert text.rstrip().endswith("missing permission: list, watch nodes (cluster-wide): it would show every node")
    assert "this account may not read them" in viewer.to_html(f)


def test_with_node_rights_a_pod_on_a_vanished_node_is_not_called_unreadable():
    """The kit's own account reads nodes: a pod whose node was just deleted (and a DaemonSet
    pod there) is not "on a node this account cannot read"."""
    ds = clusterwatch.PodRow("kube-system", "aws-node-x", "gone-node", "Running",
                             usage.Requests(25, 0), False, daemon=True)
    snap = clusterwatch.Snapshot(pods={("team", "api-1"): _pod("team", "api-1", "gone-node"),
                                       ("kube-system", "aws-node-x"): ds})
    f = viewer.frame(snap)
    assert f.unseen == [] and "cannot read" not in viewer.text(f)
    hidden = viewer.frame(clusterwatch.Snapshot(pods=snap.pods, hidden={"nodes"}))
    assert hidden.unseen == [("team", "api-1", "gone-node")]  # never the DaemonSet's pod


def test_eks_nodes_are_priced_from_the_catalog_and_unknown_types_are_named():
    labels = {"node.kubernetes.io/instance-type": "m5.large", "karpenter.sh/capacity-type": "on-demand",
              "topology.kubernetes.io/zone": "eu-west-1a", "karpenter.sh/nodepool": "default"}
    odd = dict(labels, **{"node.kubernetes.io/instance-type": "m99.large"})
    alloc = usage.Requests(1930, 7 * 2**30)
    snap = clusterwatch.Snapshot(nodes={
        "a": clusterwatch.NodeRow("a", labels, alloc, True, False, None),
        "b": clusterwatch.NodeRow("b", odd, alloc, True, False, None)})
    f = viewer.frame(snap)
    prices = {n.name: n.price for n in f.nodes}
    assert prices["a"] == viewer._catalog_price("m5.large", "us-west-2a", "on-demand") == 0.096
    assert prices["b"] is None and f.unpriced == ["m99.large"]
    assert "no price: m99.large not in the kit's catalog" in viewer.text(f)
