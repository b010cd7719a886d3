"""The live viewer counts a node's workload pods apart from its DaemonSet pods (no cluster)."""

from __future__ import annotations

from workshop.k8s.clusterwatch import NodeRow, PodRow, Snapshot, pod_row
from workshop.k8s.usage import Requests
from workshop.lab.node_viewer import frame, text, to_html


def pod(name: str, node: str, cpu: int, owner: str, ns: str = "lesson-01", phase="Running") -> dict:
    return {"metadata": {"namespace": ns, "name": name,
                         "ownerReferences": [{"kind": owner, "name": name.split("-")[0]}]},
            "spec": {"nodeName": node,
                     "containers": [{"name": "c", "resources": {"requests": {"cpu": f"{cpu}m"}}}]},
            "status": {"phase": phase}}


def test_daemon_pods_fill_the_bars_but_are_not_counted_as_pods():
    node = NodeRow("n1", {"karpenter.sh/nodepool": "p"}, Requests(1900, 2**30), True, False, None)
    rows = [pod_row(pod("inflate-1", "n1", 1000, "ReplicaSet")),
            pod_row(pod("proxy-1", "n1", 100, "DaemonSet", "kube-system")),
            pod_row(pod("fluent-1", "n1", 50, "DaemonSet", "kube-system")),
            pod_row(pod("agent-2", "", 25, "DaemonSet", "kube-system", "Pending"))]
    assert [r.daemon for r in rows] == [False, True, True, True]
    snap = Snapshot(nodes={"n1": node}, pods={(r.namespace, r.name): r for r in rows})
    f = frame(snap)
    (line,) = f.nodes
    assert (line.pods, line.daemon_pods, f.pods) == (1, 2, 1)
    assert line.used.cpu_millis == 1150, "the bars show what Karpenter and the scheduler count"
    assert f.pending == [], "a DaemonSet's pod is no one's pending workload"
    assert "1 pods +2 ds" in text(f)
    assert "+2 ds" in to_html(f)


def test_a_pod_row_without_owner_is_a_workload():
    row = PodRow("ns", "p", "n", "Running", Requests(), False)
    assert row.daemon is False
