"""The platform's side of the cluster: Karpenter's CRDs, the node class, default NodePools.

Everything is applied server-side with the field manager `workshop-platform`, so
re-applying on every `make up` restores a default NodePool someone edited by hand (and is a
no-op when nothing changed).
"""

from __future__ import annotations

import time
from pathlib import Path

from workshop.k8s import kube
from workshop import paths
from workshop.errors import WorkshopError
from workshop.names import KARPENTER_API as NODEPOOL_API, NODECLASS_API

FIELD_MANAGER = "workshop-platform"
NODECLASS = "bottlerocket"
DEFAULT_NODEPOOLS = ("system-service-general-purpose", "system-service-gpu")


def manifest_files() -> list[Path]:
    return sorted(paths.PLATFORM_DIR.glob("*.yaml"))


def apply_crds(crd_dir: Path, timeout_s: float = 30) -> list[kube.Applied]:
    objs = kube.load_manifest_files(sorted(crd_dir.glob("*.yaml")))
    applied = kube.apply(objs, field_manager=FIELD_MANAGER)
    names = [o["metadata"]["name"] for o in objs]
    kube.wait_until(
        lambda: all(kube.is_true(kube.get("apiextensions.k8s.io/v1",
                                          "CustomResourceDefinition", n), "Established")
                    for n in names),
        timeout_s, 0.2, "Karpenter's CRDs to be Established",
    )
    if any(a.action != "unchanged" for a in applied):
        kube.forget_clients()  # discovery must see the new kinds
    return applied


def apply_defaults() -> list[kube.Applied]:
    return kube.apply(kube.load_manifest_files(manifest_files()), field_manager=FIELD_MANAGER)


def mark_nodeclass_ready(name: str = NODECLASS) -> None:
    """Set the node class's Ready condition, as the platform's controller would on EKS.

    Karpenter's kwok provider computes KWOKNodeClass readiness in memory but never writes
    it, so `kubectl get kwoknodeclass` would show no status. An EC2NodeClass shows Ready
    once its subnets and AMIs resolve; learners should see the same here.
    """
    obj = kube.get(NODECLASS_API, "KWOKNodeClass", name)
    if obj is None or kube.is_true(obj, "Ready"):
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    patch = {"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "Ready", "message": "",
        "lastTransitionTime": now,
        "observedGeneration": obj["metadata"].get("generation", 1),
    }]}}
    group, version = NODECLASS_API.split("/")
    api = kube.k8s.CustomObjectsApi(kube.api_client())
    kube.call(api.patch_cluster_custom_object_status, group, version, "kwoknodeclasses",
              name, patch)


def wait_defaults_ready(timeout_s: float = 30) -> None:
    def all_ready() -> bool:
        return all(kube.is_true(kube.get(NODEPOOL_API, "NodePool", n), "Ready")
                   for n in DEFAULT_NODEPOOLS)

    try:
        kube.wait_until(all_ready, timeout_s, 0.2, "the default NodePools to be Ready")
    except WorkshopError:
        not_ready = []
        for n in DEFAULT_NODEPOOLS:
            obj = kube.get(NODEPOOL_API, "NodePool", n)
            cond = kube.condition(obj, "Ready") or {}
            not_ready.append(f"{n}: {cond.get('reason') or 'no status yet'} {cond.get('message') or ''}")
        raise WorkshopError(
            "the default NodePools did not become Ready", detail="\n".join(not_ready),
            fix="check Karpenter's log (`make status` shows where it is)",
        ) from None
