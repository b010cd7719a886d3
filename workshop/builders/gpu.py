"""Check builders for GPU workloads and GPU NodePools (lesson 06).

    container_gpu_limit("6.1.gpu", "gpu-inference", 1)
    taint_checks.pods_tolerate("6.1.toleration", "gpu-inference", **GPU_TAINT)
    gpu_pods_ready("6.1.ready", "gpu-inference", 1, pool="system-service-gpu")

An NVIDIA GPU node is one whose instance type has `karpenter.k8s.aws/instance-gpu-count` > 0
and `instance-gpu-manufacturer: nvidia`, as the AWS provider labels them. AWS's own
accelerators (Inferentia, Trainium) carry `instance-accelerator-*` labels and the
`aws.amazon.com/neuron` resource instead, so they are never taken for a GPU here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from workshop.instances import catalog
from workshop.k8s import kube, observe
from workshop.builders.base import (
    NODEPOOL_API, make_check, deployment_containers, mentioned_labels, pod_template_spec, pods_ready, affinity_terms,
    with_deployment, with_nodepool,
)
from workshop.grading.core import Check, Outcome, Status, failed, passed

GPU = catalog.GPU_RESOURCE
GPU_COUNT, GPU_NAME = catalog.AWS_GPU_COUNT, catalog.AWS_GPU_NAME
GPU_MANUFACTURER = catalog.AWS_GPU_MANUFACTURER
# The platform taints every GPU pool with it (cluster/platform/20-system-service-gpu.yaml).
GPU_TAINT = {"key": GPU, "value": "true", "effect": "NoSchedule"}


def is_nvidia_gpu(labels: Mapping[str, str]) -> bool:
    count = labels.get(GPU_COUNT, "0")
    return labels.get(GPU_MANUFACTURER) == "nvidia" and count.isdigit() and int(count) > 0


def _gpu_limit(dep: dict) -> int:
    total = 0
    for c in deployment_containers(dep):
        value = ((c.get("resources") or {}).get("limits") or {}).get(GPU)
        total += int(catalog.parse_quantity(str(value))) if value is not None else 0
    return total


# ------------------------------------------------------------------ the pod's side


def container_gpu_limit(check_id: str, name: str, count: int, title: str | None = None,
                        **options) -> Check:
    """The pod asks for `count` nvidia.com/gpu in its containers' limits (requests follow)."""
    expected = f"resources.limits {GPU}: {count} per pod"

    def fn(ctx, dep: dict) -> Outcome:
        where = (f"Deployment {ctx.namespace}/{name} "
                 ".spec.template.spec.containers[].resources.limits")
        have = _gpu_limit(dep)
        if have == count:
            return passed(expected, f"{GPU}: {have}", where)
        if have:
            return failed(expected, f"{GPU}: {have}",
                          f"the pod asks for {have} GPUs: check the number", where)
        for c in deployment_containers(dep):
            res = c.get("resources") or {}
            if GPU in (res.get("requests") or {}):
                return failed(expected, f"container {c.get('name')}: {GPU} only in requests",
                              f"`{GPU}` only in requests: extended resources go in limits "
                              "(requests default to them)", where)
            near = [k for k in (res.get("limits") or {}) if "gpu" in k.lower()]
            if near:
                return failed(expected, f"limits {near[0]}: {res['limits'][near[0]]}",
                              f"`{near[0]}` is not the GPU's resource name: names are exact "
                              f"and lower case (`{GPU}`), and no node offers `{near[0]}`", where)
        if any(k == GPU_COUNT for k, _ in mentioned_labels(pod_template_spec(dep), "required")):
            return failed(expected, f"no {GPU} limit; a selector on {GPU_COUNT}",
                          f"a selector on {GPU_COUNT} picks a node that has GPUs but gives the "
                          f"container none: ask for the GPU under resources.limits "
                          f"(`{GPU}: {count}`)", where)
        return failed(expected, f"no {GPU} limit",
                      f"no GPU asked for: `{GPU}` is an extended resource and goes under "
                      "resources.limits (the request then defaults to the limit)", where)

    return make_check(check_id, title or f"{name}'s pods ask for {count} GPU in limits",
                      with_deployment(name, fn), options)


def _selection_admits(pod_spec: dict, labels: Mapping[str, str],
                      keys: Iterable[str] | None = None) -> bool:
    """Would the pod's nodeSelector and required node affinity accept a node with `labels`?
    With `keys`, rules on other keys are ignored (they say nothing about the catalog)."""
    keep = (lambda k: True) if keys is None else (lambda k, ks=set(keys): k in ks)
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if keep(k) and labels.get(k) != v:
            return False
    terms = affinity_terms(pod_spec, "required")
    if not terms:
        return True
    return any(catalog.matches([e for e in t.get("matchExpressions") or [] if keep(e.get("key"))],
                               labels) for t in terms)


def _pool_nodes(ctx) -> list[tuple[str, catalog.Offering, dict]]:
    """(pool, offering, node labels) of every node any NodePool could launch."""
    found = []
    for pool in kube.list_(NODEPOOL_API, "NodePool"):
        name = pool["metadata"]["name"]
        template = (pool.get("spec") or {}).get("template") or {}
        reqs = (template.get("spec") or {}).get("requirements") or []
        extra = {"karpenter.sh/nodepool": name,
                 **((template.get("metadata") or {}).get("labels") or {})}
        # A custom key's single value becomes a node label too.
        extra.update({r["key"]: r["values"][0] for r in reqs
                      if r.get("key") not in ctx.catalog.label_keys
                      and r.get("operator") == "In" and len(r.get("values") or []) == 1})
        try:
            admitted = ctx.catalog.admitted(reqs)
        except catalog.CatalogError:
            continue
        found += [(name, o, {**o.labels, **extra}) for o in admitted]
    return found


def pods_reach_gpus(check_id: str, name: str, title: str | None = None, **options) -> Check:
    """Some NodePool can launch an NVIDIA GPU node that the pods' selection accepts."""
    expected = "the pods' node selection admits NVIDIA GPU instance types"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec (nodeSelector / affinity)"
        spec = pod_template_spec(dep)
        want = max(_gpu_limit(dep), 1)
        reachable = [(p, o) for p, o, labels in _pool_nodes(ctx)
                     if _selection_admits(spec, labels)]
        pools = sorted({p for p, _ in reachable})
        gpu = sorted({p for p, o in reachable
                      if is_nvidia_gpu(o.labels) and int(o.labels[GPU_COUNT]) >= want})
        if gpu:
            return passed(expected, f"GPU instance types of {', '.join(gpu)}", where)
        if not pools:
            return failed(expected, "no NodePool makes nodes these pods select",
                          "no NodePool puts the labels these pods select on its nodes: "
                          "compare the selector with the NodePools' labels", where)
        return failed(expected, f"selects only {', '.join(pools)}",
                      f"the pools these pods select ({', '.join(pools)}) have no NVIDIA GPU "
                      f"instance types with {want} GPU(s): GPUs come from GPU families, which "
                      "the platform serves from system-service-gpu", where)

    return make_check(check_id, title or f"{name}'s pods can reach GPU nodes",
                      with_deployment(name, fn), options)


def pods_only_on_gpu(check_id: str, name: str, gpu_name: str, title: str | None = None,
                     **options) -> Check:
    """Of the catalog's NVIDIA GPU offerings, the pods' selection admits only `gpu_name` ones.

    Graded on meaning: `instance-gpu-name: a10g` and `instance-family: g5` both pass.
    """
    expected = f"only {GPU_NAME} = {gpu_name}"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec (nodeSelector / affinity)"
        spec = pod_template_spec(dep)
        gpus = [o for o in ctx.catalog.offerings if is_nvidia_gpu(o.labels)]
        allowed = [o for o in gpus if _selection_admits(spec, o.labels, ctx.catalog.label_keys)]
        names = sorted({o.labels[GPU_NAME] for o in allowed})
        known = sorted({o.labels[GPU_NAME] for o in gpus})
        if names == [gpu_name]:
            on_name = any(k == GPU_NAME for k, _ in mentioned_labels(spec, "required"))
            families = ", ".join(sorted({o.family for o in allowed}))
            return passed(expected, f"{GPU_NAME} {gpu_name}" if on_name else
                          f"{families} only (accepted: that family's GPU is {gpu_name})", where)
        if not allowed:
            asked = [v for k, vs in mentioned_labels(spec, "required") if k == GPU_NAME for v in vs]
            odd = next((v for v in asked if v not in known), None)
            if odd:
                hint = (f"no instance type has {GPU_NAME} `{odd}`: label values are exact "
                        f"and lower case ({', '.join(known)})")
            else:
                hint = "these rules admit no NVIDIA GPU instance type at all"
            return failed(expected, "no GPU instance type", hint, where)
        mentioned = {k for k, _ in mentioned_labels(spec, "required")}
        if not mentioned & ctx.catalog.label_keys:
            return failed(expected, f"any GPU: {', '.join(names)}",
                          f"nothing narrows the GPU model: select {GPU_NAME}", where)
        return failed(expected, f"GPUs {', '.join(names)}",
                      f"these rules also admit other GPUs: narrow them to {gpu_name}", where)

    return make_check(check_id, title or f"{name} runs only on {gpu_name} GPUs",
                      with_deployment(name, fn), options)


def gpu_pods_ready(check_id: str, name: str, count: int, pool: str | None = None,
                   gpu_name: str | None = None, title: str | None = None, **options) -> Check:
    """`count` pods Ready on NVIDIA GPU nodes (of `pool`, with `gpu_name` GPUs if given)."""
    def on(info: observe.NodeInfo) -> bool:
        return (is_nvidia_gpu(info.labels) and (pool is None or info.nodepool == pool)
                and (gpu_name is None or info.labels.get(GPU_NAME) == gpu_name))

    text = " ".join(filter(None, [pool, gpu_name, "GPU nodes"]))
    check = pods_ready(check_id, name, count, on, text,
                       f"some pods run on nodes that are not {text}: check the selector",
                       title or f"{count} pods of {name} Ready on {text}", options)
    check.fn = _gpu_pending_hints(check.fn)
    return check


def _gpu_pending_hints(fn):
    """Karpenter answers a GPU pod with one clause per NodePool, and the pools without GPUs
    always say "no instance type satisfied resources": true, but not the pod's mistake when
    the GPU pool's clause says the pod did not tolerate its taint."""
    def check(ctx) -> Outcome:
        out = fn(ctx)
        event = (out.event or "").lower()
        if out.status is not Status.FAIL or not event:
            return out
        if "did not tolerate" in event and GPU in event:
            return replace(out, hint="the GPU nodes are tainted nvidia.com/gpu and these pods "
                           "do not tolerate it: add the toleration")
        if "no instance type" in event and "did not tolerate" not in event:
            return replace(out, hint="no NodePool these pods may use has an instance type "
                           "with the GPUs they ask for: GPU instance types are only in GPU "
                           "pools (the platform's system-service-gpu)")
        return out

    return check


# ------------------------------------------------------------------ the pool's side


def nodepool_gpu_limit(check_id: str, name: str, count: int, title: str | None = None,
                       **options) -> Check:
    expected = f"{GPU}: {count}"
    where = f"NodePool {name} .spec.limits"

    def fn(ctx, pool: dict) -> Outcome:
        limits = (pool.get("spec") or {}).get("limits") or {}
        found = ", ".join(f"{k}: {v}" for k, v in limits.items()) or "no limits"
        if GPU in limits:
            if catalog.parse_quantity(str(limits[GPU])) == count:
                return passed(expected, found, where)
            return failed(expected, found, "the GPU limit differs from the one asked for",
                          where)
        near = next((k for k in limits if "gpu" in k.lower()), None)
        if near:
            return failed(expected, found,
                          f"`{near}` is not the resource Karpenter counts: limits are compared "
                          f"by exact resource name (`{GPU}`), so this limit never bites", where)
        return failed(expected, found, f"no {GPU} limit: the pool may launch GPUs without "
                      "bound", where)

    return make_check(check_id, title or f"NodePool {name} is limited to {count} GPUs",
                      with_nodepool(name, fn), options)
