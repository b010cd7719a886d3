"""The cluster as the live viewer sees it: nodes, pods, NodeClaims, NodePools and pod events,
kept up to date by Kubernetes watches in background threads.

Each kind is listed once (raw JSON, no model objects: 200 nodes and thousands of pods stay
cheap) and then watched from that list's resourceVersion; a watch that expires (410) or
breaks lists again. Threads are daemons, so a stopped kernel or process takes them along;
`close()` stops them sooner (each wakes at least every WATCH_TIMEOUT_S).

Whoever renders waits on `changed` (a threading.Event) and reads `snapshot()`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from kubernetes import watch
from kubernetes.client import CustomObjectsApi
from kubernetes.client.rest import ApiException

from workshop.k8s import access, daemonsets, kube, usage
from workshop.k8s import timestamps

WATCH_TIMEOUT_S = 20  # server-side: a watch ends and is resumed this often
RETRY_S = 2.0
EVENT_REASONS = ("FailedScheduling", "Nominated")
EVENTS_KEPT = 6  # per pod: the newest few are all pending.from_events needs


@dataclass
class NodeRow:
    name: str
    labels: dict
    allocatable: usage.Requests
    ready: bool
    deleting: bool
    created: datetime | None


@dataclass
class PodRow:
    namespace: str
    name: str
    node: str
    phase: str
    requests: usage.Requests
    deleting: bool
    daemon: bool = False  # a DaemonSet's pod: comes with every node, no one's workload


@dataclass
class Snapshot:
    nodes: dict[str, NodeRow] = field(default_factory=dict)
    pods: dict[tuple[str, str], PodRow] = field(default_factory=dict)
    pools: dict[str, dict] = field(default_factory=dict)
    claims: dict[str, dict] = field(default_factory=dict)
    events: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    error: str | None = None
    # What the account may not read (a team's account on a real cluster), one line each.
    missing: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)  # kinds left out entirely ("nodes", ...)


def _created(meta: dict) -> datetime | None:
    return timestamps.parse(meta.get("creationTimestamp"))


def node_row(obj: dict) -> NodeRow:
    meta = obj["metadata"]
    status = obj.get("status") or {}
    return NodeRow(meta["name"], meta.get("labels") or {},
                   usage.of_resources(status.get("allocatable") or {}),
                   kube.is_true(obj, "Ready"), bool(meta.get("deletionTimestamp")),
                   _created(meta))


def pod_row(obj: dict) -> PodRow:
    meta = obj["metadata"]
    return PodRow(meta["namespace"], meta["name"], (obj.get("spec") or {}).get("nodeName") or "",
                  (obj.get("status") or {}).get("phase") or "Pending",
                  usage.pod_requests(obj.get("spec") or {}), bool(meta.get("deletionTimestamp")),
                  daemonsets.is_daemon_pod(obj))


class _Kind:
    """How to list and watch one kind, and where its objects go in the Snapshot.
    `narrow`: the namespaced lister to fall back on when the account may not list the
    kind in every namespace; `missing`: the permission, said when it is refused."""

    def __init__(self, name: str, lister, args: tuple = (), kwargs: dict | None = None,
                 missing: access.Missing | None = None, narrow=None):
        self.name, self.lister, self.args, self.kwargs = name, lister, args, kwargs or {}
        self.missing, self.narrow = missing, narrow


def _kinds() -> list[_Kind]:
    core = kube.core()
    custom = CustomObjectsApi(kube.api_client())
    return [
        _Kind("nodes", core.list_node, missing=access.Missing(
            "list, watch", "nodes", "cluster-wide",
            "every node with its instance type, zone, capacity type, price and how full it is")),
        _Kind("pods", core.list_pod_for_all_namespaces, missing=access.Missing(
            "list, watch", "pods", "all namespaces", "other namespaces' pods on the nodes"),
            narrow=core.list_namespaced_pod),
        _Kind("events", core.list_event_for_all_namespaces,
              kwargs={"field_selector": "involvedObject.kind=Pod"}, missing=access.Missing(
                  "list, watch", "events", "all namespaces",
                  "why other namespaces' pods are Pending"),
              narrow=core.list_namespaced_event),
        _Kind("pools", custom.list_cluster_custom_object, ("karpenter.sh", "v1", "nodepools"),
              missing=access.Missing("list, watch", "nodepools.karpenter.sh", "cluster-wide",
                                     "each NodePool with its weight and its limits in use")),
        _Kind("claims", custom.list_cluster_custom_object, ("karpenter.sh", "v1", "nodeclaims"),
              missing=access.Missing("list, watch", "nodeclaims.karpenter.sh", "cluster-wide",
                                     "the nodes Karpenter is launching")),
    ]


def stop_watch(w) -> None:
    """Stop a kubernetes Watch now, even one blocked reading a quiet stream."""
    w.stop()
    # Interrupt a read blocked on a quiet watch (urllib3 >= 2.3), so the thread ends now
    # rather than at the watch's timeout, and never at interpreter exit (a thread inside an
    # SSL read then aborts the process).
    resp = getattr(w, "_resp", None)
    if resp is not None and hasattr(resp, "shutdown"):
        try:
            resp.shutdown()
        except Exception:
            pass


class ClusterWatch:
    def __init__(self, namespace: str | None = None):
        # Where to look when the account may read only one namespace's pods and events.
        self.namespace = namespace
        self._lock = threading.Lock()
        self._state = Snapshot()
        self._stop = threading.Event()
        self._watches: list[watch.Watch] = []
        self._threads: list[threading.Thread] = []
        self.changed = threading.Event()
        self.synced = threading.Event()  # every kind listed once
        self._listed: set[str] = set()

    # ------------------------------------------------------------ life cycle

    def start(self) -> "ClusterWatch":
        for kind in _kinds():
            t = threading.Thread(target=self._run, args=(kind,), daemon=True,
                                 name=f"workshop-watch-{kind.name}")
            t.start()
            self._threads.append(t)
        return self

    def close(self, join_s: float = 2.0) -> None:
        self._stop.set()
        for w in list(self._watches):
            stop_watch(w)
        self.changed.set()  # wake a renderer waiting on us
        me = threading.current_thread()
        deadline = time.monotonic() + join_s
        for t in self._threads:
            if t is not me:
                t.join(max(0.0, deadline - time.monotonic()))

    def list_once(self) -> "ClusterWatch":
        """Fill the snapshot with one list of each kind, no threads (`workshop nodes --once`)."""
        for kind in _kinds():
            for _ in range(2):  # a refused list is tried once more, narrowed to the namespace
                try:
                    self._list(kind)
                    break
                except ApiException as exc:
                    if exc.status not in (403, 404) or not self._refused(kind, exc.status):
                        if exc.status in (403, 404):
                            break
                        raise
        return self

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> Snapshot:
        with self._lock:
            s = self._state
            return Snapshot(dict(s.nodes), dict(s.pods), dict(s.pools), dict(s.claims),
                            {k: list(v) for k, v in s.events.items()}, s.error, list(s.missing),
                            set(s.hidden))

    # ------------------------------------------------------------ the threads

    def _run(self, kind: _Kind) -> None:
        while not self._stop.is_set():
            try:
                rv = self._list(kind)
                self._watch(kind, rv)
            except ApiException as exc:
                if exc.status in (403, 404):  # not allowed (or no such kind): narrow, or stop
                    if self._refused(kind, exc.status):
                        continue
                    return
                if exc.status != 410:  # 410: the watch expired; list again at once
                    self._error(f"{kind.name}: {exc.reason}")
                    self._stop.wait(RETRY_S)
            except Exception as exc:  # the cluster went away, a broken stream: retry
                self._error(f"{kind.name}: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}")
                self._stop.wait(RETRY_S)

    def _list(self, kind: _Kind) -> str:
        resp = kind.lister(*kind.args, **kind.kwargs, _preload_content=False)
        body = json.loads(resp.data)
        with self._lock:
            store = self._store(kind.name)
            store.clear()
            for obj in body.get("items") or []:
                self._put(kind.name, store, obj)
            self._state.error = None
            self._listed.add(kind.name)
        if len(self._listed) == 5:
            self.synced.set()
        self.changed.set()
        return (body.get("metadata") or {}).get("resourceVersion") or ""

    def _watch(self, kind: _Kind, rv: str) -> None:
        while not self._stop.is_set():
            w = watch.Watch()
            self._watches.append(w)
            try:
                for ev in w.stream(kind.lister, *kind.args, **kind.kwargs, resource_version=rv,
                                   timeout_seconds=WATCH_TIMEOUT_S, allow_watch_bookmarks=True,
                                   deserialize=False):
                    if self._stop.is_set():
                        return
                    obj, type_ = ev.get("object") or {}, ev.get("type")
                    if type_ == "ERROR":
                        raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if type_ == "BOOKMARK":
                        continue
                    with self._lock:
                        store = self._store(kind.name)
                        if type_ == "DELETED":
                            self._drop(kind.name, store, obj)
                        else:
                            self._put(kind.name, store, obj)
                    self.changed.set()
            except KeyError as exc:
                # With deserialize=False the client fails on an ERROR event's missing
                # raw_object: the watch expired; list again.
                raise ApiException(status=410, reason="watch expired") from exc
            finally:
                self._watches.remove(w)

    def _refused(self, kind: _Kind, status: int = 403) -> bool:
        """The account may not list this kind (403), or the cluster has no such kind (404,
        no Karpenter v1): True when a namespaced list replaces it (try again), False when
        the kind is left out. Either way the snapshot says which, in one line."""
        if status == 404:
            line = f"{kind.missing.resource if kind.missing else kind.name}: not on this " \
                   "cluster (Karpenter v1 is not installed?)"
        else:
            line = kind.missing.line() if kind.missing else f"{kind.name}: forbidden"
        narrowed = status == 403 and kind.narrow is not None and self.namespace is not None
        if narrowed:
            line += f"; showing namespace {self.namespace} only"
            kind.lister, kind.args, kind.narrow = kind.narrow, (self.namespace,), None
        with self._lock:
            if line not in self._state.missing:
                self._state.missing.append(line)
            if not narrowed:
                self._listed.add(kind.name)
                self._state.hidden.add(kind.name)
        if len(self._listed) == 5:
            self.synced.set()
        self.changed.set()
        return narrowed

    def _error(self, text: str) -> None:
        with self._lock:
            self._state.error = text
        self.changed.set()

    # ------------------------------------------------------------ the store

    def _store(self, name: str) -> dict:
        return getattr(self._state, name)

    @staticmethod
    def _put(name: str, store: dict, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        if name == "nodes":
            store[meta["name"]] = node_row(obj)
        elif name == "pods":
            store[(meta["namespace"], meta["name"])] = pod_row(obj)
        elif name == "events":
            if obj.get("reason") not in EVENT_REASONS:
                return
            involved = obj.get("involvedObject") or {}
            key = (involved.get("namespace") or meta.get("namespace"), involved.get("name"))
            kept = [e for e in store.get(key, []) if e["metadata"].get("name") != meta.get("name")]
            store[key] = (kept + [obj])[-EVENTS_KEPT:]
        else:
            store[meta["name"]] = obj

    @staticmethod
    def _drop(name: str, store: dict, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        if name == "pods":
            store.pop((meta["namespace"], meta["name"]), None)
        elif name == "events":
            involved = obj.get("involvedObject") or {}
            key = (involved.get("namespace") or meta.get("namespace"), involved.get("name"))
            kept = [e for e in store.get(key, []) if e["metadata"].get("name") != meta.get("name")]
            if kept:
                store[key] = kept
            else:
                store.pop(key, None)
        else:
            store.pop(meta.get("name"), None)
