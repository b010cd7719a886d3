"""When things happened during a bench run, seen through watches (not by polling lists).

Listing 2,000 pods every 50 ms costs the API server and this 2-core machine more than the
work being measured; a watch costs one stream. Each watched object's first moment in a
state (a pod bound to a node, a pod Ready, a NodeClaim launched, a node gone) is recorded
on this process's monotonic clock, so sub-second times are real (the API's own
timestamps have one-second resolution).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from kubernetes import watch
from kubernetes.client import CustomObjectsApi

from workshop.k8s import kube
from workshop.k8s.clusterwatch import stop_watch

WATCH_TIMEOUT_S = 30
NODEPOOL_LABEL = "karpenter.sh/nodepool"


@dataclass
class Marks:
    """First-seen monotonic times, by object name."""
    created: dict[str, float] = field(default_factory=dict)
    unschedulable: dict[str, float] = field(default_factory=dict)  # the scheduler said so
    bound: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    launched: dict[str, float] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)        # Karpenter's nodes now
    node_gone: dict[str, float] = field(default_factory=dict)
    others_on_nodes: set[str] = field(default_factory=set)  # pods of other namespaces
    pod_gone: dict[str, float] = field(default_factory=dict)
    # The steps of emptying a node, as Karpenter records them on its NodeClaims: when a
    # claim last turned Consolidatable (consolidateAfter passed since its last pod event),
    # and when Karpenter began to delete it (the disruption command, after validation).
    claims: set[str] = field(default_factory=set)             # NodeClaims now
    consolidatable_now: set[str] = field(default_factory=set)
    consolidatable: dict[str, float] = field(default_factory=dict)
    deleting: dict[str, float] = field(default_factory=dict)


def vanished(alive: dict[tuple[str, str], dict], items: list[dict]) -> list[dict]:
    """The metadata of objects a stream saw before (`alive`, by namespace and name) that a
    new list no longer has: they were deleted while no watch was open."""
    present = {key(o.get("metadata") or {}) for o in items}
    return [meta for k, meta in alive.items() if k not in present]


def key(meta: dict) -> tuple[str, str]:
    """An object's identity in a stream: namespace ("" when cluster-scoped) and name."""
    return meta.get("namespace", ""), meta.get("name", "")


class Timeline:
    """Watches the bench namespace's pods, NodeClaims and Karpenter's nodes in threads."""

    def __init__(self, namespace: str, selector: str):
        self.namespace, self.selector = namespace, selector
        self.marks = Marks()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._watches: list[watch.Watch] = []
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ the threads

    def start(self) -> "Timeline":
        core = kube.core()
        custom = CustomObjectsApi(kube.api_client())
        streams = [
            (self.on_pod, core.list_namespaced_pod, (self.namespace,),
             {"label_selector": self.selector}),
            (self.on_other_pod, core.list_pod_for_all_namespaces, (),
             {"field_selector": f"metadata.namespace!={self.namespace}"}),
            (self.on_claim, custom.list_cluster_custom_object, ("karpenter.sh", "v1", "nodeclaims"), {}),
            (self.on_node, core.list_node, (), {"label_selector": NODEPOOL_LABEL}),
        ]
        for handler, lister, args, kwargs in streams:
            t = threading.Thread(target=self._run, args=(handler, lister, args, kwargs),
                                 daemon=True, name=f"bench-watch-{handler.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def close(self) -> None:
        self._stop.set()
        for w in list(self._watches):
            stop_watch(w)
        for t in self._threads:
            t.join(2)

    def _run(self, handler, lister, args, kwargs) -> None:
        alive: dict[tuple[str, str], dict] = {}  # what this stream last saw present
        rv = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    rv = self._list(handler, lister, args, kwargs, alive)
                w = watch.Watch()
                self._watches.append(w)
                for ev in w.stream(lister, *args, **kwargs, resource_version=rv,
                                   timeout_seconds=WATCH_TIMEOUT_S, deserialize=False):
                    if self._stop.is_set():
                        return
                    if ev.get("type") == "ERROR":  # the version expired: list again
                        rv = None
                        break
                    obj = ev.get("object") or {}
                    meta = obj.get("metadata") or {}
                    rv = meta.get("resourceVersion") or rv
                    if ev.get("type") == "BOOKMARK":
                        continue
                    if ev["type"] == "DELETED":
                        alive.pop(key(meta), None)
                    else:
                        alive[key(meta)] = meta
                    now = time.monotonic()
                    with self._lock:
                        handler(ev["type"], obj, now)
                        self.changed.notify_all()
                # A watch that ended at its timeout resumes from the last version seen, not
                # from a new list: between the two, a deleted object would leave no event.
            except Exception:  # a broken watch: list again
                rv = None
                if not self._stop.is_set():
                    time.sleep(0.2)

    def _list(self, handler, lister, args, kwargs, alive: dict) -> str | None:
        """List, report what vanished since this stream last looked as DELETED (a list
        carries no deletions), then everything present as ADDED; the list's version."""
        resp = lister(*args, **kwargs, _preload_content=False)
        body = json.loads(resp.data)
        items = body.get("items") or []
        now = time.monotonic()
        with self._lock:
            for meta in vanished(alive, items):
                handler("DELETED", {"metadata": meta}, now)
            alive.clear()
            for obj in items:
                meta = obj.get("metadata") or {}
                alive[key(meta)] = meta
                handler("ADDED", obj, now)
            self.changed.notify_all()
        return (body.get("metadata") or {}).get("resourceVersion")

    # ------------------------------------------------------------ handlers (lock held)

    def on_pod(self, type_: str, pod: dict, now: float) -> None:
        name = pod["metadata"]["name"]
        if type_ == "DELETED":
            self.marks.pod_gone.setdefault(name, now)
            return
        self.marks.created.setdefault(name, now)
        if (kube.condition(pod, "PodScheduled") or {}).get("reason") == "Unschedulable":
            self.marks.unschedulable.setdefault(name, now)
        if (pod.get("spec") or {}).get("nodeName"):
            self.marks.bound.setdefault(name, now)
        if kube.is_true(pod, "Ready") and not pod["metadata"].get("deletionTimestamp"):
            self.marks.ready.setdefault(name, now)

    def on_other_pod(self, type_: str, pod: dict, now: float) -> None:
        ref = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        if type_ == "DELETED":
            self.marks.others_on_nodes.discard(ref)
        elif (pod.get("spec") or {}).get("nodeName", "").startswith("kwok-"):
            self.marks.others_on_nodes.add(ref)

    def on_claim(self, type_: str, claim: dict, now: float) -> None:
        name, m = claim["metadata"]["name"], self.marks
        if type_ == "DELETED":
            m.claims.discard(name)
            m.consolidatable_now.discard(name)
            return
        m.claims.add(name)
        if kube.is_true(claim, "Launched"):
            m.launched.setdefault(name, now)
        if kube.is_true(claim, "Consolidatable"):
            if name not in m.consolidatable_now:
                m.consolidatable_now.add(name)
                m.consolidatable[name] = now
        else:
            m.consolidatable_now.discard(name)
        if claim["metadata"].get("deletionTimestamp"):
            m.deleting.setdefault(name, now)

    def on_node(self, type_: str, node: dict, now: float) -> None:
        name = node["metadata"]["name"]
        if type_ == "DELETED":
            if name in self.marks.nodes:
                self.marks.nodes.discard(name)
                self.marks.node_gone[name] = now
        else:
            self.marks.nodes.add(name)

    # ------------------------------------------------------------ reading

    def reset(self) -> None:
        """Forget the first-seen times (not what exists now: nodes, NodeClaims and which of
        them are Consolidatable): a new step begins."""
        with self._lock:
            m = self.marks
            self.marks = Marks(nodes=set(m.nodes), others_on_nodes=set(m.others_on_nodes),
                               claims=set(m.claims),
                               consolidatable_now=set(m.consolidatable_now))

    def wait(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate(self.marks):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"bench: waited {timeout_s:.0f}s for {what}")
                self.changed.wait(min(left, 1.0))
