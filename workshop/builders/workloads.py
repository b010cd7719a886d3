"""Check builders for a learner's Deployment and its pods: namespace, image, replicas,
requests, node selection, where its pods run, and that nothing is left behind."""

from __future__ import annotations

from collections import Counter
from typing import Collection

from workshop.grading.core import Check
from workshop.grading.core import Outcome
from workshop.grading.core import Status
from workshop.grading.core import failed
from workshop.grading.core import missing
from workshop.grading.core import passed
from workshop.grading.core import waiting
from workshop.instances import catalog
from workshop.k8s import daemonsets, kube, usage
from workshop.k8s import observe
from workshop.k8s import orphans
from workshop.k8s import selection
from workshop.builders.base import (
    CONSOLIDATION_WAIT_S, APPS_API, NODEPOOL_API, allows_label, deployment_containers, deployment_selector, get_deployment, known_node_labels, make_check, mentioned_labels, plural, pod_template_spec, pods_ready, replica_count, with_deployment,
)


def deployment_in_namespace(check_id: str, name: str, title: str | None = None, **options) -> Check:
    def fn(ctx) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name}"
        if get_deployment(ctx, name) is not None:
            return passed(f"in {ctx.namespace}", f"in {ctx.namespace}", where)
        elsewhere = sorted(d["metadata"]["namespace"]
                           for d in kube.list_(APPS_API, "Deployment")
                           if d["metadata"]["name"] == name)
        if elsewhere:
            return failed(f"in namespace {ctx.namespace}", "in " + ", ".join(elsewhere),
                          f"wrong namespace: it is in `{elsewhere[0]}`; this lesson works "
                          f"in `{ctx.namespace}`", where)
        return missing(f"Deployment {name} in namespace {ctx.namespace}",
                       f"create it in namespace `{ctx.namespace}`", where)

    return make_check(check_id, title or f"Deployment {name} exists in the lesson's namespace", fn,
                      options)


def deployment_image(check_id: str, name: str, image: str, title: str | None = None,
                     **options) -> Check:
    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.containers[].image"
        images = [c.get("image", "") for c in deployment_containers(dep)]
        if images and all(i == image for i in images):
            return passed(image, image, where)
        wrong = next((i for i in images if i != image), "no containers")
        same_repo = wrong.split(":")[0] == image.split(":")[0]
        hint = ("right image, other tag: check the tag after `:`" if same_repo
                else "check the image name against the exercise")
        return failed(image, wrong, hint, where)

    return make_check(check_id, title or f"Deployment {name} runs {image}",
                      with_deployment(name, fn), options)


def deployment_replicas(check_id: str, name: str, count: int, title: str | None = None,
                        **options) -> Check:
    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.replicas"
        have = replica_count(dep)
        if have == count:
            return passed(count, have, where)
        return failed(count, have, f"the Deployment keeps {plural(have, 'pod')}: "
                      "spec.replicas sets how many", where)

    return make_check(check_id, title or f"Deployment {name} has {count} replicas",
                      with_deployment(name, fn), options)


# What the scheduler and Karpenter see (requests default to limits): workshop/k8s/usage.py.


def container_requests(check_id: str, name: str, cpu: str, memory: str | None,
                       title: str | None = None, **options) -> Check:
    """Every container requests exactly `cpu` and `memory` (compared by value), as the
    scheduler sees it: requests left out default to the limits. memory None: the exercise
    asks only for CPU, any memory request passes."""
    want = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    expected = f"cpu {cpu}" + (f", memory {memory}" if memory else "") + " per pod"

    def fn(ctx, dep: dict) -> Outcome:
        where = (f"Deployment {ctx.namespace}/{name} "
                 ".spec.template.spec.containers[].resources.requests")
        from_limits: set[str] = set()
        for c in deployment_containers(dep):
            requests = usage.effective_requests(c)
            written = (c.get("resources") or {}).get("requests") or {}
            from_limits |= {r for r in want if r in requests and r not in written}
            absent = [r for r in want if r not in requests]
            if absent:
                found = f"container {c.get('name')}: no {' or '.join(absent)} request or limit"
                what = "no requests" if len(absent) == len(want) else f"no {absent[0]} request"
                return failed(expected, found,
                              f"{what}: Karpenter sizes nodes from pods' requests, so "
                              "without them it cannot choose an instance type that fits", where)
            for resource, text in want.items():
                if catalog.parse_quantity(str(requests[resource])) != catalog.parse_quantity(text):
                    source = "limit, so its request" if resource not in written else "request"
                    found = f"container {c.get('name')}: {resource} {source} {requests[resource]}"
                    return failed(expected, found,
                                  f"the {resource} request differs: check the number and its "
                                  "unit (m = thousandths of a CPU; Mi/Gi for memory)", where)
        if from_limits:
            return passed(expected, f"accepted: {expected} (no {' or '.join(sorted(from_limits))} "
                          "request written, so Kubernetes sets it equal to the limit)", where)
        return passed(expected, expected, where)

    return make_check(check_id, title or f"Deployment {name}'s pods request {cpu} CPU"
                      + (f" and {memory}" if memory else ""),
                      with_deployment(name, fn), options)


def learner_deployment(exercise: str, name: str, replicas: int, cpu: str | None = None,
                       memory: str | None = None) -> list[Check]:
    """The checks every exercise about a learner's Deployment starts with: it is in the
    lesson's namespace (`<exercise>.deployment`), keeps `replicas` pods (`.replicas`) and,
    when `cpu` is given, requests that much (and `memory`, when given) per pod (`.requests`).
    The checks after them should depend on `<exercise>.deployment`."""
    after = {"depends_on": [f"{exercise}.deployment"]}
    checks = [deployment_in_namespace(f"{exercise}.deployment", name),
              deployment_replicas(f"{exercise}.replicas", name, replicas, **after)]
    if cpu is not None:
        checks.append(container_requests(f"{exercise}.requests", name, cpu=cpu, memory=memory,
                                         **after))
    return checks


def placement(ctx, dep: dict) -> str:
    """Where the Deployment's pods run now, by NodePool ("" when none is on a node yet): what a
    hint may say about where pods go, because the checker saw it."""
    infos = observe.node_infos()
    pools = [infos[n].nodepool or "nodes outside any NodePool"
             for p in observe.pods(ctx.namespace, deployment_selector(dep))
             if (n := (p.get("spec") or {}).get("nodeName")) and n in infos]
    counts = Counter(pools)
    return ", ".join(f"{plural(n, 'pod')} on {pool}" for pool, n in sorted(counts.items()))


def _pins_pool(spec: dict, pools: list[str]) -> tuple[str, list[str]] | None:
    """The rules by which the pod's required selection keeps it on `pools[0]` (or also on
    the other `pools`, and on no other NodePool), with the pools it admits; None when it
    does not."""
    nodepools = kube.list_(NODEPOOL_API, "NodePool")
    admitted = selection.pools_admitting(spec, nodepools)
    if pools and pools[0] in admitted and set(admitted) <= set(pools):
        return selection.pinning_rules(spec, nodepools), admitted
    return None


def pod_template_requires_label(check_id: str, name: str, key: str, values: list[str],
                                unconstrained_hint: str, title: str | None = None,
                                pool: str | Collection[str] | None = None,
                                **options) -> Check:
    """The Deployment's pods may only run on nodes whose `key` label is one of `values`.

    Required means nodeSelector or required node affinity (either spelling passes); a
    preferred rule is only a wish and does not count. With `pool` (the NodePool, or the
    NodePools, whose nodes carry that label), any required selection that keeps the pods on
    those pools and no other passes too, with a remark: `karpenter.sh/nodepool`, the
    platform's `platform.workshop.dev/nodepool`, another label only those pools carry. The
    unconstrained hint is followed by where the pods run now, as read from the cluster.
    """
    expected = f"required {key} in ({', '.join(values)})"
    pools = [pool] if isinstance(pool, str) else list(pool or [])

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec (nodeSelector / affinity)"
        spec = pod_template_spec(dep)
        verdict = _requires_label(ctx, dep, spec, where)
        if verdict.status is Status.PASS or not pools:
            return verdict
        pinned = _pins_pool(spec, pools)
        if pinned is None:
            return verdict
        rules, admitted = pinned
        label = " or ".join(f"`{key}: {v}`" for v in values)
        return passed(expected, f"{rules} keeps the pods on {' and '.join(admitted)} (accepted; "
                      f"the exercise selects {label}: a label that says what the pods need "
                      "keeps working when the platform renames or splits a pool)", where)

    def _requires_label(ctx, dep: dict, spec: dict, where: str) -> Outcome:
        known = known_node_labels(ctx)
        required = mentioned_labels(spec, "required")
        universe = set(known.get(key, set())) | set(values) | {
            v for k, vs in required if k == key for v in vs}
        # Nodes without the label exist unless every offering carries it (capacity type does).
        candidates: list[str | None] = sorted(universe)
        if not all(key in o.labels for o in ctx.catalog.offerings):
            candidates.append(None)
        allowed = {v for v in candidates if allows_label(spec, key, v)}
        shown = ", ".join("(no label)" if v is None else v
                          for v in sorted(allowed, key=lambda v: (v is None, v or "")))
        if allowed == set(values):
            return passed(expected, f"required {key} in ({shown})", where)
        on_key = [vs for k, vs in required if k == key]
        if not on_key:
            unknown_keys = [k for k, _ in required if k not in known]
            if unknown_keys:
                return failed(expected, f"selects on `{unknown_keys[0]}`",
                              f"no node has a label `{unknown_keys[0]}`: select on a key nodes "
                              "carry (`kubectl get nodes --show-labels`)", where)
            if any(k == key for k, _ in mentioned_labels(spec, "preferred")):
                return failed(expected, f"only a preferred rule on {key}",
                              "preferred is only a wish: the scheduler may still place pods "
                              "elsewhere; this needs a required rule", where)
            now = placement(ctx, dep)
            return failed(expected, f"nothing requires {key}",
                          unconstrained_hint + (f" (right now: {now})" if now else ""), where)
        unknown = [v for vs in on_key for v in vs if v not in known.get(key, set())]
        if unknown:
            return failed(expected, f"requires {key} = {unknown[0]}",
                          f"no node carries `{key}={unknown[0]}`: label values are exact and "
                          "case-sensitive", where)
        return failed(expected, f"allows {key} in ({shown or 'nothing'})",
                      f"the rule on {key} allows other values than the exercise asks for", where)

    return make_check(check_id, title or f"Deployment {name}'s pods require {key}",
                      with_deployment(name, fn), options)


# One reading of a pending pod's events (workshop/k8s/pending.py); these names stay importable
# from here because lessons' graders call them.




def pods_ready_on_pool(check_id: str, name: str, count: int, pool: str,
                       misplaced_hint: str = "some pods run on nodes of another NodePool: "
                       "check how the pod template selects nodes",
                       title: str | None = None, **options) -> Check:
    return pods_ready(check_id, name, count, lambda i: i.nodepool == pool,
                      f"{pool} nodes", misplaced_hint,
                      title or f"{count} pods of {name} Ready on {pool} nodes", options)


def pods_ready_with_node_label(check_id: str, name: str, count: int, key: str, value: str,
                               misplaced_hint: str, title: str | None = None,
                               **options) -> Check:
    return pods_ready(check_id, name, count, lambda i: i.labels.get(key) == value,
                      f"nodes with {key}={value}", misplaced_hint,
                      title or f"{count} pods of {name} Ready on {key}={value} nodes", options)


def deployment_scaled_to_zero(check_id: str, name: str, title: str | None = None,
                              **options) -> Check:
    def fn(ctx) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.replicas"
        dep = get_deployment(ctx, name)
        if dep is None:
            # Only its events tell a Deployment the learner deleted from one never made
            # (a reset must clear them too, or it would look deleted).
            if not kube.events_for("Deployment", name, ctx.namespace):
                return missing(f"Deployment {name} scaled to 0",
                               f"there is no Deployment {name} in {ctx.namespace}: do the "
                               "earlier exercises first", where)
            # Deleting also frees the nodes: accepted, but scaling keeps the Deployment.
            return passed(0, "the Deployment was deleted (accepted; scaling to 0 would keep "
                          "it for later)", where)
        have = replica_count(dep)
        if have == 0:
            return passed(0, 0, where)
        return failed(0, have, f"the Deployment still keeps {plural(have, 'pod')}", where)

    return make_check(check_id, title or f"Deployment {name} is scaled to 0", fn, options)


def no_pods_left(check_id: str, owner: str, title: str | None = None, **options) -> Check:
    """No pod in the lesson's namespace keeps a node alive (the owner's may still be going)."""

    def fn(ctx) -> Outcome:
        where = f"pods in namespace {ctx.namespace}"
        dep = get_deployment(ctx, owner)
        mine = set()
        if dep is not None:
            mine = {p["metadata"]["uid"] for p in observe.pods(ctx.namespace, deployment_selector(dep))}
        live = [p for p in observe.pods(ctx.namespace)
                if not p["metadata"].get("deletionTimestamp")]
        others = [p for p in live if p["metadata"]["uid"] not in mine]
        if others:
            names = [p["metadata"]["name"] for p in others]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            found = ", ".join(f"{p['metadata']['name']} on "
                              f"{p['spec'].get('nodeName') or '(not scheduled)'}"
                              for p in others[:4])
            one = len(names) == 1
            return failed("no pods", found,
                          f"{shown} {'keeps its node' if one else 'keep their nodes'} alive: "
                          f"delete {'it' if one else 'them'} (or scale the owner to 0)", where)
        if live:
            return waiting("no pods", f"{plural(len(live), 'pod')} of {owner} still running",
                           f"{owner}'s pods are going away", where)
        return passed("no pods", "no pods", where)

    # Polls only while the owner's own pods are still terminating.
    return make_check(check_id, title or "No pods left in the lesson's namespace", fn, options,
                      wait_s=30)


def no_empty_nodes(check_id: str, pool: str, title: str | None = None, **options) -> Check:
    """Consolidation has removed every node of `pool` that no longer runs a pod."""
    where = f"nodes of NodePool {pool}"

    def fn(ctx) -> Outcome:
        orphans.sweep()  # a node whose NodeClaim is gone would stay empty forever
        nodes = observe.nodes(f"{observe.NODEPOOL_LABEL}={pool}")
        busy = {p["spec"].get("nodeName") for p in kube.list_("v1", "Pod")
                if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                # Karpenter calls a node whose pods all belong to DaemonSets empty.
                and not daemonsets.is_daemon_pod(p)}
        empty = [n["metadata"]["name"] for n in nodes if n["metadata"]["name"] not in busy]
        if not empty:
            return passed("no empty nodes", f"{plural(len(nodes), 'node')}, none empty", where)
        return waiting("no empty nodes", f"{plural(len(empty), 'empty node')}: "
                       + ", ".join(empty[:3]),
                       "Karpenter removes empty nodes after the NodePool's consolidateAfter; "
                       "give it a few more seconds", where)

    return make_check(check_id, title or f"No empty {pool} nodes are left", fn, options,
                      wait_s=CONSOLIDATION_WAIT_S)
