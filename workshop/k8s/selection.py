"""Which NodePools a pod's required node selection leaves open: pure logic, no client calls.

A Deployment may keep its pods on one pool by any label that pool's nodes carry and the
other pools' nodes do not: the pool's own template label (`team: a`), the platform's
`platform.workshop.dev/nodepool`, or Karpenter's `karpenter.sh/nodepool` (which Karpenter
puts on every node it launches, pkg/apis/v1/labels.go `NodePoolLabelKey`), by nodeSelector
or by required node affinity. Graders accept any of them; this module says which pools a
pod spec admits, judging only the labels a pool fixes for all its nodes.

    pools_admitting(pod_spec, nodepools)       -> ["batch"]
    pinning_rules(pod_spec, nodepools)         -> "`karpenter.sh/nodepool: batch`"
"""

from __future__ import annotations

from typing import Iterable, Mapping

from workshop.names import NODEPOOL_LABEL

# A pool's possible values for a key: a set of strings, None in it for "the label is absent";
# ANY when the pool does not fix the key (the instance type decides, or a rule we don't model).
ANY = None


def _template(pool: Mapping) -> Mapping:
    return (pool.get("spec") or {}).get("template") or {}


def _name(pool: Mapping) -> str:
    return (pool.get("metadata") or {}).get("name") or ""


def pool_label_keys(pools: Iterable[Mapping]) -> set[str]:
    """Keys some pool fixes on all its nodes: its template labels, and Karpenter's own."""
    keys = {NODEPOOL_LABEL}
    for pool in pools:
        keys |= set((_template(pool).get("metadata") or {}).get("labels") or {})
    return keys


def _values(pool: Mapping, key: str) -> set | None:
    """The values `key` can have on this pool's nodes (None in the set: absent), or ANY."""
    if key == NODEPOOL_LABEL:
        return {_name(pool)}
    labels = (_template(pool).get("metadata") or {}).get("labels") or {}
    if key in labels:
        return {str(labels[key])}
    for req in (_template(pool).get("spec") or {}).get("requirements") or []:
        if req.get("key") == key:
            # A requirement `In` values becomes the node's label (one of them); other
            # operators leave it open.
            return set(req.get("values") or []) if req.get("operator") == "In" else ANY
    return {None}


def _expression_allows(possible: set | None, expr: Mapping) -> bool:
    if possible is ANY:
        return True
    op, values = expr.get("operator"), set(expr.get("values") or [])
    if op == "In":
        return bool(possible & values)
    if op == "NotIn":
        return bool(possible - values)
    if op == "Exists":
        return bool(possible - {None})
    if op == "DoesNotExist":
        return None in possible
    return True  # Gt/Lt: numeric labels, never a pool's own label here


def _required_terms(pod_spec: Mapping) -> list[list[Mapping]]:
    aff = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
    terms = ((aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    return [list(t.get("matchExpressions") or []) for t in terms]


def admits(pod_spec: Mapping, pool: Mapping, keys: set[str]) -> bool:
    """Could a node of `pool` meet the pod's required selection, judging only `keys`?"""
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if key in keys and not _expression_allows(_values(pool, key),
                                                  {"operator": "In", "values": [value]}):
            return False
    terms = _required_terms(pod_spec)
    if not terms:
        return True
    # Terms are ORed, a term's expressions ANDed (Kubernetes semantics).
    return any(all(_expression_allows(_values(pool, e.get("key")), e)
                   for e in term if e.get("key") in keys) for term in terms)


def pools_admitting(pod_spec: Mapping, pools: Iterable[Mapping]) -> list[str]:
    """The names of the pools whose nodes the pod's required selection allows."""
    pools = list(pools)
    keys = pool_label_keys(pools)
    return sorted(_name(p) for p in pools if admits(pod_spec, p, keys))


def pinning_rules(pod_spec: Mapping, pools: Iterable[Mapping]) -> str:
    """The pod's required rules on pool labels, as a learner wrote them (for a remark)."""
    keys = pool_label_keys(pools)
    rules = [f"`{k}: {v}`" for k, v in (pod_spec.get("nodeSelector") or {}).items() if k in keys]
    for term in _required_terms(pod_spec):
        rules += [f"`{e.get('key')} {e.get('operator')} [{', '.join(e.get('values') or [])}]`"
                  for e in term if e.get("key") in keys]
    return ", ".join(rules) or "its node selection"
