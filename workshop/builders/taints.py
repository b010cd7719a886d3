"""Check builders for taints, tolerations and startup taints (lesson 03).

    nodepool_taint("3.1.taint", "batch", "workload", "batch")
    pods_tolerate("3.2.toleration", "batch-worker", "workload", "batch")
    nodepool_startup_taint("3.3.startup-taint", "agent-ready", "example.com/agent-not-ready", "true")

Facts from Karpenter v1.14.1 (pkg/controllers/provisioning/scheduling/nodeclaim.go,
pkg/scheduling/taints.go, pkg/controllers/nodeclaim/lifecycle/initialization.go): Karpenter
launches a node for a pod only if the pod tolerates the NodePool's `taints` (else its event
says "did not tolerate taint (taint=key=value:Effect)"); `startupTaints` are ignored for
that decision; a node is not initialized while it still carries a startup taint its
NodeClaim declared; and Karpenter itself tolerates PreferNoSchedule taints when relaxing
preferences, so such a pool takes other pods as well.
"""

from __future__ import annotations

from typing import Any

from workshop.k8s import observe
from workshop.builders import base as c
from workshop.builders import workloads
from workshop.grading.core import Check, Outcome, failed, passed, waiting
from workshop.k8s.node_agent import pool_nodes, tainted_nodes
from workshop.k8s.taints import (NO_SCHEDULE, Taint, describe_toleration, kubectl_untaint, tolerates,
                                 value_hint)


def _taints(pool: dict, field: str) -> list[Taint]:
    return [Taint.of(t) for t in c.pool_template_spec(pool).get(field) or []]


def _listing(taints: list[Taint]) -> str:
    return ", ".join(map(str, taints)) or "none"


def _placed(np: dict, want: Taint, right: str, wrong_hint: str,
            where: str) -> tuple[Outcome | None, list[Taint], str]:
    """Is `want` in the pool's `right` list ("taints" or "startupTaints")? A verdict when it
    is, or when it sits in the other list (`wrong_hint`); else None, with the right list's
    taints and the `found` text for the caller's own diagnosis."""
    lists = {f: _taints(np, f) for f in ("taints", "startupTaints")}
    found = "; ".join(f"{f}: {_listing(ts)}" for f, ts in lists.items())
    wrong = "startupTaints" if right == "taints" else "taints"
    if want in lists[right] and want not in lists[wrong]:
        return passed(want, found, where), lists[right], found
    if want in lists[wrong]:
        return failed(want, found, wrong_hint, where), lists[right], found
    return None, lists[right], found


def _typo_hint(want: Taint, have: list[Taint]) -> str | None:
    """A hint when a taint differs from `want` in one part only (key, value or effect)."""
    for t in have:
        if t.key == want.key and t.effect == want.effect:
            return value_hint(t, want)
        if t.value == want.value and t.effect == want.effect:
            return f"taint key `{t.key}` is not the one asked for: check the key's spelling"
    return None


def nodepool_taint(check_id: str, pool: str, key: str, value: str,
                   effect: str = NO_SCHEDULE, title: str | None = None, **options) -> Check:
    """NodePool `pool` taints its nodes `key=value:effect` (under `taints`, for good)."""
    want = Taint(key, value, effect)
    where = f"NodePool {pool} .spec.template.spec.taints"

    def fn(ctx, np: dict) -> Outcome:
        verdict, have, found = _placed(
            np, want, "taints", "the taint is under `startupTaints`: Karpenter expects an "
            "agent to remove those soon after the node starts, and launches nodes for pods "
            "that do not tolerate them. A taint that keeps other pods off for good goes under "
            "`taints`", where)
        if verdict:
            return verdict
        same = [t for t in have if (t.key, t.value) == (key, value)]
        if same and same[0].effect == "PreferNoSchedule":
            return failed(want, found,
                          "`PreferNoSchedule` only asks the scheduler to avoid these nodes: "
                          "other pods may still land on them (Karpenter tolerates "
                          f"PreferNoSchedule when it runs out of options); use `{effect}`",
                          where)
        if same:
            return failed(want, found, f"the taint's effect is `{same[0].effect}`; the "
                          f"exercise asks for `{effect}`", where)
        hint = _typo_hint(want, have)
        if hint:
            return failed(want, found, hint, where)
        return failed(want, found,
                      f"no taint `{want}`: without it any pod may land on this pool's nodes",
                      where)

    return c.make_check(check_id, title or f"NodePool {pool} taints its nodes {want}",
                        c.with_nodepool(pool, fn), options)


def nodepool_startup_taint(check_id: str, pool: str, key: str, value: str,
                           effect: str = NO_SCHEDULE, title: str | None = None,
                           **options) -> Check:
    """NodePool `pool` declares `key=value:effect` under `startupTaints`, not `taints`."""
    want = Taint(key, value, effect)
    where = f"NodePool {pool} .spec.template.spec.startupTaints"

    def fn(ctx, np: dict) -> Outcome:
        verdict, startup, found = _placed(
            np, want, "startupTaints", "the taint is under `taints`: Karpenter launches nodes "
            "only for pods that tolerate a pool's taints, and these pods don't (its event: "
            "\"did not tolerate taint\"). Put it under `startupTaints`, which Karpenter puts on "
            "new nodes without asking pods to tolerate it", where)
        if verdict:
            return verdict
        hint = _typo_hint(want, startup)
        if hint:
            return failed(want, found, hint, where)
        stuck = tainted_nodes(pool, key)
        if stuck:
            return failed(want, found,
                          f"the NodePool no longer declares it, but node {stuck[0]} still "
                          "carries it: a NodePool's startup taints are copied onto each node "
                          "when it is launched, so removing it from the NodePool never frees "
                          "a node that exists. Put it back, and remove the taint from the "
                          "node as the agent would (remove_taint)", where)
        return failed(want, found,
                      f"no startup taint `{want}`: new nodes would arrive without it, so pods "
                      "could start before the agent is ready (removing it from the NodePool "
                      "is not how the agent frees a node: it removes the taint from the node)",
                      where)

    return c.make_check(check_id, title or f"NodePool {pool} declares the startup taint {want}",
                        c.with_nodepool(pool, fn), options)


def _tolerations(dep: dict) -> list[dict]:
    return list(c.pod_template_spec(dep).get("tolerations") or [])


def near_miss(tolerations: list[dict], want: Taint) -> str:
    """Why the toleration closest to `want` does not tolerate it."""
    for t in tolerations:
        if (t.get("key") or "") not in ("", want.key):
            continue
        if t.get("effect") and t["effect"] != want.effect:
            return (f"the toleration is for effect `{t['effect']}`, the taint's effect is "
                    f"`{want.effect}`: effects must match (or leave the effect out)")
        if (t.get("operator") or "Equal") == "Equal" and not t.get("value"):
            return ("`operator: Equal` without a value tolerates only a taint with an empty "
                    f"value; this taint's value is `{want.value}` (give the value, or use "
                    "`operator: Exists`)")
        if (t.get("operator") or "Equal") == "Equal":
            return (f"the toleration's value `{t.get('value')}` is not the taint's "
                    f"`{want.value}`: check the value's spelling")
    keys = [t.get("key") for t in tolerations if t.get("key")]
    if keys:
        return (f"no toleration for key `{want.key}` (found `{keys[0]}`): check the key's "
                "spelling")
    return f"no toleration matches the taint `{want}`"


def pods_tolerate(check_id: str, name: str, key: str, value: str, effect: str = NO_SCHEDULE,
                  title: str | None = None, **options) -> Check:
    """The Deployment's pods tolerate the taint `key=value:effect` (Kubernetes' rules)."""
    want = Taint(key, value, effect)

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.tolerations"
        tols = _tolerations(dep)
        found = "; ".join(map(describe_toleration, tols)) or "no tolerations"
        matching = [t for t in tols if tolerates(t, want)]
        if not tols:
            return failed(want, found,
                          f"no tolerations: the pods cannot run on nodes tainted `{want}`, so "
                          "Karpenter will not launch such a node for them", where)
        if not matching:
            return failed(want, found, near_miss(tols, want), where)
        if not any(t.get("key") for t in matching):
            return passed(want, f"{found} (accepted, but a toleration without a key "
                          "tolerates every taint, GPU nodes' too: name the key)", where)
        return passed(want, found, where)

    return c.make_check(check_id, title or f"Deployment {name}'s pods tolerate {want}",
                        c.with_deployment(name, fn), options)


def pods_do_not_tolerate(check_id: str, name: str, key: str, value: str, hint: str,
                         effect: str = NO_SCHEDULE, title: str | None = None,
                         **options) -> Check:
    """The Deployment's pods do NOT tolerate `key=value:effect`; `hint` says why that matters."""
    taint = Taint(key, value, effect)

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.tolerations"
        tols = [t for t in _tolerations(dep) if tolerates(t, taint)]
        expected = f"no toleration of {taint}"
        if not tols:
            return passed(expected, "does not tolerate it", where)
        return failed(expected, "; ".join(map(describe_toleration, tols)), hint, where)

    return c.make_check(check_id, title or f"Deployment {name}'s pods do not tolerate {taint}",
                        c.with_deployment(name, fn), options)


def nodes_free_of_taint(check_id: str, pool: str, key: str, effect: str = NO_SCHEDULE,
                        title: str | None = None, **options) -> Check:
    """Every node of `pool` exists without the taint `key` (the agent removed it)."""
    where = f"nodes of NodePool {pool} .spec.taints"

    def fn(ctx, np: dict) -> Outcome:
        nodes, joining = pool_nodes(pool)
        expected = f"{pool} nodes without {key}"
        if joining:
            # Karpenter copies the startup taints onto a node when it registers it.
            return waiting(expected, f"NodeClaim {joining[0]} is not registered yet",
                           "Karpenter is launching and registering the node", where)
        if not nodes:
            return waiting(expected, f"no {pool} nodes yet",
                           f"Karpenter launches a {pool} node for the pods that select it: "
                           "is the Deployment there?", where)
        stuck = tainted_nodes(pool, key)
        if stuck:
            return failed(expected, f"{c.plural(len(stuck), 'node')} still tainted: "
                          + ", ".join(stuck[:3]),
                          f"you are the node agent: remove the taint from the node "
                          f"(remove_taint(\"{stuck[0]}\", \"{key}\") in the notebook, or "
                          f"`{kubectl_untaint(stuck[0], key, effect)}`)", where)
        return passed(expected, f"{c.plural(len(nodes), 'node')}, none tainted {key}", where)

    return c.make_check(check_id, title or f"No {pool} node still carries {key}",
                        c.with_nodepool(pool, fn), options, wait_s=c.READY_WAIT_S)


def pods_ready_once_untainted(check_id: str, name: str, count: int, pool: str, key: str,
                              title: str | None = None, **options) -> Check:
    """`count` pods Ready on `pool` nodes; while a pool node still carries the startup
    taint and pods wait, say so at once instead of polling until the deadline."""
    inner = workloads.pods_ready_on_pool(check_id, name, count, pool, title=title, **options)

    def fn(ctx: Any) -> Outcome:
        dep = c.get_deployment(ctx, name)
        stuck = tainted_nodes(pool, key) if dep is not None else []
        if stuck:
            pending = [p for p in observe.pods(ctx.namespace, c.deployment_selector(dep))
                       if not (p.get("spec") or {}).get("nodeName")]
            if pending:
                return failed(f"{count} Ready pods on {pool} nodes", f"{c.plural(len(pending), 'pod')} Pending; node "
                              f"{stuck[0]} still carries {key}",
                              "the pods wait for the node agent: remove the startup taint from "
                              "the node", f"pods of Deployment {ctx.namespace}/{name}")
        return original(ctx)

    original, inner.fn = inner.fn, fn
    return inner
