"""Workload manifests the kit creates itself (benchmarks, tests, notebook demos).

Pods run the pause image: kwok never runs containers, but the image is what a real
cluster would pull, so the YAML a learner sees stays valid on EKS.
"""

from __future__ import annotations
from workshop.names import APPS_API

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def pod_spec(cpu: str | None = "1", memory: str | None = "1Gi", gpus: int = 0,
             node_selector: dict | None = None, tolerations: list | None = None,
             affinity: dict | None = None, extra: dict | None = None) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    resources: dict = {"requests": requests} if requests else {}
    if gpus:
        # Extended resources must be set in limits (requests default to them).
        resources.setdefault("limits", {})["nvidia.com/gpu"] = str(gpus)
    spec: dict = {
        "containers": [{"name": "app", "image": PAUSE_IMAGE, "resources": resources}],
        # Pause exits at once on SIGTERM; a short grace keeps scale-downs quick.
        "terminationGracePeriodSeconds": 0,
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if affinity:
        spec["affinity"] = affinity
    spec.update(extra or {})
    return spec


def deployment(name: str, namespace: str, replicas: int = 1, **pod) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": APPS_API,
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(**pod)},
        },
    }


def toleration(key: str, value: str | None = None, effect: str = "NoSchedule") -> dict:
    tol = {"key": key, "operator": "Equal" if value is not None else "Exists", "effect": effect}
    if value is not None:
        tol["value"] = value
    return tol


GPU_TOLERATION = toleration("nvidia.com/gpu", "true")
