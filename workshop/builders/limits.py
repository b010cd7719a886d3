"""Check builders for NodePool limits and weights (lesson 05, and GPU limits in lesson 06).

    pool_stops_at_limit("5.1.limit", "team-a-app", "team-a")
    nodepool_weights_order("5.2.weights", "team-a", "team-a-overflow")
    pool_filled_first("5.2.fill-order", "team-a", "team-a-overflow")

Facts from Karpenter v1.14.1's source (pkg/controllers/provisioning/scheduling/scheduler.go):
a NodePool's remaining room starts at `spec.limits` and loses each existing node's capacity
and, for each NodeClaim it is about to launch, the LARGEST capacity among that NodeClaim's
instance type options (`subtractMax`); instance types larger than what remains are dropped,
and when none is left the pod gets "all available instance types exceed limits for
nodepool". NodePools are tried by weight, highest first; equal weights by name, the name
later in the alphabet first (pkg/utils/nodepool/nodepool.go, OrderByWeight).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from fractions import Fraction
from typing import Mapping

from workshop.instances import catalog
from workshop.instances.quantity import quantity_or_zero
from workshop.k8s import kube, observe, pending, taints, timestamps
from workshop.builders.base import (
    KARPENTER_VERDICT_HOLD_S, make_check, describe_nodes, Holding, known_node_labels, plural,
    deployment_selector, pool_template_spec, with_deployment, with_nodepool, pending_hint, why_pending,
)
from workshop.grading.core import Check, Outcome, Status, failed, passed, waiting
from workshop.names import KARPENTER_API

LIMIT_EVENT = "exceed limits for nodepool"
# Karpenter's per-pool counter (status.resources) follows a new node within a second or two.
LIMIT_WAIT_S = 60
# Karpenter reconsiders Pending pods after a NodePool change within about 10 s (its batch
# window plus the NodePool becoming Ready again); until then what it said is not final.
POOL_CHANGE_GRACE_S = 20
# The platform's default pools carry this weight (cluster/platform/*.yaml): a custom pool at
# or above it is tried before them for every pod that fits it.
PLATFORM_WEIGHT = 50


def _weight(pool: dict | None) -> int:
    return int(((pool or {}).get("spec") or {}).get("weight") or 0)


def _limit_clause(message: str, pool: str) -> str | None:
    """The clause of Karpenter's FailedScheduling message saying `pool`'s limits are reached.

    Karpenter joins one clause a NodePool with "; ", and checks a pool's limits before its
    labels: a pod selecting another pool still gets this clause for every full pool.
    """
    body = message.split("Failed to schedule pod,", 1)[-1]
    return next((c.strip() for c in body.split(";")
                 if LIMIT_EVENT in c and f"NodePool={pool})" in c), None)


def _untolerated(pool: dict, pod: dict) -> str | None:
    """A hint when the pod does not tolerate a taint of the pool it is meant for. Karpenter's
    message cannot say it plainly: its clauses do not name their pools, and other pools'
    label mismatches come first."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for raw in pool_template_spec(pool).get("taints") or []:
        taint = taints.Taint.of(raw)
        if taint.effect != "PreferNoSchedule" and \
                not any(taints.tolerates(t, taint) for t in tolerations):
            return (f"{pool['metadata']['name']}'s nodes are tainted {taint} and these pods do "
                    "not tolerate it: Karpenter launches nothing for them")
    return None


def _without_other_limits(message: str, pool: str) -> str:
    """Karpenter's message without the limit clauses of other pools (which it adds for every
    full pool, whether or not the pod could use it: they are not this pod's problem)."""
    clauses = message.split(";")
    return ";".join(c for c in clauses if LIMIT_EVENT not in c or f"NodePool={pool})" in c)


def _limit_event(pod: dict, pool: str) -> str | None:
    events = pending.failed_scheduling(pod)  # workshop/k8s/pending.py reads pods' events
    for ev in reversed(events):
        clause = _limit_clause(ev.get("message") or "", pool)
        if kube.event_source(ev) == "karpenter" and clause:
            return pending.quote("karpenter", clause)
    return None


def room_left(ctx, pool: dict, usage: observe.PoolUsage) -> list[str]:
    """Instance types the pool could still launch without crossing a limit (Karpenter's
    filterByRemainingResources, on the catalog's capacities); empty when the pool is full."""
    remaining = {r: quantity_or_zero(v) - quantity_or_zero(usage.used.get(r)) for r, v in usage.limits.items()}
    admitted = ctx.catalog.admitted(pool_template_spec(pool).get("requirements") or [])
    fits = set()
    for name in {o.instance_type for o in admitted}:
        capacity = {k: quantity_or_zero(v) for k, v in ctx.catalog.by_name(name).resources().items()}
        if all(capacity.get(r, Fraction(0)) <= left for r, left in remaining.items()):
            fits.add(name)
    return sorted(fits)


# ------------------------------------------------------------------ a limit that bites


def pool_stops_at_limit(check_id: str, app: str, pool_name: str, unit: str = "pods",
                        title: str | None = None, **options) -> Check:
    """Some of `app`'s pods run on `pool_name`, the rest are Pending because the pool's limits
    are reached (Karpenter's "exceed limits" event), and the pool's usage is within its limits."""
    expected = (f"{pool_name} stops at its limits: some {unit} Ready on it, the rest Pending "
                f"with Karpenter's \"{LIMIT_EVENT}\"")
    holding = Holding()

    def fn(ctx, dep: dict) -> Outcome:
        where = f"NodePool {pool_name} and the pods of Deployment {ctx.namespace}/{name_of(dep)}"
        pool = kube.get(KARPENTER_API, "NodePool", pool_name)
        if pool is None:
            return failed(expected, f"no NodePool {pool_name}", f"create NodePool {pool_name} "
                          "first", where)
        usage = observe.pool_usage(pool_name)
        infos = observe.node_infos()
        pods = [p for p in observe.pods(ctx.namespace, deployment_selector(dep))
                if not p["metadata"].get("deletionTimestamp")]
        placed = [infos.get(p["spec"].get("nodeName") or "") for p in pods
                  if observe.is_ready(p)]
        mine = [i for i in placed if i is not None and i.nodepool == pool_name]
        elsewhere = [i for i in placed if i is not None and i.nodepool != pool_name]
        pending = [p for p in pods if not p["spec"].get("nodeName")]
        used = usage.text()
        found = (f"{len(mine)} Ready on {pool_name}, {len(pending)} Pending; "
                 f"in use: {used}")
        crossed = usage.over_limit()
        if crossed:
            return failed(expected, found,
                          f"{pool_name} uses more {crossed[0]} than its limit allows: was the "
                          "limit lowered after its nodes launched? Karpenter does not remove "
                          "nodes to honour a lower limit", where)
        if elsewhere and not pending and mine and not room_left(ctx, pool, usage):
            # Spill-over (exercise 5.2): the pool is full and a lower-weighted pool took the rest.
            return passed(expected, f"{pool_name} full ({used}); {len(elsewhere)} more Ready on "
                          f"{describe_nodes(elsewhere)}", where)
        if elsewhere and not pending:
            return failed(expected, f"{len(elsewhere)} Ready on other pools: "
                          f"{describe_nodes(elsewhere)}",
                          f"the limit never bites: the pods run on other NodePools. Pods go "
                          f"to {pool_name} only when they select its label", where)
        if not pending:
            if len(mine) == len(pods) and pods:
                return failed(expected, found,
                              f"every pod fits within {pool_name}'s limits: they are larger "
                              "than the exercise asks (check the number and its unit)", where)
            return waiting(expected, found, "the pods are starting", where)
        event = next(filter(None, (_limit_event(p, pool_name) for p in pending)), None)
        if event and mine:
            return Outcome(Status.PASS, expected, found, "", where, event)
        if event and holding.seconds(("limit", len(pending))) >= KARPENTER_VERDICT_HOLD_S:
            return failed(expected, found,
                          f"{pool_name} launched nothing: its limits are smaller than any "
                          "instance type it admits", where, event)
        verdict, other = why_pending(pending[0])
        # A verdict from before the pool was Ready may be stale: only a lasting one is final.
        if verdict == "cannot" and \
                holding.seconds((pending[0]["metadata"]["uid"], other)) >= KARPENTER_VERDICT_HOLD_S:
            hint = _untolerated(pool, pending[0]) or pending_hint(
                _without_other_limits(other or "", pool_name), known_node_labels(ctx).keys())
            return failed(expected, found, hint, where, other)
        return waiting(expected, found, "Karpenter is still placing the pods", where, other)

    return make_check(check_id, title or f"{pool_name} stops at its limits",
                      with_deployment(app, fn), options, wait_s=LIMIT_WAIT_S)


def name_of(obj: dict) -> str:
    return obj["metadata"]["name"]


# ------------------------------------------------------------------ weights


def nodepool_weights_order(check_id: str, first: str, then: str, title: str | None = None,
                           **options) -> Check:
    """`first` has a higher weight than `then`, so Karpenter tries `first` first."""
    expected = f"weight of {first} > weight of {then}"
    where = f"NodePools {first} and {then} .spec.weight"

    def fn(ctx) -> Outcome:
        a = kube.get(KARPENTER_API, "NodePool", first)
        b = kube.get(KARPENTER_API, "NodePool", then)
        missing_pool = next((n for n, p in ((first, a), (then, b)) if p is None), None)
        if missing_pool:
            return failed(expected, f"no NodePool {missing_pool}",
                          f"create NodePool {missing_pool} first", where)
        wa, wb = _weight(a), _weight(b)
        found = f"{first}: {wa}, {then}: {wb}"
        if wa == wb:
            later = max(first, then)
            return failed(expected, found,
                          f"equal weights: Karpenter then tries the NodePool whose name comes "
                          f"later in the alphabet first, which is {later}. Give {first} the "
                          "higher weight", where)
        if wa < wb:
            return failed(expected, found,
                          f"weights reversed: the higher weight is tried first, so {then} "
                          f"fills before {first}", where)
        if wa >= PLATFORM_WEIGHT:
            return passed(expected, f"{found} (accepted, but {first} now outranks the "
                          f"platform's pools (weight {PLATFORM_WEIGHT}): an untainted pool "
                          "weighted this high is tried first for every pod that fits it)",
                          where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"{first} is tried before {then}", fn, options)


def pool_filled_first(check_id: str, first: str, then: str, title: str | None = None,
                      **options) -> Check:
    """`first` launched before `then` and is full: no instance type it admits fits in what its
    limits leave (Karpenter's own test)."""
    expected = f"{first} filled to its limits before {then} launched"
    where = f"NodeClaims of {first} and {then}"
    holding = Holding()

    def fn(ctx, pool: dict) -> Outcome:
        claims = {n: [c for c in observe.nodeclaims(n)
                      if not c["metadata"].get("deletionTimestamp")] for n in (first, then)}
        usage = observe.pool_usage(first)
        found = (f"{plural(len(claims[first]), 'node')} of {first} (in use: {usage.text()}), "
                 f"{plural(len(claims[then]), 'node')} of {then}")
        if not claims[then]:
            return waiting(expected, found, f"nothing launched from {then} yet", where)
        tried_first = f"Karpenter tried {then} first (compare the two weights)"
        if not claims[first]:
            return failed(expected, found,
                          f"{then} took the pods and {first} launched nothing: {tried_first}",
                          where)
        started = {n: min(_created(c) for c in cs) for n, cs in claims.items()}
        if started[then] < started[first]:
            return failed(expected, found, f"{then} launched before {first}: {tried_first}",
                          where)
        fits = room_left(ctx, pool, usage)
        if fits and holding.seconds(tuple(fits)) >= KARPENTER_VERDICT_HOLD_S:
            return failed(expected, found,
                          f"{then} launched while {first} still had room ({fits[0]} fits): "
                          f"{tried_first}", where)
        if fits:
            return waiting(expected, found, f"{first}'s usage is still being counted", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"{first} fills before {then}",
                      with_nodepool(first, fn), options, wait_s=30)


def _created(claim: dict) -> datetime:
    return timestamps.parse(claim["metadata"].get("creationTimestamp")) or timestamps.EPOCH


def nodepool_admits_values(check_id: str, name: str, values: Mapping[str, list[str]],
                           title: str | None = None, **options) -> Check:
    """Across the offerings the NodePool admits, each key in `values` takes exactly those values
    (other keys are free: `capacity-type: [spot]` admits spot of any architecture)."""
    where = f"NodePool {name} .spec.template.spec.requirements"
    expected = "; ".join(f"{k} only {', '.join(v)}" for k, v in values.items())

    def fn(ctx, pool: dict) -> Outcome:
        try:
            admitted = ctx.catalog.admitted(pool_template_spec(pool).get("requirements") or [])
        except catalog.CatalogError as exc:
            return failed(expected, exc.message, "fix this requirement's operator or values",
                          where)
        if not admitted:
            return failed(expected, "no offerings",
                          "no offering satisfies all these requirements together: Karpenter "
                          "could never launch a node", where)
        found = []
        for key, want in values.items():
            have = sorted({o.labels.get(key, "(none)") for o in admitted})
            found.append(f"{key} {', '.join(have)}")
            if set(have) != set(want):
                extra = sorted(set(have) - set(want))
                hint = (f"it also admits {key} = {extra[0]}: add a requirement that "
                        "narrows it" if extra else
                        f"it admits no offering with {key} = {sorted(set(want) - set(have))[0]}")
                return failed(expected, "; ".join(found), hint, where)
        return passed(expected, "; ".join(found), where)

    return make_check(check_id, title or f"NodePool {name} admits the asked offerings",
                      with_nodepool(name, fn), options)


# ------------------------------------------------------------------ after a NodePool change


def _pool_changed_at(pool: dict) -> datetime:
    """When the NodePool's spec last changed: its newest non-status managedFields entry."""
    times = [f.get("time") for f in pool["metadata"].get("managedFields") or []
             if f.get("subresource") != "status" and f.get("time")]
    times.append(pool["metadata"].get("creationTimestamp"))
    return max((timestamps.parse(t) or timestamps.EPOCH) for t in times)


def waits_for_pool_changes(check: Check) -> Check:
    """A pods-Ready check whose "cannot schedule" verdict is not final within
    POOL_CHANGE_GRACE_S of a NodePool change (exercise 5.2 adds a pool for pods that are
    already Pending: their event still names the old limit, and while Karpenter re-validates
    the changed pools it may briefly say that only the platform's pools exist)."""
    fn = check.fn

    def wrapped(ctx) -> Outcome:
        out = fn(ctx)
        if out.status is not Status.FAIL or not out.event:
            return out
        changed = max((_pool_changed_at(p) for p in kube.list_(KARPENTER_API, "NodePool")),
                      default=None)
        if changed is None or \
                (datetime.now(timezone.utc) - changed).total_seconds() > POOL_CHANGE_GRACE_S:
            return out
        return replace(out, status=Status.WAITING,
                       hint="a NodePool just changed: Karpenter has not reconsidered these pods "
                       "yet")

    check.fn = wrapped
    return check
