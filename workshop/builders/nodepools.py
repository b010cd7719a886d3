"""Check builders for a learner's NodePool: it exists, uses the node class, is Ready, admits
exactly the asked offerings, carries the labels and limits the exercise names."""

from __future__ import annotations

from fractions import Fraction
from typing import Callable
from typing import Collection
from typing import Iterable
from typing import Mapping
from workshop.grading.core import Check
from workshop.grading.core import Outcome
from workshop.grading.core import failed
from workshop.grading.core import passed
from workshop.instances import catalog
from workshop.instances import eks_labels
from workshop.platform import defaults as platform
from workshop.builders.base import (
    NODECLASS_GROUP, NODECLASS_KIND, NODEPOOL_READY_WAIT_S, make_check, pool_template_spec, ready_outcome, with_nodepool,
)


def nodepool_exists(check_id: str, name: str, title: str | None = None, **options) -> Check:
    return make_check(check_id, title or f"NodePool {name} exists",
                      with_nodepool(name, lambda ctx, pool: passed("exists", "exists")), options)


def nodepool_uses_nodeclass(check_id: str, name: str, nodeclass: str = platform.NODECLASS,
                            title: str | None = None, **options) -> Check:
    want = {"group": NODECLASS_GROUP, "kind": NODECLASS_KIND, "name": nodeclass}
    where = f"NodePool {name} .spec.template.spec.nodeClassRef"

    def fn(ctx, pool: dict) -> Outcome:
        ref = pool_template_spec(pool).get("nodeClassRef") or {}
        found = "/".join(str(ref.get(k, "?")) for k in ("group", "kind", "name"))
        expected = "/".join(want.values())
        if ref.get("group") != want["group"] or ref.get("kind") != want["kind"]:
            return failed(expected, found,
                          f"this cluster runs Karpenter's kwok provider: its node classes are "
                          f"kind {NODECLASS_KIND} in group {NODECLASS_GROUP} (EC2NodeClass is "
                          "the AWS provider's)", where)
        if ref.get("name") != nodeclass:
            return failed(expected, found,
                          f"there is no node class named `{ref.get('name')}`: "
                          "`kubectl get kwoknodeclasses` lists the platform's", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"NodePool {name} uses node class {nodeclass}",
                      with_nodepool(name, fn), options)


def nodepool_ready(check_id: str, name: str, title: str | None = None, **options) -> Check:
    where = f"NodePool {name} .status.conditions"
    fn = with_nodepool(name, lambda ctx, pool: ready_outcome(pool, where))
    return make_check(check_id, title or f"NodePool {name} is Ready", fn, options,
                      wait_s=NODEPOOL_READY_WAIT_S)


def learner_nodepool(exercise: str, name: str, ready: bool = True) -> list[Check]:
    """The checks every exercise about a learner's own NodePool starts with: it exists
    (`<exercise>.nodepool`), uses the platform's node class (`.nodeclass`) and, unless
    ready=False, is Ready (`.ready`). The checks after them should depend on
    `<exercise>.nodepool`."""
    after = {"depends_on": [f"{exercise}.nodepool"]}
    checks = [nodepool_exists(f"{exercise}.nodepool", name),
              nodepool_uses_nodeclass(f"{exercise}.nodeclass", name, **after)]
    if ready:
        checks.append(nodepool_ready(f"{exercise}.ready", name, **after))
    return checks


def known_values(offerings: Iterable[catalog.Offering], key: str) -> list[str]:
    return sorted({o.labels[key] for o in offerings if key in o.labels})


def requirement_key_problem(cat: catalog.Catalog, reqs: list[dict]) -> str | None:
    """A hint for the first requirement key EKS would reject or that narrows nothing.

    Checked even when the admitted set is right: a misspelt key narrows nothing here, and
    on EKS a key in a restricted domain keeps the NodePool from ever being Ready.
    """
    for req in reqs:
        key = str(req.get("key", ""))
        if key in cat.label_keys or key in eks_labels.EKS_WELL_KNOWN:
            continue
        if eks_labels.restricted_on_eks(key):
            why = ("Karpenter reserves it" if key in eks_labels.RESTRICTED_LABELS else
                   f"its domain `{eks_labels.domain(key)}` is restricted")
            return (f"`{key}` is not a well-known label, and {why}: on EKS Karpenter "
                    "rejects this NodePool (it is never Ready); check the key's spelling")
        if eks_labels.looks_well_known(key):
            # Custom keys (team: ...) just become node labels; a misspelt well-known key
            # silently narrows nothing, which is worth saying.
            return (f"no offering carries label `{key}`: this requirement narrows nothing "
                    "(check the key's spelling)")
    return None


def kwok_only_remark(reqs: list[dict]) -> str | None:
    """A pass's remark when a requirement uses a key only the kwok provider has."""
    for req in reqs:
        aws = eks_labels.KWOK_TO_AWS.get(str(req.get("key", "")))
        if aws:
            return (f"accepted, but `{req['key']}` exists only in Karpenter's kwok provider: "
                    f"on EKS write `{aws}`")
    return None


def requirement_problem(cat: catalog.Catalog, reqs: list[dict]) -> str | None:
    """A hint for the first requirement that can never mean what it says, else None."""
    for req in reqs:
        key, op, values = req.get("key", ""), req.get("operator"), req.get("values") or []
        if key not in cat.label_keys:
            continue
        if op not in ("In", "NotIn"):
            continue
        known = known_values(cat.offerings, key)
        unknown = [v for v in values if v not in known]
        if unknown:
            return (f"no offering has `{key}` = `{unknown[0]}` (values are exact and "
                    f"case-sensitive; offerings use: {', '.join(known[:8])})")
    return None


# How two sets of offerings can differ, most telling first: a pool with no family
# requirement admits every family its other requirements allow (on EKS, many).
OFFERING_DIMENSIONS: list[tuple[str, Callable[[catalog.Offering], str]]] = [
    ("instance families", lambda o: o.family),
    ("architectures", lambda o: o.arch),
    ("capacity types", lambda o: o.capacity_type),
    ("zones", lambda o: o.zone),
]


def set_difference_hint(expected: Collection[catalog.Offering],
                        found: Collection[catalog.Offering]) -> str:
    """Say along which dimension the admitted offerings differ from the asked ones."""
    extra, lacking = set(found) - set(expected), set(expected) - set(found)
    for what, value in OFFERING_DIMENSIONS:
        more = sorted({value(o) for o in extra} - {value(o) for o in expected})
        if more:
            return (f"these requirements also admit other {what} ({', '.join(more[:6])}): "
                    f"narrow the {what} to the ones the exercise asks for")
        fewer = sorted({value(o) for o in lacking} - {value(o) for o in found})
        if fewer:
            return (f"these requirements leave out {what} the exercise asks for "
                    f"({', '.join(fewer[:6])}): widen them")
    return ("these requirements admit other offerings than the exercise asks for: "
            "narrow or widen them")


def nodepool_admits_exactly(check_id: str, name: str, expected_requirements: list[dict],
                            title: str | None = None, **options) -> Check:
    """The offerings a NodePool's requirements admit are exactly those of `expected_requirements`.

    Graded on meaning, not spelling: any requirements admitting the same offerings pass.
    """
    where = f"NodePool {name} .spec.template.spec.requirements"

    def fn(ctx, pool: dict) -> Outcome:
        cat = ctx.catalog
        expected = cat.admitted(expected_requirements)
        want = catalog.describe_set(expected)
        reqs = list(pool_template_spec(pool).get("requirements") or [])
        try:
            found = cat.admitted(reqs)
        except catalog.CatalogError as exc:
            return failed(want, exc.message, "fix this requirement's operator or values", where)
        key_problem = requirement_key_problem(cat, reqs)
        if key_problem:
            return failed(want, catalog.describe_set(found), key_problem, where)
        if found == expected:
            remark = kwok_only_remark(reqs)
            shown = catalog.describe_set(found)
            return passed(want, f"{remark} ({shown})" if remark else shown, where)
        problem = requirement_problem(cat, reqs)
        if problem:
            return failed(want, catalog.describe_set(found), problem, where)
        if not found:
            return failed(want, "no offerings",
                          "no offering satisfies all these requirements together: Karpenter "
                          "could never launch a node (compare with the catalog)", where)
        return failed(want, catalog.diff_sets(expected, found),
                      set_difference_hint(expected, found), where)

    return make_check(check_id, title or f"NodePool {name} admits exactly the asked offerings",
                      with_nodepool(name, fn), options)


def nodepool_template_labels(check_id: str, name: str, labels: Mapping[str, str],
                             title: str | None = None, absent_hint: str | None = None,
                             **options) -> Check:
    where = f"NodePool {name} .spec.template.metadata.labels"
    expected = ", ".join(f"{k}: {v}" for k, v in labels.items())

    def fn(ctx, pool: dict) -> Outcome:
        have = (((pool.get("spec") or {}).get("template") or {}).get("metadata") or {}
                ).get("labels") or {}
        found = ", ".join(f"{k}: {v}" for k, v in have.items()) or "no labels"
        for key, value in labels.items():
            if have.get(key) == value:
                continue
            if key in have:
                return failed(expected, found,
                              f"label `{key}` has value `{have[key]}`: check the value's "
                              "spelling", where)
            if value in have.values():
                other = next(k for k, v in have.items() if v == value)
                return failed(expected, found,
                              f"label key `{other}` is not the one asked for: check the key's "
                              "spelling", where)
            return failed(expected, found,
                          absent_hint or f"no label `{key}`: labels under template.metadata "
                          "become node labels, which pods select", where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"NodePool {name} labels its nodes",
                      with_nodepool(name, fn), options)


def quantity_hint(resource: str, text: str, want: Fraction) -> str:
    try:
        value = catalog.parse_quantity(text)
    except ValueError:
        return f"`{text}` is not a Kubernetes quantity"
    if text.strip().isdigit() and resource == "memory":
        return (f"`{text}` without a unit means {text} bytes: memory quantities need a unit "
                "such as Mi or Gi")
    if value * 1024**3 == want * 1000**3 or value * 1024**2 == want * 1000**2:
        return "decimal units (M, G) are powers of 1000; binary units (Mi, Gi) powers of 1024"
    if resource == "cpu" and value == want * 1000:
        return (f"`{text}` is {text} CPUs, not millicores: a plain number counts whole CPUs "
                f"(`{text}m` would be millicores)")
    return f"the {resource} limit differs from the one asked for: check the number and unit"


def nodepool_limits(check_id: str, name: str, limits: Mapping[str, str],
                    title: str | None = None, **options) -> Check:
    """spec.limits equal `limits` by value (`16000m` == `16`, `65536Mi` == `64Gi`)."""
    where = f"NodePool {name} .spec.limits"
    expected = ", ".join(f"{k}: {v}" for k, v in limits.items())

    def fn(ctx, pool: dict) -> Outcome:
        have = (pool.get("spec") or {}).get("limits") or {}
        found = ", ".join(f"{k}: {v}" for k, v in have.items()) or "no limits"
        for resource, text in limits.items():
            want = catalog.parse_quantity(text)
            if resource not in have:
                return failed(expected, found,
                              f"no {resource} limit: without one a NodePool grows without "
                              "bound", where)
            got = str(have[resource])
            try:
                same = catalog.parse_quantity(got) == want
            except ValueError:
                same = False
            if not same:
                return failed(expected, found, quantity_hint(resource, got, want), where)
        return passed(expected, found, where)

    return make_check(check_id, title or f"NodePool {name} has the asked limits",
                      with_nodepool(name, fn), options)
