"""Check builders for the platform capstone (lesson 08): is a team's NodePool what the
platform's generator makes from the request, and does the team's workload use it?

Where a hint needs the platform's rules (the catalog's families, the nearest names), it asks
the generator (workshop/platform/request.py), so the form, the CLI and the grader agree.
Shared pieces (the NodePool and Deployment lookups, outcomes) come from workshop.checkers.
"""

from __future__ import annotations

from typing import Mapping

from workshop.instances import catalog
from workshop.platform import request as pr
from workshop.builders.base import (
    make_check, pod_template_spec, spec_diff, pool_template_spec, with_deployment, with_nodepool, get_nodepool,
)
from workshop.grading.core import Check, Outcome, failed, passed
from workshop.builders.taints import near_miss
from workshop.k8s.taints import Taint, describe_toleration, tolerates, value_hint


def nodepool_absent(check_id: str, name: str, hint: str, title: str | None = None,
                    **options) -> Check:
    """No NodePool `name`: the team's need is served by the platform's defaults."""
    def fn(ctx) -> Outcome:
        where = f"NodePool {name}"
        if get_nodepool(name) is None:
            return passed(f"no NodePool {name}", f"no NodePool {name}", where)
        return failed(f"no NodePool {name}", f"NodePool {name} exists", hint, where)

    return make_check(check_id, title or f"No custom NodePool {name}", fn, options)


def _requirement_values(pool: dict, key: str) -> list[str] | None:
    for req in pool_template_spec(pool).get("requirements") or []:
        if req.get("key") == key and req.get("operator") == "In":
            return list(req.get("values") or [])
    return None


def nodepool_families(check_id: str, name: str, families: list[str],
                      title: str | None = None, **options) -> Check:
    """The pool's `instance-family In [...]` requirement names exactly `families`."""
    where = f"NodePool {name} .spec.template.spec.requirements ({catalog.AWS_FAMILY})"
    expected = f"{catalog.AWS_FAMILY} In [{', '.join(families)}]"

    def fn(ctx, pool: dict) -> Outcome:
        have = _requirement_values(pool, catalog.AWS_FAMILY)
        if have is None:
            return failed(expected, "no instance-family requirement",
                          "without a family requirement the pool admits every family the "
                          "other requirements allow: add the families the request names", where)
        found = f"{catalog.AWS_FAMILY} In [{', '.join(have)}]"
        if sorted(have) == sorted(families):
            return passed(expected, found, where)
        known = pr.families(ctx.catalog)
        for value in have:
            if value not in known:
                near = pr.nearest_families(value, known)
                guess = f"did you mean {' or '.join(near)}? " if near else ""
                return failed(expected, found,
                              f"`{value}` is not an instance family of the catalog: {guess}"
                              "(family names are exact and lower case; nothing would launch)",
                              where)
        asked_arch = {known[f].arch for f in families if f in known}
        for value in have:
            if value not in families and known[value].arch not in asked_arch:
                return failed(expected, found,
                              f"`{value}` is an {known[value].arch} family, but the request is "
                              f"for {'/'.join(sorted(asked_arch))} "
                              f"({', '.join(families)}): {_arch_words(asked_arch)}", where)
        return failed(expected, found, "the families differ from the request: use exactly "
                      "the families the team asked for", where)

    return make_check(check_id, title or f"NodePool {name} uses families {', '.join(families)}",
                      with_nodepool(name, fn), options)


def _arch_words(archs: set[str]) -> str:
    if archs == {"arm64"}:
        return "Graviton families are arm64 and end in `g` (r6g, m6g, c6g)"
    return "pick families of the requested architecture"


def nodepool_capacity_types(check_id: str, name: str, capacity_types: list[str],
                            title: str | None = None, **options) -> Check:
    """The capacity types the pool can launch (read through the catalog) are `capacity_types`."""
    where = f"NodePool {name} .spec.template.spec.requirements ({catalog.CAPACITY_TYPE})"
    expected = ", ".join(capacity_types) + " only" if len(capacity_types) == 1 else \
        ", ".join(capacity_types)

    def fn(ctx, pool: dict) -> Outcome:
        reqs = [r for r in pool_template_spec(pool).get("requirements") or []
                if r.get("key") == catalog.CAPACITY_TYPE]
        try:
            allowed = {o.capacity_type for o in ctx.catalog.admitted(reqs)}
        except catalog.CatalogError as exc:
            return failed(expected, exc.message, "fix this requirement's operator or values",
                          where)
        found = ", ".join(sorted(allowed)) or "nothing"
        if allowed == set(capacity_types):
            return passed(expected, found, where)
        extra = sorted(allowed - set(capacity_types))
        if "on-demand" in extra:
            return failed(expected, found,
                          "on-demand is allowed too: when spot runs short Karpenter launches "
                          "on-demand, which costs more than the team asked to pay; require "
                          f"{catalog.CAPACITY_TYPE} In [{', '.join(capacity_types)}]", where)
        if extra:
            return failed(expected, found, f"{', '.join(extra)} is allowed but was not asked "
                          "for: narrow the capacity-type requirement", where)
        return failed(expected, found, "a capacity type the request asks for is not allowed: "
                      "check the values (`on-demand`, `spot`, lower case)", where)

    return make_check(check_id, title or f"NodePool {name} launches {expected}",
                      with_nodepool(name, fn), options)


def _taint_text(t: Mapping) -> str:
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key')}{value}:{t.get('effect')}"


def nodepool_taints(check_id: str, name: str, taints: list[str], why: Mapping[str, str],
                    title: str | None = None, **options) -> Check:
    """The pool's taints are exactly `taints` (`key=value:Effect`); `why[key]` is the hint
    when the taint with that key is missing."""
    want = [pr.parse_taint(t)[0] for t in taints]
    where = f"NodePool {name} .spec.template.spec.taints"
    expected = ", ".join(taints)

    def fn(ctx, pool: dict) -> Outcome:
        spec = pool_template_spec(pool)
        have = list(spec.get("taints") or [])
        found = ", ".join(_taint_text(t) for t in have) or "no taints"
        have_texts = {_taint_text(t) for t in have}
        for taint in want:
            text = _taint_text(taint)
            if text in have_texts:
                continue
            same_key = [t for t in have if t.get("key") == taint["key"]]
            if same_key and same_key[0].get("effect") == taint.get("effect"):
                return failed(expected, found,
                              value_hint(Taint.of(same_key[0]), Taint.of(taint)), where)
            if same_key:
                return failed(expected, found,
                              f"the `{taint['key']}` taint is `{_taint_text(same_key[0])}`, the "
                              f"request says `{text}`: check its value and effect", where)
            if any(t.get("key") == taint["key"] for t in spec.get("startupTaints") or []):
                return failed(expected, found,
                              f"`{text}` is under startupTaints, which are removed once the node "
                              "is ready: put it under taints", where)
            return failed(expected, found, why.get(taint["key"]) or f"`{text}` is missing", where)
        extra = sorted(have_texts - {_taint_text(t) for t in want})
        if extra:
            return failed(expected, found, f"`{extra[0]}` was not asked for: every pod of the "
                          "team would have to tolerate it; remove it", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"NodePool {name} is tainted {expected}",
                      with_nodepool(name, fn), options)


def nodepool_as_generated(check_id: str, request: pr.Request, title: str | None = None,
                          **options) -> Check:
    """Everything else follows the platform's conventions: no weight, the default pools'
    disruption, expireAfter and terminationGracePeriod, the node class and the linux
    requirement, as the generator
    makes them. (Families, capacity types, labels, taints and limits have checks of their own.)"""
    name = request.pool_name
    where = f"NodePool {name} .spec"
    generated = pr.nodepool(request)["spec"]
    others = [r for r in generated["template"]["spec"]["requirements"]
              if r["key"] not in (catalog.AWS_FAMILY, catalog.CAPACITY_TYPE)]

    def fn(ctx, pool: dict) -> Outcome:
        spec = pool.get("spec") or {}
        if spec.get("weight") not in (None, 0):
            return failed("no weight", f"weight: {spec['weight']}",
                          "custom pools have no weight: the platform's defaults (weight 50) "
                          "must outrank them, so only pods that select this pool come here",
                          where)
        changed: list[str] = []
        for part in ("disruption",):
            changed += spec_diff(generated[part], spec.get(part) or {}, f"spec.{part}")[0]
        tmpl = pool_template_spec(pool)
        for key in ("expireAfter", "terminationGracePeriod", "nodeClassRef"):
            if key not in generated["template"]["spec"]:
                continue
            changed += spec_diff(generated["template"]["spec"].get(key), tmpl.get(key),
                                 f"spec.template.spec.{key}")[0]
        have_reqs = tmpl.get("requirements") or []
        for req in others:
            if req not in have_reqs:
                changed.append(f"requirement {req['key']} {req['operator']} {req['values']} "
                               "missing")
        if changed:
            return failed("as the platform's generator makes it", "; ".join(changed[:3]),
                          "the platform's pools share these settings: generate the pool "
                          "(`workshop request ...` or the request form) instead of editing it",
                          where)
        return passed("as the platform's generator makes it", "weight, disruption, "
                      "expireAfter, node class and os as generated", where)

    return make_check(check_id, title or f"NodePool {name} follows the platform's conventions",
                      with_nodepool(name, fn), options)


# ------------------------------------------------------------------ the team's workload


def pod_template_tolerates(check_id: str, name: str, taints: list[str],
                           title: str | None = None, **options) -> Check:
    """The Deployment's pods tolerate each taint (`key=value:Effect`), by Kubernetes' rules
    as lesson 03 reads them (workshop/k8s/taints.py)."""
    want = [Taint.of(pr.parse_taint(t)[0]) for t in taints]
    expected = "tolerates " + ", ".join(taints)

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.tolerations"
        tols = pod_template_spec(dep).get("tolerations") or []
        found = "; ".join(map(describe_toleration, tols)) or "no tolerations"
        for taint in want:
            if any(tolerates(t, taint) for t in tols):
                continue
            if any(t.get("key") == taint.key for t in tols):
                return failed(expected, found, near_miss(tols, taint), where)
            return failed(expected, found,
                          f"nothing tolerates `{taint}`: the pool's nodes repel these pods "
                          "(Karpenter: did not tolerate taint)", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"Deployment {name}'s pods tolerate the pool's taints",
                      with_deployment(name, fn), options)
