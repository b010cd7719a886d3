"""Check builders for node affinity beyond "requires this label" (lesson 04): preferences,
deprecated label keys, and numeric Gt/Lt rules on the instance's size.

    pod_template_prefers_label("4.2.spot", "arm-api", "karpenter.sh/capacity-type", "spot", ...)
    pod_template_requires_more_than("4.3.cpu", "big-cpu", "karpenter.k8s.aws/instance-cpu", 8)

Facts: Karpenter v1.14.1 first treats preferred node affinity as required and relaxes it
only when nothing fits (pkg/controllers/provisioning/scheduling/preferences.go); it
translates deprecated keys such as `beta.kubernetes.io/arch` to their GA names
(`NormalizedLabels`, pkg/apis/v1/labels.go); `Gt`/`Lt` compare integers strictly.
"""

from __future__ import annotations

from typing import Any

from workshop.instances import catalog
from workshop.k8s import usage
from workshop.builders import base as c
from workshop.builders import workloads
from workshop.grading.core import Check, Outcome, failed, passed

# Deprecated node label keys and the keys that replaced them (nodes still carry the beta
# arch/os labels; Karpenter translates them for its own decisions).
DEPRECATED_KEYS = {
    "beta.kubernetes.io/arch": catalog.ARCH,
    "beta.kubernetes.io/os": catalog.OS,
    "failure-domain.beta.kubernetes.io/zone": catalog.ZONE,
}


def _preferred(spec: dict) -> list[dict]:
    aff = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return list(aff.get("preferredDuringSchedulingIgnoredDuringExecution") or [])


def pod_template_prefers_label(check_id: str, name: str, key: str, value: str,
                               required_remark: str, title: str | None = None,
                               **options) -> Check:
    """A preferred node-affinity term favours nodes whose `key` is `value`. Requiring it
    instead passes with `required_remark` (what the learner gave up)."""
    expected = f"preferred {key} In ({value})"

    def fn(ctx, dep: dict) -> Outcome:
        where = (f"Deployment {ctx.namespace}/{name} .spec.template.spec.affinity.nodeAffinity"
                 ".preferredDuringSchedulingIgnoredDuringExecution")
        spec = c.pod_template_spec(dep)
        terms = _preferred(spec)
        for term in terms:
            exprs = (term.get("preference") or {}).get("matchExpressions") or []
            if any(e.get("key") == key for e in exprs):
                labels = {key: value}
                if catalog.matches([e for e in exprs if e.get("key") == key], labels):
                    weight = term.get("weight")
                    return passed(expected, f"preferred {key} = {value} (weight {weight})",
                                  where)
                values = [v for e in exprs if e.get("key") == key for v in e.get("values") or []]
                return failed(expected, f"prefers {key} in ({', '.join(values)})",
                              f"the preference on {key} does not favour `{value}`: values are "
                              "exact and case-sensitive", where)
        if not c.allows_label(spec, key, None) and all(
                c.allows_label(spec, key, v) == (v == value)
                for v in c.known_node_labels(ctx).get(key, set()) | {value}):
            return passed(expected, f"required {key} = {value} ({required_remark})", where)
        return failed(expected, "no preferred rule on " + key,
                      f"nothing prefers {key} = {value}: add a "
                      "preferredDuringSchedulingIgnoredDuringExecution term (a weight and a "
                      "preference) on that key", where)

    return c.make_check(check_id, title or f"Deployment {name}'s pods prefer {key}={value}",
                        c.with_deployment(name, fn), options)


def pod_template_requires_label_or_deprecated(check_id: str, name: str, key: str,
                                              values: list[str], unconstrained_hint: str,
                                              title: str | None = None, **options) -> Check:
    """pod_template_requires_label, which also accepts (with a remark) the deprecated
    key Karpenter translates to `key` (a nodeSelector on `beta.kubernetes.io/arch`)."""
    inner = workloads.pod_template_requires_label(check_id, name, key, values, unconstrained_hint,
                                                  title=title, **options)
    old = [k for k, new in DEPRECATED_KEYS.items() if new == key]

    def fn(ctx: Any) -> Outcome:
        dep = c.get_deployment(ctx, name)
        outcome = original(ctx)
        if dep is None or outcome.status.value == "pass":
            return outcome
        spec = c.pod_template_spec(dep)
        for deprecated in old:
            mentioned = [vs for k, vs in c.mentioned_labels(spec, "required") if k == deprecated]
            if mentioned and set(mentioned[0]) <= set(values) and not c.allows_label(spec, deprecated, None):
                return passed(outcome.expected,
                              f"required {deprecated} in ({', '.join(mentioned[0])}) (accepted, "
                              f"but `{deprecated}` is deprecated since Kubernetes 1.14, as the "
                              f"API warns when you apply it: use `{key}`)", outcome.object)
        return outcome

    original, inner.fn = inner.fn, fn
    return inner


def _int_values(ctx, key: str) -> list[int]:
    return sorted({int(o.labels[key]) for o in ctx.catalog.offerings
                   if o.labels.get(key, "").isdigit()})


def _example(ctx, key: str, values: set[int]) -> str:
    """The cheapest instance type whose `key` is one of `values`, e.g. "m5.2xlarge (8)"."""
    offers = [o for o in ctx.catalog.offerings
              if o.labels.get(key, "").isdigit() and int(o.labels[key]) in values]
    best = min(offers, key=lambda o: (o.price, o.instance_type), default=None)
    return f"{best.instance_type} ({best.labels[key]})" if best else ""


def _requested_cpu(dep: dict) -> float:
    return usage.pod_requests(c.pod_template_spec(dep)).cpu_millis / 1000


def pod_template_requires_more_than(check_id: str, name: str, key: str, bound: int,
                                    title: str | None = None, **options) -> Check:
    """The required rules admit exactly the nodes whose integer label `key` is > `bound`
    (among the values the catalog offers). `Gt bound` passes; any other rule admitting
    the same values (an `In` list) passes with a remark."""
    expected = f"required {key} Gt {bound}"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.affinity.nodeAffinity"
        spec = c.pod_template_spec(dep)
        known = _int_values(ctx, key)
        want = {v for v in known if v > bound}
        try:
            allowed = {v for v in known if c.allows_label(spec, key, str(v))}
        except catalog.CatalogError as exc:
            return failed(expected, exc.message, "a Gt or Lt rule takes exactly one integer "
                          "value, quoted: values: [\"8\"]", where)
        rules = [(e.get("operator"), e.get("values")) for t in c.affinity_terms(spec, "required")
                 for e in t.get("matchExpressions") or [] if e.get("key") == key]
        rules += [("In", [v]) for k, v in (spec.get("nodeSelector") or {}).items() if k == key]
        shown = "; ".join(f"{op} {', '.join(vs or [])}" for op, vs in rules)
        found = f"{key} {shown}" if rules else f"nothing requires {key}"
        if not rules:
            cpu = _requested_cpu(dep)
            if cpu > bound:
                return failed(expected, f"{found}; requests {cpu:g} CPU",
                              f"requests of {cpu:g} CPU are a different thing: Karpenter sizes "
                              "the node for the pod, and the pod then holds those CPUs. Keep "
                              f"the request and require `{key}` `Gt` \"{bound}\" instead", where)
            if any(k == key for k, _ in c.mentioned_labels(spec, "preferred")):
                return failed(expected, f"only a preferred rule on {key}",
                              "preferred is only a wish: this needs a required rule", where)
            return failed(expected, found,
                          f"nothing in the pod template requires {key}: add a required "
                          "node-affinity term with operator Gt", where)
        if allowed == want:
            if rules == [("Gt", [str(bound)])]:
                return passed(expected, found, where)
            return passed(expected, f"{found} (accepted: it admits the same sizes today, but a "
                          f"list must grow with the catalog; `Gt {bound}` admits every larger "
                          "size, new ones too)", where)
        extra, lacking = allowed - want, want - allowed
        if extra:
            return failed(expected, found,
                          f"this also admits {_example(ctx, key, extra)} (Gt is strictly "
                          f"greater, Lt strictly less): the exercise wants only more than "
                          f"{bound}", where)
        return failed(expected, found,
                      f"this leaves out {_example(ctx, key, lacking)}, which has more than "
                      f"{bound}: admit every size above {bound}", where)

    return c.make_check(check_id, title or f"Deployment {name}'s pods require {key} > {bound}",
                        c.with_deployment(name, fn), options)


def pods_ready_on_nodes_over(check_id: str, name: str, count: int, key: str, bound: int,
                             title: str | None = None, **options) -> Check:
    def big(info) -> bool:
        value = info.labels.get(key, "")
        return value.isdigit() and int(value) > bound

    return c.pods_ready(check_id, name, count, big, f"nodes with {key} > {bound}",
                        f"some pods run on nodes with {key} of {bound} or less: the pod "
                        "template does not keep them off", 
                        title or f"{count} pods of {name} Ready on nodes with {key} > {bound}",
                        options)
