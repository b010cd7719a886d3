"""Reading Karpenter's story for people: events of a namespace, condition transitions in
short, a NodeClaim's stage, a NodePool's readiness and requirements."""

from __future__ import annotations

import re
from datetime import datetime

from workshop.errors import WorkshopError
from workshop.k8s import kube, timestamps
from workshop.names import KARPENTER_API

_TRANSITION = re.compile(r"Status condition transitioned, Type: (\w+), Status: (\w+) -> (\w+)"
                         r"(?:, Reason: [^,]*)?(?:, Message: (.*))?$", re.S)


def short_event(message: str) -> str:
    """Karpenter's "Status condition transitioned, Type: X, Status: A -> B, ..." as "X: A → B"."""
    message = message.strip()
    m = _TRANSITION.match(message)
    if not m:
        return message
    kind, old, new, detail = m.groups()
    return f"{kind}: {old} → {new}" + (f" ({detail.strip()})" if detail and detail.strip() else "")


def healthy_pool_event(ev: dict) -> bool:
    """A NodePool condition turning True: noise next to the pods' story."""
    return ((ev.get("involvedObject") or {}).get("kind") == "NodePool"
            and "-> True" in (ev.get("message") or ""))


def namespace_events(namespace: str) -> list[tuple[datetime, dict]]:
    items = kube.call(kube.core().list_namespaced_event, namespace)
    out = []
    for ev in (kube.api_client().sanitize_for_serialization(e) for e in (items.items if items else [])):
        when = timestamps.parse(ev.get("eventTime") or ev.get("lastTimestamp")
                                or ev.get("firstTimestamp")
                                or (ev.get("metadata") or {}).get("creationTimestamp"))
        if when is not None:
            out.append((when, ev))
    return out


def claim_state(nc: dict) -> str:
    if (nc.get("metadata") or {}).get("deletionTimestamp"):
        return "deleting"
    state = "launching"
    for cond in ("Launched", "Registered", "Initialized", "Ready"):
        if kube.is_true(nc, cond):
            state = cond
    return state


def pool_readiness(np: dict, ready: dict) -> str:
    """"True", or why not: each failing condition with Karpenter's message."""
    if ready.get("status") == "True":
        return "True"
    why = [f"{c.get('type')}: {c.get('message') or c.get('reason') or c.get('status')}"
           for c in (np.get("status") or {}).get("conditions") or []
           if c.get("type") != "Ready" and c.get("status") == "False"]
    return f"{ready.get('status', 'no status yet')}" + (" (" + "; ".join(why) + ")" if why else "")


def pool_requirements(pool: str) -> list[dict]:
    np = kube.get(KARPENTER_API, "NodePool", pool)
    if np is None:
        names = ", ".join(n["metadata"]["name"] for n in kube.list_(KARPENTER_API, "NodePool"))
        raise WorkshopError(f"there is no NodePool `{pool}`",
                            fix=f"NodePools in the cluster: {names or 'none'}")
    return ((np.get("spec") or {}).get("template") or {}).get("spec", {}).get("requirements") or []
