"""Check builders for disruption (lesson 07): consolidation, drift under a budget,
`karpenter.sh/do-not-disrupt`, expiry. Named for the fact each checks, like workshop/builders/base.py.

Voluntary disruption (consolidation, drift) respects budgets and do-not-disrupt; expiry is
forceful (Karpenter v1.14.1: the budget reasons are only Underutilized, Empty and Drifted,
pkg/apis/v1/nodepool.go; the expiration controller simply deletes the NodeClaim), though its
drain still skips pods whose do-not-disrupt is active (pkg/utils/pod/scheduling.go, IsEvictable)
until the NodePool's terminationGracePeriod, if any. Budgets are read as Karpenter reads them
(workshop/k8s/budgets.py). The checks that wait say, while they poll, what Karpenter is doing
with each NodeClaim.
"""

from __future__ import annotations

from typing import Collection

from workshop.instances import catalog
from workshop.k8s import budgets, daemonsets, disruption, kube, observe, usage
from workshop.builders.base import (
    APPS_API, make_check, Holding, plural, pod_template_spec, replica_count, deployment_selector, with_deployment,
    with_nodepool,
)
from workshop.grading.core import Check, Outcome, failed, passed, waiting
from workshop.names import CAPACITY_TYPE_LABEL as CAPACITY_TYPE

# Consolidation: consolidateAfter + Karpenter's 10 s disruption poll + 15 s validation, a
# replacement node, then the drain; sometimes two rounds.
CONSOLIDATION_WAIT_S = 150
# Drift: the hash controller, the 10 s poll, a replacement per node (budget 1: one at a time).
DRIFT_WAIT_S = 150
# Not drifted for this long after the revision change: the learner has not made one.
NO_DRIFT_HOLD_S = 12
# Expiry: at most MAX_EXPIRE_AFTER to wait, then the replacement and the drain.
MAX_EXPIRE_AFTER_S = 180
EXPIRY_WAIT_S = MAX_EXPIRE_AFTER_S + 75


def _claimed_nodes(pool: str, claims: list[dict]) -> dict[str, observe.NodeInfo]:
    """The pool's Nodes that belong to a NodeClaim. Karpenter's kwok provider creates Nodes
    from a goroutine; on a busy machine a NodeClaim deleted right after launch can leave a
    Node behind, still tainted unregistered, that no pod uses and nothing removes."""
    names = {disruption.node_name(c) for c in claims}
    return {n: i for n, i in observe.node_infos(f"{observe.NODEPOOL_LABEL}={pool}").items()
            if n in names}


def _where(pool: str, field: str = "") -> str:
    return f"NodePool {pool}" + (f" {field}" if field else "")


# ------------------------------------------------------------------ the NodePool's settings


def nodepool_admits_only(check_id: str, name: str, key: str, values: Collection[str],
                         why: str, title: str | None = None, **options) -> Check:
    """Every offering the NodePool admits has `key` in `values` (other requirements free)."""
    expected = f"only {key} in ({', '.join(values)})"

    def fn(ctx, pool: dict) -> Outcome:
        where = _where(name, ".spec.template.spec.requirements")
        try:
            admitted = ctx.catalog.admitted(disruption.template_spec(pool).get("requirements") or [])
        except catalog.CatalogError as exc:
            return failed(expected, exc.message, "fix this requirement's operator or values", where)
        have = sorted({o.labels.get(key, "(none)") for o in admitted})
        if not admitted:
            return failed(expected, "no offerings", "no offering satisfies these requirements "
                          "together: Karpenter could never launch a node", where)
        if set(have) <= set(values):
            return passed(expected, f"{key} in ({', '.join(have)})", where)
        return failed(expected, f"admits {key} in ({', '.join(have)})", why, where)

    return make_check(check_id, title or f"NodePool {name} admits only {key} {', '.join(values)}",
                      with_nodepool(name, fn), options)


def nodepool_consolidation(check_id: str, name: str, policy: str, after: str,
                           title: str | None = None, **options) -> Check:
    """spec.disruption asks for `policy` after `after` (durations compared by value)."""
    expected = f"consolidationPolicy {policy}, consolidateAfter {after}"

    def fn(ctx, pool: dict) -> Outcome:
        where = _where(name, ".spec.disruption")
        spec = disruption.disruption_spec(pool)
        have_policy = spec.get("consolidationPolicy") or "WhenEmptyOrUnderutilized"
        have_after = str(spec.get("consolidateAfter") or "0s")
        found = f"consolidationPolicy {have_policy}, consolidateAfter {have_after}"
        claims = observe.nodeclaims(name)
        if have_policy != policy:
            hint = (f"`{have_policy}` only removes nodes that run no pods: after scaling down, "
                    "the half-used nodes each still run a pod, so they stay. "
                    f"`{policy}` also removes or replaces under-used nodes"
                    if have_policy == "WhenEmpty" else
                    f"the policy must be `{policy}` (exact spelling)")
            return failed(expected, found, hint, where,
                          disruption.latest_event(claims, ("Unconsolidatable",)))
        if have_after == "Never":
            return failed(expected, found,
                          "`consolidateAfter: Never` turns consolidation off: Karpenter never "
                          "marks a node Consolidatable, so no node is removed or replaced",
                          where, disruption.latest_event(claims, ("Unconsolidatable",)))
        try:
            same = disruption.parse_duration(have_after) == disruption.parse_duration(after)
        except ValueError:
            same = False
        if not same:
            return failed(expected, found,
                          "consolidateAfter is how long a node must see no pod come or go "
                          f"before Karpenter considers it: the exercise asks for {after}", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"NodePool {name} consolidates under-used nodes",
                      with_nodepool(name, fn), options)


def nodepool_budget(check_id: str, name: str, nodes: str, reason: str = "Drifted",
                    title: str | None = None, **options) -> Check:
    """The budgets that apply to `reason` and are active now allow `nodes` at a time, however
    large the pool grows. As Karpenter reads them (workshop/k8s/budgets.py): a budget outside
    its schedule does not count, and the most restrictive active one wins, so `"1"` beside
    `"10%"` is `"1"`."""
    expected = f'budget nodes: "{nodes}" for {reason}'
    want = int(nodes)

    def fn(ctx, pool: dict) -> Outcome:
        where = _where(name, ".spec.disruption.budgets")
        spec = disruption.disruption_spec(pool).get("budgets")
        claims = [c for c in observe.nodeclaims(name) if not disruption.deleting(c)]
        size = max(len(claims), 1)
        r = budgets.read(spec, reason, size)
        shown = [budgets.describe(b) + ("" if b.get("schedule") is None else
                                        " (active now)" if b in r.active else
                                        " (not active now)")
                 for b in (spec or [])]
        found = ", ".join(shown) or 'none (Karpenter\'s default nodes: "10%")'
        if r.active and r.allowed == 0:
            return failed(expected, found,
                          f'a budget of "0" allows no voluntary disruption: {reason.lower()} '
                          "nodes are never replaced (consolidation stops too). Budgets pace "
                          "disruption; \"0\" blocks it", where,
                          disruption.nodepool_event(name, about=f"reason {reason} "))
        if r.at_most(want) and r.allowed == want:
            others = [b for b in r.active if str(b.get("nodes")) != nodes] + r.inactive
            if not others:
                return passed(expected, found, where)
            return passed(expected, f"{found}: accepted, Karpenter takes the most restrictive "
                          f'budget active now, nodes: "{nodes}"', where)
        if not r.active:
            return failed(expected, found,
                          f"no budget for {reason} is active now: a budget counts only while "
                          "its schedule is active, and outside it Karpenter may replace every "
                          f'node at once. Give the NodePool a budget `nodes: "{nodes}"` '
                          "without a schedule", where)
        if not r.absolute and r.allowed == want:
            pct = min(int(str(b["nodes"]).rstrip("%")) for b in r.active)
            grows = want * 100 // pct + 1
            return failed(expected, found,
                          f'Karpenter rounds a percentage up: {pct}% of this pool\'s '
                          f"{plural(size, 'node')} is {want} at a time, but from {grows} nodes "
                          f'it is more. Give the NodePool a budget `nodes: "{nodes}"`', where)
        return failed(expected, found,
                      f"these budgets let Karpenter replace {r.allowed} of the pool's "
                      f"{plural(size, 'node')} at once: give the NodePool a budget "
                      f'`nodes: "{nodes}"` so it disrupts at most {nodes} at a time', where)

    return make_check(check_id, title or f"NodePool {name} disrupts {nodes} node at a time",
                      with_nodepool(name, fn), options)


def nodepool_template_label_changed(check_id: str, name: str, key: str, value: str,
                                    title: str | None = None, **options) -> Check:
    """The template (not the nodes) carries `key: value`: the change Karpenter drifts on."""
    expected = f"template label {key}: {value}"

    def fn(ctx, pool: dict) -> Outcome:
        where = _where(name, ".spec.template.metadata.labels")
        have = (disruption.template_metadata(pool).get("labels") or {}).get(key)
        found = f"{key}: {have}" if have is not None else f"no label {key}"
        if have == value:
            return passed(expected, found, where)
        # A node made from a template with the label has it on its NodeClaim too; one
        # labelled by hand has it on the Node only.
        claims = observe.nodeclaims(name)
        born_with = {disruption.node_name(c) for c in claims
                     if ((c["metadata"].get("labels") or {}).get(key)) == value}
        by_hand = [n for n in _claimed_nodes(name, claims).values()
                   if n.labels.get(key) == value and n.name not in born_with]
        if by_hand:
            return failed(expected, f"{found}; yet {plural(len(by_hand), 'node')} carry "
                          f"{key}={value}",
                          "the label was changed on the nodes by hand: that is not drift. The "
                          "NodePool's template is unchanged, so Karpenter replaces nothing, and "
                          "the next node it makes won't have the label. Change it in "
                          "spec.template.metadata.labels", where)
        return failed(expected, found, f"change `{key}` to \"{value}\" in the NodePool's "
                      "spec.template.metadata.labels: that edit is what makes the nodes drift",
                      where)

    return make_check(check_id, title or f"NodePool {name}'s template says {key}: {value}",
                      with_nodepool(name, fn), options)


def nodepool_expire_after(check_id: str, name: str, at_most_s: float = MAX_EXPIRE_AFTER_S,
                          title: str | None = None, **options) -> Check:
    """spec.template.spec.expireAfter is set, and short enough to watch."""
    limit = disruption.short_duration(at_most_s)
    expected = f"expireAfter of at most {limit}"

    def fn(ctx, pool: dict) -> Outcome:
        where = _where(name, ".spec.template.spec.expireAfter")
        text = disruption.template_spec(pool).get("expireAfter")
        if text is None or str(text) == disruption.DEFAULT_EXPIRE_AFTER:
            return failed(expected, f"{text or 'not set'} (Karpenter's default: 720h)",
                          "expiry never set: the default expireAfter is 720h (30 days), far too "
                          "long to watch. Set spec.template.spec.expireAfter", where)
        try:
            seconds = disruption.parse_duration(text)
        except ValueError as exc:
            return failed(expected, text, str(exc), where)
        if seconds is None:
            return failed(expected, "Never", "`expireAfter: Never` means the nodes never "
                          "expire: Karpenter replaces them only when something else (drift, "
                          "consolidation) asks", where)
        if seconds > at_most_s:
            return failed(expected, text, f"{text} is longer than you want to watch: use a "
                          "few minutes at most here (real pools use days)", where)
        blocking = [b for b in disruption.budgets(pool) if str(b.get("nodes")).rstrip("%") == "0"]
        if blocking:
            return passed(expected, f'{text} (accepted; the budget nodes: "0" will not stop '
                          "it: expiry is forceful, budgets hold back only consolidation and "
                          "drift)", where)
        return passed(expected, text, where)

    return make_check(check_id, title or f"NodePool {name}'s nodes expire after a few minutes",
                      with_nodepool(name, fn), options)


# ------------------------------------------------------------------ consolidation


def _requests(dep: dict) -> tuple[int, int]:
    """(CPU millis, memory MiB) the Deployment's pods request together."""
    # As the scheduler counts them: a limit stands in for a missing request (workshop/k8s/usage.py).
    each = usage.pod_requests(pod_template_spec(dep))
    return each.cpu_millis * replica_count(dep), each.memory_mib * replica_count(dep)


def pool_consolidated_to_cheapest(check_id: str, pool: str, app: str,
                                  title: str | None = None, **options) -> Check:
    """`pool` runs a single node, of the cheapest on-demand type (from the catalog model)
    that holds all of `app`'s pods."""
    on_demand = {"key": CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]}

    def fn(ctx, dep: dict) -> Outcome:
        where = f"nodes of NodePool {pool}"
        np = disruption.nodepool(pool)
        if np is None:
            return failed("a NodePool", "no NodePool", f"create NodePool {pool} first", where)
        cpu, mem = _requests(dep)
        reqs = list(disruption.template_spec(np).get("requirements") or []) + [on_demand]
        # Karpenter sizes the node for the pods plus the DaemonSets that run on it.
        room = daemonsets.per_offering(np, daemonsets.in_cluster())
        best = ctx.catalog.cheapest(reqs, cpu, mem, pods=replica_count(dep), overhead=room)
        if best is None:
            return failed("a type that holds the pods", "none in the catalog",
                          f"no on-demand type {pool} admits can hold {cpu}m CPU and {mem}Mi "
                          "besides its DaemonSets: check the requests", where)
        daemons = room(best)[0]
        expected = (f"1 node, {best.instance_type} (the cheapest on-demand type holding {cpu}m CPU"
                    + (f" and the DaemonSets' {daemons}m)" if daemons else ")"))
        claims = observe.nodeclaims(pool)
        infos = _claimed_nodes(pool, claims)
        types = sorted(i.instance_type for i in infos.values())
        mine = {p["metadata"]["uid"] for p in observe.pods(ctx.namespace, deployment_selector(dep))}
        others = [p["metadata"]["name"] for p in kube.list_("v1", "Pod")
                  if p["spec"].get("nodeName") in infos and p["metadata"]["uid"] not in mine
                  and not daemonsets.is_daemon_pod(p)]
        if others:
            # Not something waiting fixes (a later exercise's precious, say): answer now.
            return failed(expected, f"{pool} also runs {', '.join(others[:3])}",
                          f"other pods keep nodes in {pool} too: consolidation packs "
                          f"{app} alone only when nothing else runs there", where)
        settled = not any(disruption.deleting(c) for c in claims)
        if len(infos) == 1 and types == [best.instance_type] and settled and len(claims) == 1:
            name = next(iter(infos))
            pods = [p for p in observe.pods(ctx.namespace, deployment_selector(dep))
                    if observe.is_ready(p) and p["spec"].get("nodeName") == name]
            if len(pods) == replica_count(dep):
                price = f"${best.price:.4f}/h"
                return passed(expected, f"1 node: {best.instance_type} ({price}), "
                              f"{plural(len(pods), 'pod')} of {app} on it", where)
        found = f"{plural(len(infos), 'node')} ({', '.join(types) or 'none'}): " + \
            disruption.describe(claims, np)
        return waiting(expected, found,
                       "Karpenter consolidates after consolidateAfter: it removes a node whose "
                       "pods fit elsewhere, or replaces it with a cheaper one", where,
                       disruption.latest_event(claims))

    return make_check(check_id, title or f"{pool} consolidated to one node of the cheapest type",
                      with_deployment(app, fn), options, wait_s=CONSOLIDATION_WAIT_S)


# ------------------------------------------------------------------ drift


def nodes_replaced_with_label(check_id: str, pool: str, key: str, value: str,
                              title: str | None = None, **options) -> Check:
    """Every node of `pool` was made from its current template (none drifted or going) and
    carries `key=value`."""
    expected = f"every {pool} node replaced and labelled {key}={value}"

    def fn(ctx) -> Outcome:
        where = f"NodeClaims of NodePool {pool}"
        np = disruption.nodepool(pool)
        claims = observe.nodeclaims(pool)
        if np is None or not claims:
            return failed(expected, "no nodes", f"nothing runs on {pool}: do the earlier "
                          "exercise first (its Deployment keeps nodes there)", where)
        infos = _claimed_nodes(pool, claims)
        old = [c for c in claims if disruption.deleting(c) or disruption.drifted(c, np)
               or not disruption.node_name(c)]
        unlabelled = [n for n in infos.values() if n.labels.get(key) != value]
        if not old and not unlabelled:
            return passed(expected, f"{plural(len(infos), 'node')}, all from the current "
                          f"template, all {key}={value}", where)
        done = len(claims) - len(old)
        return waiting(expected, f"{done} of {len(claims)} up to date; "
                       + disruption.describe(claims, np),
                       "Karpenter replaces drifted nodes within the budget: a replacement "
                       "first, then the old node drains", where, disruption.latest_event(claims))

    return make_check(check_id, title or f"Every {pool} node is replaced and carries {key}={value}",
                      fn, options, wait_s=DRIFT_WAIT_S)


# ------------------------------------------------------------------ do-not-disrupt


def pods_annotated(check_id: str, app: str, key: str, value: str, pool: str,
                   title: str | None = None, **options) -> Check:
    """The Deployment's pod template carries annotation `key: value` (Karpenter reads pods)."""
    expected = f'{key}: "{value}" on the pod template'

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{app} .spec.template.metadata.annotations"
        on_pods = ((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}
        have = (on_pods.get("annotations") or {}).get(key)
        if have == value:
            return passed(expected, f'{key}: "{have}" on the pods', where)
        if have is not None:
            try:
                disruption.parse_duration(have)
                hint = (f'"{have}" protects the pod only that long after it starts; this '
                        f'exercise wants "{value}": for as long as the pod runs')
            except ValueError:
                hint = (f'Karpenter ignores a value that is not "true" or a duration (its '
                        f'event: Invalid {key} annotation): write "{value}", quoted')
            return failed(expected, f'{key}: "{have}"', hint, where)
        if key in ((dep.get("metadata") or {}).get("annotations") or {}):
            return failed(expected, "on the Deployment's own metadata",
                          "on the Deployment's own metadata it has no effect: Karpenter reads "
                          "the annotation on pods. Put it under spec.template.metadata."
                          "annotations", where)
        np = disruption.nodepool(pool) or {}
        if key in ((np.get("metadata") or {}).get("annotations") or {}) or \
                key in (disruption.template_metadata(np).get("annotations") or {}):
            return failed(expected, f"on NodePool {pool}",
                          "on the NodePool it does not protect this pod: on the NodePool's "
                          "own metadata it does nothing, in its template it would freeze every "
                          "node of the pool. Put it on the pod template", where)
        return failed(expected, "no annotation", f"add `{key}: \"{value}\"` under "
                      "spec.template.metadata.annotations", where)

    return make_check(check_id, title or f"{app}'s pods carry {key}",
                      with_deployment(app, fn), options)


def node_not_replaced(check_id: str, app: str, pool: str, title: str | None = None,
                      **options) -> Check:
    """After a drift, `app`'s node is drifted but kept, and every other node of `pool` was
    replaced."""
    expected = f"{app}'s node drifted but kept; every other {pool} node replaced"
    holding = Holding()

    def fn(ctx, dep: dict) -> Outcome:
        where = f"NodeClaims of NodePool {pool}"
        np = disruption.nodepool(pool)
        claims = observe.nodeclaims(pool)
        pods = [p for p in observe.pods(ctx.namespace, deployment_selector(dep)) if observe.is_ready(p)]
        nodes = {p["spec"].get("nodeName") for p in pods}
        mine = [c for c in claims if disruption.node_name(c) in nodes]
        if not mine:
            holding.seconds(None)
            return waiting(expected, f"no Ready pod of {app} on a {pool} node",
                           f"{app} must run on {pool} first", where)
        kept = mine[0]
        others = [c for c in claims if c is not kept]
        if disruption.deleting(kept):
            return failed(expected, f"{kept['metadata']['name']} is being replaced",
                          f"{app}'s node is being replaced: the annotation is not on its pod",
                          where, disruption.latest_event([kept]))
        if not disruption.drifted(kept, np):
            if holding.seconds("not drifted") >= NO_DRIFT_HOLD_S:
                return failed(expected, f"{kept['metadata']['name']} matches the current "
                              "template: nothing drifted",
                              f"{app}'s node was made from the NodePool's current template: "
                              f"change {pool}'s template again (e.g. revision \"3\") now that "
                              f"{app} runs, and watch drift pass its node by", where)
            return waiting(expected, disruption.describe(claims, np),
                           "Karpenter has not marked the node Drifted yet", where)
        holding.seconds(None)
        stale = [c for c in others if disruption.deleting(c) or disruption.drifted(c, np)
                 or not disruption.node_name(c)]
        blocked = disruption.latest_event([kept], ("DisruptionBlocked",))
        if stale:
            return waiting(expected, disruption.describe(claims, np),
                           "Karpenter replaces the other drifted nodes one at a time", where,
                           blocked or disruption.latest_event(stale))
        return passed(expected, f"{kept['metadata']['name']} Drifted but kept"
                      + (f" ({blocked})" if blocked else "")
                      + f"; {plural(len(others), 'other node')} replaced", where)

    return make_check(check_id, title or f"Drift passes {app}'s node by",
                      with_deployment(app, fn), options, wait_s=DRIFT_WAIT_S)


# ------------------------------------------------------------------ expiry


def node_expired_and_replaced(check_id: str, pool: str, others: Collection[str] = (),
                              title: str | None = None, **options) -> Check:
    """A node of `pool` expired and was replaced, and the workload on it (the lesson's
    Deployments other than `others`) is Ready on `pool` again."""
    expected = f"a {pool} node expired and replaced; its workload Ready"

    def fn(ctx) -> Outcome:
        where = f"NodeClaims of NodePool {pool}"
        deps = [d for d in kube.list_(APPS_API, "Deployment", namespace=ctx.namespace)
                if d["metadata"]["name"] not in others]
        if not deps:
            return failed(expected, "no workload", f"create a Deployment in {ctx.namespace} "
                          f"whose pods run on {pool} nodes (select its label)", where)
        np = disruption.nodepool(pool)
        claims = observe.nodeclaims(pool)
        infos = _claimed_nodes(pool, claims)
        want = sum(replica_count(d) for d in deps)
        pods = [p for d in deps for p in observe.pods(ctx.namespace, deployment_selector(d))
                if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in pods if observe.is_ready(p) and p["spec"].get("nodeName") in infos]
        evicted = disruption.forceful_evictions(ctx.namespace,
                                                [d["metadata"]["name"] + "-" for d in deps])
        status = f"{len(ready)} of {want} pods Ready on {pool}; " + disruption.describe(claims, np)
        if evicted and want and len(ready) == want and len(pods) == want:
            quote = " ".join((evicted[-1].get("message") or "").split())
            return passed(expected, f"replaced ({quote}); {status}", where)
        if not claims and not pods:
            return failed(expected, status, f"nothing runs on {pool}: the Deployment's pods "
                          "must select the pool's label", where)
        return waiting(expected, status,
                       "when a NodeClaim is older than expireAfter Karpenter deletes it "
                       "(forceful: no budget applies) and its pods move to a replacement",
                       where, disruption.latest_event(claims))

    return make_check(check_id, title or f"A {pool} node expires and is replaced", fn,
                      {"poll_s": 2.0, **options}, wait_s=EXPIRY_WAIT_S)
