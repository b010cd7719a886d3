"""Why a pod is Pending: the one place that reads Karpenter's and the scheduler's events.

Every surface asks here (the graders, `show.pods`, the live viewer, `explain`), so a pod is
never explained two ways. Given a pod (and optionally the events already at hand, as the
viewer has them from its watch), `of(pod)` says:

- verdict "launching": Karpenter's newest word is `Nominated` (it is making a node for it);
- verdict "cannot": Karpenter's newest word is `FailedScheduling` (no NodePool can serve it);
- verdict "scheduler": Karpenter has said nothing yet; the scheduler's event, if any.

Karpenter's own words win over the scheduler's: the scheduler's newest event is usually
"no nodes available", while Karpenter names the NodePool, limit or label at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Iterable

from workshop.k8s import kube

EVENT_CHARS = 400
REASONS = ("FailedScheduling", "Nominated")


@dataclass(frozen=True)
class Pending:
    verdict: str  # "launching" | "cannot" | "scheduler"
    event: str | None  # "karpenter: <message>" (quoted, shortened), None when nobody spoke

    @property
    def text(self) -> str:
        """One line for a table: the event, or what silence means."""
        return self.event or "waiting for the scheduler"


def quote(source: str, message: str, limit: int = EVENT_CHARS) -> str:
    text = " ".join(message.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"{source}: {text}"


def _events(pod: dict) -> list[dict]:
    meta = pod["metadata"]
    return kube.events_for("Pod", meta["name"], meta["namespace"])


def failed_scheduling(pod: dict) -> list[dict]:
    """A pod's FailedScheduling events, newest last. Through the dynamic client, as every
    other read of a solved lesson: the first use of kube.core() costs seconds (it loads the
    whole CoreV1Api module), too slow for a check."""
    meta = pod["metadata"]
    selector = (f"involvedObject.kind=Pod,involvedObject.name={meta['name']},"
                "reason=FailedScheduling")
    res = kube.call(kube.resource("v1", "Event").get, namespace=meta["namespace"],
                    field_selector=selector)
    return sorted((e.to_dict() for e in (res.items if res is not None else [])),
                  key=kube.event_time)


def from_events(events: Iterable[dict]) -> Pending:
    """The verdict from one pod's events (any order; newest wins)."""
    events = sorted((e for e in events if e.get("reason") in REASONS), key=kube.event_time)
    mine = [e for e in events if kube.event_source(e) == "karpenter"]
    if mine:
        newest = mine[-1]
        verdict = "launching" if newest["reason"] == "Nominated" else "cannot"
        return Pending(verdict, quote("karpenter", newest.get("message", "")))
    scheduler = [e for e in events if e["reason"] == "FailedScheduling"]
    if not scheduler:
        return Pending("scheduler", None)
    return Pending("scheduler", quote(kube.event_source(scheduler[-1]) or "scheduler",
                                      scheduler[-1].get("message", "")))


def of(pod: dict, events: Iterable[dict] | None = None) -> Pending:
    """Why this unscheduled pod waits; reads its events unless given them."""
    return from_events(_events(pod) if events is None else events)


def nomination(pod: dict) -> str:
    """Karpenter's FIRST `Nominated` message for a pod, or "": "Pod should schedule on:
    nodeclaim/X" when it launched a node for the pod, "..., node/Y" when the pod was meant
    for a node that already existed. (Later nominations of a still-pending pod may name the
    node its own NodeClaim has by then.)"""
    mine = [e for e in _events(pod) if e.get("reason") == "Nominated"
            and kube.event_source(e) == "karpenter"]
    return (mine[0].get("message") or "") if mine else ""


def why_pending(pod: dict) -> tuple[str, str | None]:
    """(verdict, quoted event): the shape the graders have always used."""
    p = of(pod)
    return p.verdict, p.event


# ---------------------------------------------------------------- in a learner's words

_HINTS = {
    "labels": ("no NodePool makes nodes with the labels these pods select: compare the "
               "selector's keys and values with the NodePools' labels"),
    "resources": ("no instance type can hold one of these pods: check the requests' values "
                  "and units"),
    "limits": ("the NodePool's limits are reached: these pods would take it past its limits "
               "(compare their requests with the NodePool's limits)"),
    "taint": "the only NodePools that fit are tainted and these pods do not tolerate them",
}
# Most telling first: a selector no NodePool can satisfy explains every other clause.
_ORDER = ["labels", "resources", "limits", "labels-other-value", "taint"]
_UNKNOWN_LABEL = re.compile(r'label "([^"]+)" does not have known values')


def _cause(clause: str, known_keys: Collection[str]) -> str | None:
    text = clause.lower()
    unknown = _UNKNOWN_LABEL.search(clause)
    if unknown:
        # Said of each NodePool lacking the label; it is the pods' mistake only if no
        # NodePool or offering has that label at all.
        return "labels" if unknown.group(1) not in known_keys else None
    if "no valid values found" in text:
        return "labels"
    if "no instance type" in text and ("resources" in text or "satisf" in text):
        return "resources"
    if "exceed limits" in text:
        return "limits"
    if "incompatible" in text:
        return "labels-other-value"
    if "taint" in text:
        return "taint"
    return None


def pending_hint(event: str, known_keys: Collection[str]) -> str:
    """What Karpenter's FailedScheduling message means, in a learner's words.

    Karpenter joins one clause a NodePool with "; " (seen on v1.14), e.g. "all available
    instance types exceed limits for nodepool (NodePool=team-payments); did not tolerate
    taint (...); incompatible requirements, label "team" does not have known values": the
    last clause is the default pool lacking the team label, not the pods' mistake.
    """
    body = event.split("Failed to schedule pod,", 1)[-1]
    causes = {_cause(clause, known_keys) for clause in body.split(";")}
    for cause in _ORDER:
        if cause in causes:
            return _HINTS[cause.removesuffix("-other-value")]
    return "Karpenter cannot place these pods: its event says why"
