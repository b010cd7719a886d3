"""Reading Karpenter's disruption state: drift, consolidation, expiry, and its own words.

Shared by the lesson 07 graders (workshop/builders/disruption.py) and the notebook's
show.nodeclaims(), so a NodeClaim is described the same way everywhere.

Facts from Karpenter v1.14.1 (sigs.k8s.io/karpenter):
- A NodeClaim is drifted when its `karpenter.sh/nodepool-hash` annotation differs from its
  NodePool's (pkg/controllers/nodeclaim/disruption/drift.go, areStaticFieldsDrifted); the hash
  covers spec.template except requirements (pkg/apis/v1/nodepool.go, Hash). Karpenter then
  sets the NodeClaim condition Drifted=True (reason NodePoolDrifted).
- Expiry deletes the NodeClaim once it is older than spec.expireAfter
  (pkg/controllers/nodeclaim/expiration/controller.go): no condition, no budget. Its pods are
  evicted with the event "Evicted pod: Forceful Termination" (terminator/eviction.go).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from workshop.k8s import budgets as budget_rules
from workshop.k8s import kube
from workshop.k8s import timestamps
from workshop.names import KARPENTER_API

HASH = "karpenter.sh/nodepool-hash"
HASH_VERSION = "karpenter.sh/nodepool-hash-version"
DEFAULT_EXPIRE_AFTER = "720h"  # the CRD's default for spec.template.spec.expireAfter
DEFAULT_BUDGETS = budget_rules.DEFAULT  # the CRD's default for spec.disruption.budgets
# Karpenter's disruption events (pkg/events/reason.go), on Nodes, NodeClaims and NodePools.
EVENT_REASONS = ("DisruptionBlocked", "DisruptionLaunching", "DisruptionTerminating",
                 "DisruptionWaitingReadiness", "Unconsolidatable")
FORCEFUL = "Forceful Termination"
EXPIRY_SHOWN_S = 3600  # count down only expiries close enough to watch  # eviction reason when no disruption reason is set (expiry)

_DURATION = re.compile(r"(\d+)(h|m|s)")
_UNIT_S = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | None) -> float | None:
    """Karpenter's duration format (`10s`, `1m30s`, `720h`) in seconds; None for `Never`.

    Raises ValueError for anything else (the API's pattern is `^(([0-9]+(s|m|h))+|Never)$`).
    """
    text = str(text or "").strip()
    if text == "Never":
        return None
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"`{text}` is not a duration like 10s, 2m or 720h")
    return float(sum(int(n) * _UNIT_S[u] for n, u in parts))


def short_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _when(text: str | None) -> datetime | None:
    return timestamps.parse(text)


def age_s(obj: dict) -> float:
    created = _when((obj.get("metadata") or {}).get("creationTimestamp"))
    return (datetime.now(timezone.utc) - created).total_seconds() if created else 0.0


def nodepool(name: str) -> dict | None:
    return kube.get(KARPENTER_API, "NodePool", name)


def template_spec(pool: dict) -> dict:
    return ((pool.get("spec") or {}).get("template") or {}).get("spec") or {}


def template_metadata(pool: dict) -> dict:
    return ((pool.get("spec") or {}).get("template") or {}).get("metadata") or {}


def disruption_spec(pool: dict) -> dict:
    return (pool.get("spec") or {}).get("disruption") or {}


def budgets(pool: dict) -> list[dict]:
    return disruption_spec(pool).get("budgets") or DEFAULT_BUDGETS


# ---------------------------------------------------------------- NodeClaims


def deleting(claim: dict) -> bool:
    return bool((claim.get("metadata") or {}).get("deletionTimestamp"))


def drifted(claim: dict, pool: dict | None) -> bool:
    """Made from an older template than the NodePool's current one (or marked Drifted)."""
    if kube.is_true(claim, "Drifted"):
        return True
    if pool is None:
        return False
    have = (claim.get("metadata") or {}).get("annotations") or {}
    want = (pool.get("metadata") or {}).get("annotations") or {}
    if HASH not in have or HASH not in want or have.get(HASH_VERSION) != want.get(HASH_VERSION):
        return False  # Karpenter compares hashes only of the same version
    return have[HASH] != want[HASH]


def expires_in_s(claim: dict) -> float | None:
    """Seconds until Karpenter expires this NodeClaim (negative: overdue); None: never."""
    try:
        after = parse_duration((claim.get("spec") or {}).get("expireAfter") or "Never")
    except ValueError:
        return None
    return None if after is None else after - age_s(claim)


def node_name(claim: dict) -> str:
    return (claim.get("status") or {}).get("nodeName") or ""


def instance_type(claim: dict) -> str:
    return ((claim.get("metadata") or {}).get("labels") or {}).get(
        "node.kubernetes.io/instance-type", "?")


def state(claim: dict, pool: dict | None = None) -> str:
    """One phrase: what Karpenter is doing with this NodeClaim (as its conditions say)."""
    if deleting(claim):
        return "being replaced (deleting)"
    if not kube.is_true(claim, "Initialized"):
        return "launching"
    words = []
    if drifted(claim, pool):
        cond = kube.condition(claim, "Drifted") or {}
        words.append(f"Drifted ({cond.get('reason') or 'template changed'})")
    if kube.is_true(claim, "Consolidatable"):
        words.append("Consolidatable")
    left = expires_in_s(claim)
    if left is not None and left < EXPIRY_SHOWN_S:  # not the default's 720h countdown
        words.append(f"expires in {short_duration(left)}" if left > 0 else "expired")
    return ", ".join(words) or "Ready"


def describe(claims: list[dict], pool: dict | None = None, limit: int = 4) -> str:
    """`nc-x (c6g.xlarge): Drifted; nc-y (c6g.xlarge): launching` for a progress line."""
    shown = [f"{c['metadata']['name']} ({instance_type(c)}): {state(c, pool)}"
             for c in sorted(claims, key=lambda c: c["metadata"].get("creationTimestamp") or "")]
    more = f"; and {len(shown) - limit} more" if len(shown) > limit else ""
    return "; ".join(shown[:limit]) + more if shown else "no NodeClaims"


# ---------------------------------------------------------------- Karpenter's words


def _events(kind: str, name: str) -> list[dict]:
    """Events about one object in any namespace, through the dynamic client: the typed
    CoreV1Api behind kube.events_for costs seconds to import, too slow for a 2 s check."""
    res = kube.call(kube.resource("v1", "Event").get,
                    field_selector=f"involvedObject.kind={kind},involvedObject.name={name}")
    return [item.to_dict() for item in res.items] if res is not None else []


def latest_event(claims: list[dict], reasons: tuple[str, ...] = EVENT_REASONS) -> str | None:
    """Karpenter's newest disruption event about these NodeClaims or their Nodes, quoted."""
    found: list[dict] = []
    for claim in claims:
        found += _events("NodeClaim", claim["metadata"]["name"])
        if node_name(claim):
            found += _events("Node", node_name(claim))
    found = [e for e in found if e.get("reason") in reasons]
    if not found:
        return None
    newest = max(found, key=kube.event_time)
    return f"karpenter: {newest.get('reason')}: {' '.join((newest.get('message') or '').split())}"


def nodepool_event(name: str, reason: str = "DisruptionBlocked",
                   about: str = "") -> str | None:
    """Karpenter's newest `reason` event on a NodePool; one mentioning `about` (e.g. the
    disruption reason "Drifted") first."""
    events = sorted((e for e in _events("NodePool", name) if e.get("reason") == reason),
                    key=kube.event_time)
    events = [e for e in events if about in (e.get("message") or "")] or events
    if not events:
        return None
    return f"karpenter: {reason}: {events[-1].get('message', '').strip()}"


def forceful_evictions(namespace: str, pod_prefixes: list[str]) -> list[dict]:
    """Karpenter's "Evicted pod: Forceful Termination" events for these pods (expiry)."""
    events = kube.list_("v1", "Event", namespace=namespace)
    return [e for e in events
            if e.get("reason") == "Evicted" and FORCEFUL in (e.get("message") or "")
            and kube.event_source(e) == "karpenter"
            and any(((e.get("involvedObject") or {}).get("name") or "").startswith(p)
                    for p in pod_prefixes)]
