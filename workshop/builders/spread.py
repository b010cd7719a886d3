"""Check builders for topology spread (lesson 04).

    topology_spread("4.1.spread", "web", ZONE)
    pods_spread_evenly("4.1.zones", "web", per_domain=2, domains=catalog.ZONES)

Facts: the scheduler enforces `whenUnsatisfiable: DoNotSchedule` and treats
`ScheduleAnyway` as a scoring preference; it counts only domains where a node that the pod
may use already exists (`minDomains` makes missing domains count as empty). Karpenter
v1.14.1 computes zone domains from the NodePools' requirements
(pkg/controllers/provisioning/scheduling/topology.go), so it launches nodes in the zones
that have none yet, and honours minDomains.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from workshop.instances import catalog
from workshop.k8s import observe
from workshop.builders import base as c
from workshop.grading.core import Check, Outcome, failed, passed, waiting
from workshop.names import HOSTNAME_LABEL as HOSTNAME

ZONE = catalog.ZONE


def _selects(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label-selector semantics (a missing selector selects nothing)."""
    if not selector:
        return False
    wanted = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    return catalog.matches(selector.get("matchExpressions") or [], labels)


def _describe(tsc: dict) -> str:
    sel = tsc.get("labelSelector") or {}
    shown = ", ".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
    if sel.get("matchExpressions"):
        shown = ", ".join(filter(None, [shown, f"{len(sel['matchExpressions'])} expression(s)"]))
    return (f"{tsc.get('topologyKey')} maxSkew {tsc.get('maxSkew')} "
            f"{tsc.get('whenUnsatisfiable')} selecting ({shown or 'nothing'})")


def _zone_counts(ctx, dep: dict) -> Counter:
    infos = observe.node_infos()
    return Counter(infos[p["spec"]["nodeName"]].zone
                   for p in observe.pods(ctx.namespace, c.deployment_selector(dep))
                   if observe.is_ready(p) and p["spec"].get("nodeName") in infos)


def _counts_text(counts: Counter, domains: Iterable[str]) -> str:
    return ", ".join(f"{d}: {counts.get(d, 0)}" for d in domains)


def topology_spread(check_id: str, name: str, key: str = ZONE, max_skew: int = 1,
                    when: str = "DoNotSchedule", title: str | None = None,
                    **options) -> Check:
    """The pod template spreads its own pods over `key` with `max_skew`, as a rule (`when`)."""
    expected = f"{key} maxSkew {max_skew} {when} selecting the pods' own labels"

    def fn(ctx, dep: dict) -> Outcome:
        where = (f"Deployment {ctx.namespace}/{name} "
                 ".spec.template.spec.topologySpreadConstraints")
        spec = c.pod_template_spec(dep)
        labels = ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get(
            "labels") or {}
        all_tscs = list(spec.get("topologySpreadConstraints") or [])
        found = "; ".join(map(_describe, all_tscs)) or "no topology spread constraints"
        if not all_tscs:
            return failed(expected, found,
                          "no topologySpreadConstraints: nothing asks the scheduler (or "
                          "Karpenter) to spread these pods; they may all land in one zone",
                          where)
        on_key = [t for t in all_tscs if t.get("topologyKey") == key]
        if not on_key:
            other = all_tscs[0].get("topologyKey")
            hint = (f"topologyKey `{other}` spreads over nodes, not zones: each node is its "
                    f"own domain. Zones are `{key}`" if other == HOSTNAME else
                    f"topologyKey `{other}` is not `{key}`: the constraint counts domains of "
                    "another label")
            return failed(expected, found, hint, where)
        tsc = on_key[0]
        if not _selects(tsc.get("labelSelector"), labels) and not tsc.get("matchLabelKeys"):
            return failed(expected, found,
                          "the constraint's labelSelector matches none of these pods (their "
                          "labels: " + (", ".join(f"{k}={v}" for k, v in labels.items())
                                        or "none") + "): it counts nothing, so it spreads "
                          "nothing. Select the pods' own labels", where)
        if tsc.get("whenUnsatisfiable") != when:
            spread = _counts_text(_zone_counts(ctx, dep), catalog.ZONES) if key == ZONE else ""
            now = f" (right now they happen to be spread: {spread})" if spread else ""
            return failed(expected, found,
                          f"`{tsc.get('whenUnsatisfiable')}` is a wish: the scheduler only "
                          "prefers spread pods and may put them all in one zone when it "
                          f"suits it{now}. `{when}` makes it a rule", where)
        if tsc.get("maxSkew") != max_skew:
            return failed(expected, found,
                          f"maxSkew {tsc.get('maxSkew')} lets zones differ by that many pods; "
                          f"the exercise asks for {max_skew}", where)
        return passed(expected, _describe(tsc), where)

    return c.make_check(check_id, title or f"Deployment {name} spreads its pods over {key}",
                        c.with_deployment(name, fn), options)


def pods_ready_anywhere(check_id: str, name: str, count: int, title: str | None = None,
                        **options) -> Check:
    """`count` pods Ready on whatever nodes (where they are is the next check's business)."""
    return c.pods_ready(check_id, name, count, lambda info: True, "any nodes", "",
                        title or f"{count} pods of {name} Ready", options)


def pods_spread_evenly(check_id: str, name: str, per_domain: int,
                       domains: Iterable[str] = catalog.ZONES, title: str | None = None,
                       **options) -> Check:
    """The Deployment's Ready pods are exactly `per_domain` in each zone of `domains`."""
    domains = tuple(domains)
    expected = ", ".join(f"{d}: {per_domain}" for d in domains)

    def fn(ctx, dep: dict) -> Outcome:
        where = f"pods of Deployment {ctx.namespace}/{name} by {ZONE}"
        counts = _zone_counts(ctx, dep)
        found = _counts_text(counts, domains)
        if all(counts.get(d, 0) == per_domain for d in domains) and sum(counts.values()) == \
                per_domain * len(domains):
            return passed(expected, found, where)
        if sum(counts.values()) < per_domain * len(domains):
            return waiting(expected, found, "the pods are still starting", where)
        return failed(expected, found,
                      "the zones are uneven: the scheduler counts only zones where a node "
                      "already exists, so pods placed before the other zones had nodes stay "
                      "where they are. `minDomains: 3` makes empty zones count; then roll "
                      "the pods again (`kubectl rollout restart`)", where)

    return c.make_check(check_id, title or f"{name}'s pods: {per_domain} in each zone",
                        c.with_deployment(name, fn), options, wait_s=c.READY_WAIT_S)
