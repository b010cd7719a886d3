"""`make bench`: how long the live viewer takes to show a new node (goal <= 1 s), measured
from the node's creation, with 10 and with 200 nodes in the cluster.

The nodes are plain Node objects made through the API (no kubelet, no Karpenter), tainted
so nothing is scheduled on them: the viewer's watches, model and HTML rendering are
measured, not Karpenter's launch time (bench.pod_to_running measures that).
"""

from __future__ import annotations

import statistics
import threading
import time

from workshop.k8s import kube
from workshop.lab import node_viewer

PREFIX = "bench-viewer-"
PROBES = 5


def _node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "node.kubernetes.io/instance-type": "m5.large",
                "topology.kubernetes.io/zone": "us-west-2a",
                "karpenter.sh/capacity-type": "on-demand", "bench": "viewer"}},
            "spec": {"taints": [{"key": "bench", "value": "viewer", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "29"}}}


def _create(name: str) -> None:
    kube.core().create_node(_node(name))


def _cleanup() -> None:
    kube.core().delete_collection_node(label_selector="bench=viewer")
    kube.wait_until(lambda: not kube.core().list_node(label_selector="bench=viewer").items,
                    60, 0.5, "the bench's nodes to go")


def latency(nodes: int) -> list[float]:
    """Seconds from creating a node to the first rendered frame that shows it, with
    `nodes` nodes already there."""
    have = len(kube.core().list_node(label_selector="bench=viewer").items)
    for i in range(have, nodes):
        _create(f"{PREFIX}{i}")
    seen: dict[str, float] = {}
    lock = threading.Lock()

    def on_render(f: node_viewer.Frame) -> None:
        node_viewer.to_html(f)  # the notebook pays for the HTML too
        now = time.monotonic()
        with lock:
            for n in f.nodes:
                seen.setdefault(n.name, now)

    live = node_viewer.Live(on_render).start()
    try:
        kube.wait_until(lambda: len(seen) >= nodes, 60, 0.05, f"the viewer to show {nodes} nodes")
        times = []
        for k in range(PROBES):
            name = f"{PREFIX}probe-{nodes}-{k}"
            t0 = time.monotonic()
            _create(name)
            kube.wait_until(lambda: name in seen, 30, 0.01, f"the viewer to show {name}")
            times.append(seen[name] - t0)
            time.sleep(0.3)  # probes apart, so each one starts from a quiet viewer
        return times
    finally:
        live.close()


def run() -> dict:
    out: dict = {}
    try:
        for n in (10, 200):
            times = latency(n)
            out[f"viewer_new_node_{n}_nodes_median_s"] = round(statistics.median(times), 3)
            out[f"viewer_new_node_{n}_nodes_max_s"] = round(max(times), 3)
    finally:
        _cleanup()
    return out
