"""The custom-pool request `workshop try` drafts for a workload the platform's default pools
do not serve: the generator's own Request (workshop/platform/request.py), sized for the
workload's pods on the cheapest catalog type that holds one, with the team label, taints
and labels its pods already select and tolerate. Pure: the catalog only, no cluster.
"""

from __future__ import annotations

import math
import shlex

from workshop.instances import catalog
from workshop.k8s import usage
from workshop.names import GPU_RESOURCE
from workshop.platform import request
from workshop.platform.trial_plan import Workload


def draft_request(w: Workload, spec: dict, cat: catalog.Catalog) -> tuple[request.Request | None, str]:
    """The custom pool that would hold this workload: (request, "") or (None, why not)."""
    req = usage.pod_requests(spec)
    selector = {k: str(v) for k, v in (spec.get("nodeSelector") or {}).items()}
    catalog_reqs = [r for r in _pod_requirements(spec) if r.get("key") in cat.label_keys]
    best = cat.cheapest(catalog_reqs, req.cpu_millis, req.memory_mib, req.gpus)
    if best is None:
        return None, (f"no instance type in the catalog holds one pod ({req}) with its "
                      "requirements: no pool could; lower the requests or widen the selection")
    it = cat.by_name(best.instance_type)
    per_node = min(it.allocatable_cpu_millis // max(req.cpu_millis, 1),
                   it.allocatable_memory_mib // max(req.memory_mib, 1),
                   (it.gpus // req.gpus) if req.gpus else 10**6, it.pods)
    nodes = math.ceil(max(w.pods, 1) / max(per_node, 1))
    families = sorted({v for r in catalog_reqs if r.get("key") == catalog.AWS_FAMILY
                       and r.get("operator") == "In" for v in r.get("values") or []}) or [it.family]
    capacity = sorted({v for r in catalog_reqs if r.get("key") == catalog.CAPACITY_TYPE
                       and r.get("operator") == "In" for v in r.get("values") or []})
    team = selector.get(request.TEAM_LABEL) or _team_from(w.name)
    taints = sorted({f"{t['key']}={t.get('value', '')}:{t['effect']}"
                     for t in spec.get("tolerations") or []
                     if t.get("key") and t.get("key") != GPU_RESOURCE
                     and (t.get("operator") or "Equal") == "Equal"
                     and t.get("effect") in ("NoSchedule", "NoExecute")})
    labels = sorted(f"{k}={v}" for k, v in selector.items()
                    if k != request.TEAM_LABEL and k not in cat.label_keys and "kubernetes.io" not in k)
    return request.Request(team, vcpu=nodes * it.vcpu, memory_gi=math.ceil(nodes * it.memory_mib / 1024),
                           gpus=nodes * it.gpus if req.gpus else 0, families=tuple(families),
                           taints=tuple(taints), labels=tuple(labels),
                           capacity_types=tuple(capacity)), ""


def _pod_requirements(spec: dict) -> list[dict]:
    reqs = [{"key": k, "operator": "In", "values": [str(v)]}
            for k, v in (spec.get("nodeSelector") or {}).items()]
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    return reqs + ((terms[0].get("matchExpressions") or []) if terms else [])


def _team_from(name: str) -> str:
    team = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return (team or "my-team")[: request.MAX_TEAM].rstrip("-")


def command_line(req: request.Request) -> str:
    """The generator's command for this request (shell-quoted where needed)."""
    parts = ["workshop", "request", "--team", req.team, "--vcpu", str(req.vcpu),
             "--memory-gi", str(req.memory_gi)]
    if req.gpus:
        parts += ["--gpus", str(req.gpus)]
    parts += ["--families", ",".join(req.families)]
    if req.capacity_types:
        parts += ["--capacity-type", ",".join(req.capacity_types)]
    for t in req.taints:
        parts += ["--taint", t]
    for label in req.labels:
        parts += ["--label", label]
    return " ".join(shlex.quote(x) for x in parts)
