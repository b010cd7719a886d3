"""API access for everything in the kit: clients, server-side apply, waits, events.

One small surface (`apply`, `get`, `list_`, `delete`, `wait_until`, `events_for`) used by
the cluster lifecycle, the graders, the notebooks and the tests alike. Errors come back as
WorkshopError with the API's own reason, never as a client traceback.
"""

from __future__ import annotations

import functools
from datetime import datetime
import json
import os
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from workshop import paths
from workshop.errors import ClusterNotRunning, WorkshopError
from workshop.k8s import health, timestamps
from workshop.names import APPS_API

# Connection problems the client raises when the API server is down or restarting.
_DOWN = (urllib3.exceptions.HTTPError, ConnectionError, OSError)


def kubeconfig_path() -> Path:
    """The workshop's kubeconfig, unless WORKSHOP_KUBECONFIG points at another cluster."""
    return Path(os.environ.get("WORKSHOP_KUBECONFIG") or paths.KUBECONFIG)


@functools.lru_cache(maxsize=4)
def _client_for(path: str, mtime: float, context: str | None) -> k8s.ApiClient:
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
    # Fail fast when the cluster is down instead of the client's default retries. For the
    # workshop's own cluster, a CheckedClient says at once when the API server or etcd is
    # down (health.py); another cluster (target()) gets a plain client.
    cfg.retries = 0
    if path == str(kubeconfig_path()):
        return health.CheckedClient(cfg)
    return k8s.ApiClient(cfg)


# Another cluster for the read-only tools (`--context`, `--kubeconfig`, `viewer(context=)`):
# (kubeconfig, context), set only inside `target()`. A ContextVar, not a global, so a notebook's
# check() keeps reading the workshop cluster while a viewer watches another.
_TARGET: ContextVar[tuple[str | None, str | None]] = ContextVar("workshop_kube_target",
                                                               default=(None, None))


@contextmanager
def target(kubeconfig: str | Path | None = None, context: str | None = None):
    """Every client made inside reads this cluster: `kubeconfig` (default: $KUBECONFIG or
    ~/.kube/config, as kubectl) and its `context` (default: its current one). With neither,
    nothing changes (the workshop's own cluster)."""
    if not kubeconfig and not context:  # keep whatever an outer target() chose
        yield
        return
    token = _TARGET.set((str(kubeconfig) if kubeconfig else None, context or None))
    try:
        yield
    finally:
        _TARGET.reset(token)


def remote() -> bool:
    """Inside target(): another cluster than the workshop's own."""
    return _TARGET.get() != (None, None)


def _target_path(kubeconfig: str | None, context: str | None) -> Path:
    if kubeconfig:
        return Path(kubeconfig).expanduser()
    if context:  # kubectl's lookup: the first file in $KUBECONFIG, else ~/.kube/config
        first = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
        return Path(first or "~/.kube/config").expanduser()
    return kubeconfig_path()


def api_client(kubeconfig: str | Path | None = None, context: str | None = None) -> k8s.ApiClient:
    """A client for the workshop's cluster, or for `kubeconfig`/`context` (or target()'s)."""
    if kubeconfig is None and context is None:
        kubeconfig, context = _TARGET.get()
    path = _target_path(str(kubeconfig) if kubeconfig else None, context)
    if not path.exists():
        if kubeconfig or context:
            raise WorkshopError(f"no kubeconfig at {path}",
                                fix="give `--kubeconfig FILE` (or set KUBECONFIG)")
        raise ClusterNotRunning(f"no kubeconfig at {path}")
    context = context or os.environ.get("WORKSHOP_CONTEXT") or None
    try:
        return _client_for(str(path), path.stat().st_mtime, context)
    except k8s_config.ConfigException as exc:
        raise WorkshopError(f"cannot use {path}: {str(exc).splitlines()[0][:200]}",
                            fix="check the context's name (`kubectl config get-contexts`)") from None


def context_namespace() -> str | None:
    """The namespace the current kubeconfig context names, if any (kubectl's default)."""
    kubeconfig, context = _TARGET.get()
    path = _target_path(kubeconfig, context)
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=str(path))
    except (k8s_config.ConfigException, OSError):
        return None
    chosen = next((c for c in contexts if c["name"] == context), None) if context else current
    return ((chosen or {}).get("context") or {}).get("namespace")


def core() -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client())


def apps() -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api_client())


@functools.lru_cache(maxsize=4)
def _dynamic_for(client_id: int) -> DynamicClient:
    return DynamicClient(api_client())


def dynamic() -> DynamicClient:
    try:
        return _dynamic_for(id(api_client()))
    except _DOWN as exc:
        raise ClusterNotRunning(str(exc).splitlines()[0][:200]) from None


def forget_clients() -> None:
    """Drop cached clients (after a restart the discovery cache may be stale)."""
    _client_for.cache_clear()
    _dynamic_for.cache_clear()


def ready(timeout_s: float = 2.0) -> bool:
    """Does the API server answer /readyz? Never raises."""
    try:
        client = api_client()
        method, url, headers, body, post = client.param_serialize(
            "GET", "/readyz", auth_settings=["BearerToken"])
        response = client.call_api(method, url, headers, _request_timeout=timeout_s)
        return response.status == 200
    except Exception:  # any failure means "not ready"; callers decide what to say
        return False


def require_cluster() -> None:
    """Raise unless the cluster answers: for the workshop's own, ClusterNotRunning naming
    what is down (within seconds, even with etcd gone)."""
    if not remote():
        health.require(api_client())
    elif not ready():
        kubeconfig, context = _TARGET.get()
        raise WorkshopError(
            f"the cluster of {'context ' + context if context else kubeconfig} does not answer",
            fix="check it with `kubectl --context ... get --raw /readyz` (VPN, credentials)")


# ---------------------------------------------------------------- reading


def resource(api_version: str, kind: str):
    try:
        res = dynamic().resources.get(api_version=api_version, kind=kind)
        if res.group_version != api_version:
            # Discovery matches loosely (`v1` finds apps/v1 kinds); the API would then
            # reject the object with a Go type name. Say where the kind really lives.
            raise ResourceNotFoundError(res.group_version)
        return res
    except ResourceNotFoundError:
        homes = sorted({r.group_version for r in _search(kind)})
        if homes:
            raise WorkshopError(
                f"kind `{kind}` is not in apiVersion `{api_version}`",
                fix=f"use `apiVersion: {homes[0]}`" + (f" (or {', '.join(homes[1:])})" if homes[1:] else ""),
            ) from None
        raise WorkshopError(
            f"the cluster does not know kind `{kind}` in apiVersion `{api_version}`",
            fix="check the spelling of `kind` and `apiVersion` (e.g. NodePool is "
            "`karpenter.sh/v1`, Deployment is `apps/v1`)",
        ) from None
    except _DOWN as exc:
        raise ClusterNotRunning(str(exc).splitlines()[0][:200]) from None


def _search(kind: str) -> list:
    try:
        return [r for r in dynamic().resources.search(kind=kind) if getattr(r, "group_version", None)]
    except Exception:  # discovery trouble: fall back to the generic message
        return []


def call(fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise api_error(exc) from None
    except _DOWN as exc:
        raise ClusterNotRunning(str(exc).splitlines()[0][:200]) from None


def get(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
    """The object as a plain dict, or None if it does not exist."""
    obj = call(resource(api_version, kind).get, name=name, namespace=namespace)
    return obj.to_dict() if obj is not None else None


def list_(api_version: str, kind: str, namespace: str | None = None,
          label_selector: str | None = None) -> list[dict]:
    res = call(resource(api_version, kind).get, namespace=namespace,
               label_selector=label_selector)
    return [item.to_dict() for item in res.items] if res is not None else []


def delete(api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    """Delete if present; True if something was deleted."""
    return call(resource(api_version, kind).delete, name=name, namespace=namespace) is not None


def delete_all(api_version: str, kind: str, namespace: str) -> None:
    """Delete every object of a kind in a namespace at once (no grace period)."""
    # The dynamic client needs a selector for a collection delete; this one selects all.
    call(resource(api_version, kind).delete, namespace=namespace,
         field_selector=f"metadata.namespace={namespace}",
         body={"propagationPolicy": "Background", "gracePeriodSeconds": 0})


# Kinds a workload may create in a namespace, deleted by empty_namespace().
NAMESPACED_KINDS = [
    (APPS_API, "Deployment"), (APPS_API, "StatefulSet"), (APPS_API, "DaemonSet"),
    (APPS_API, "ReplicaSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("policy/v1", "PodDisruptionBudget"), ("v1", "Service"), ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"), ("v1", "Pod"),
    # Events too: a grader reads them (e.g. "inflate was deleted, not scaled"), and stale
    # ones from before a reset would describe objects that no longer exist.
    ("v1", "Event"),
]


def empty_namespace(namespace: str) -> None:
    """Delete the workloads in a namespace at once (pods with no grace period), much
    faster than deleting the namespace (the namespace controller takes ~5 s)."""
    for api_version, kind in NAMESPACED_KINDS:
        delete_all(api_version, kind, namespace)


def condition(obj: dict | None, type_: str) -> dict | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def is_true(obj: dict | None, type_: str = "Ready") -> bool:
    cond = condition(obj, type_)
    return bool(cond) and cond.get("status") == "True"


# ---------------------------------------------------------------- errors


class Forbidden(WorkshopError):
    """The account may not do this (HTTP 403): the read-only tools show what they can and
    name the permission (workshop/k8s/access.py)."""


def api_error(exc: ApiException) -> WorkshopError:
    """The API's own reason (e.g. a CEL validation message), without the HTTP noise."""
    reason = exc.reason or "error"
    try:
        body = json.loads(exc.body or "{}")
        reason = body.get("message") or reason
    except (ValueError, TypeError):
        pass
    plain = _plain_type_errors(reason)
    shape_error, reason = plain != reason, plain
    if shape_error:
        fix = "change that field's shape in your YAML and apply again"
    elif exc.status == 403:
        return Forbidden(f"the API server refused: {reason}",
                         fix="ask the cluster's admins for this read permission" if remote()
                         else "the workshop's kubeconfig may be stale: run `make up`")
    elif exc.status == 401:
        fix = "the workshop's kubeconfig may be stale: run `make up`"
    elif exc.status == 422:
        fix = "fix the field the API names above and apply again"
    else:
        fix = "read the API's reason above"
    return WorkshopError(f"the API server rejected it: {reason}", fix=fix)


_TYPE_ERROR = re.compile(r"(\.[\w.\[\]=/-]+): expected (map|list|string|int\w*|bool\w*), got [^\n]*")
_SHAPES = {"map": "a mapping (`key: value` lines)", "list": "a list (lines starting with `- `)",
           "string": "text", "bool": "true or false"}


def _plain_type_errors(reason: str) -> str:
    """'.spec.x: expected map, got &{[map[a:b]]}' (Go internals) -> plain words."""
    def plain(m: re.Match) -> str:
        want = m.group(2)
        shape = _SHAPES.get(want, "a number" if want.startswith("int") else want)
        return f"`{m.group(1)}` must be {shape}"
    reason = _TYPE_ERROR.sub(plain, reason)
    return re.sub(r"failed to create typed patch object \([^)]*\): ", "", reason)


# ---------------------------------------------------------------- parsing YAML


def parse_manifests(text: str, source: str = "the YAML") -> list[dict]:
    """YAML text -> list of objects, with errors that point at a line."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise WorkshopError(
            f"{source} is not valid YAML{where}: {problem}",
            fix="check the indentation and the `key: value` spacing on that line",
        ) from None
    objs: list[dict] = []
    for i, doc in enumerate(docs, 1):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objs.extend(doc.get("items") or [])
            continue
        if not isinstance(doc, dict):
            what = type(doc).__name__.replace("str", "text").replace("list", "a list")
            raise WorkshopError(
                f"document {i} of {source} is {what}, not a Kubernetes object",
                fix="each document needs `apiVersion:`, `kind:` and `metadata:` at the top "
                "level (a leading `-` makes it a list)",
            )
        if "metadata" in doc and not isinstance(doc["metadata"], dict):
            raise WorkshopError(
                f"document {i} of {source}: `metadata` must be a mapping (`name: ...` "
                "indented under it), not a list",
                fix="write `metadata:` then `  name: my-object` on the next line",
            )
        missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        if missing or not name:
            missing += [] if name else ["metadata.name"]
            raise WorkshopError(
                f"document {i} of {source} has no {', '.join(missing)}",
                fix="every object needs apiVersion, kind and metadata.name",
            )
        objs.append(doc)
    return objs


def load_manifest_files(files: Iterable[Path]) -> list[dict]:
    objs: list[dict] = []
    for f in files:
        objs.extend(parse_manifests(Path(f).read_text(), source=str(f)))
    return objs


# ---------------------------------------------------------------- applying


@dataclass
class Applied:
    kind: str
    name: str
    namespace: str | None
    action: str  # created | configured | unchanged

    def __str__(self) -> str:
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{ns} {self.action}"


def ensure_namespace(name: str, field_manager: str, timeout_s: float = 60) -> None:
    """Create the namespace if needed; if it is still terminating (a reset just ran),
    wait for it to go first, since nothing can be created in a terminating namespace."""
    ns = get("v1", "Namespace", name)
    if ns is not None and ns["metadata"].get("deletionTimestamp"):
        wait_until(lambda: get("v1", "Namespace", name) is None, timeout_s, 0.25,
                   f"namespace {name} to finish terminating")
        ns = None
    if ns is None:
        apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}],
              field_manager=field_manager)


def apply(objs: list[dict], field_manager: str, default_namespace: str | None = None,
          force: bool = True) -> list[Applied]:
    """Server-side apply each object; report created / configured / unchanged.

    `force` takes ownership of fields another manager set (a learner re-applying a cell
    after `kubectl edit` should win, as `kubectl apply --server-side --force-conflicts`).
    """
    results = []
    for obj in objs:
        res = resource(obj["apiVersion"], obj["kind"])
        meta = obj.setdefault("metadata", {})
        namespace = None
        if res.namespaced:
            namespace = meta.get("namespace") or default_namespace
            if not namespace:
                raise WorkshopError(
                    f"{obj['kind']} {meta['name']} needs a namespace",
                    fix="add `metadata.namespace`",
                )
            meta["namespace"] = namespace
            if namespace != "default":
                ensure_namespace(namespace, field_manager)
        elif meta.get("namespace"):
            meta.pop("namespace")  # cluster-scoped: a stray namespace would be rejected
        before = call(res.get, name=meta["name"], namespace=namespace)
        after = call(
            res.server_side_apply, body=obj, name=meta["name"], namespace=namespace,
            field_manager=field_manager, force_conflicts=force,
        )
        if before is None:
            action = "created"
        elif before.metadata.resourceVersion == after.metadata.resourceVersion:
            action = "unchanged"
        else:
            action = "configured"
        results.append(Applied(obj["kind"], meta["name"], namespace, action))
    return results


def json_patch(api_version: str, kind: str, name: str, ops: list[dict],
               namespace: str | None = None) -> bool:
    """Apply an RFC 6902 JSON patch. False when one of its `test` operations failed (the
    object changed since it was read: read it again); other rejections raise."""
    res = resource(api_version, kind)
    try:
        res.patch(body=ops, name=name, namespace=namespace,
                  content_type="application/json-patch+json")
        return True
    except ApiException as exc:
        if exc.status in (409, 422) and "test" in (exc.body or "").lower():
            return False
        raise api_error(exc) from None
    except _DOWN as exc:
        raise ClusterNotRunning(str(exc).splitlines()[0][:200]) from None


# ---------------------------------------------------------------- waiting


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.5,
               what: str = "", on_tick: Callable[[float], None] | None = None) -> Any:
    """Poll `predicate` until it returns something truthy; raise WorkshopError on timeout."""
    start = time.monotonic()
    deadline = start + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WorkshopError(f"timed out after {timeout_s:.0f}s waiting for {what or 'the cluster'}")
        if on_tick:
            on_tick(time.monotonic() - start)
        time.sleep(interval_s)


# ---------------------------------------------------------------- events


def event_time(ev: dict) -> datetime:
    """Events carry lastTimestamp (seconds; Karpenter) or eventTime (microseconds; the
    scheduler): compare them as times, not strings."""
    text = (ev.get("lastTimestamp") or ev.get("eventTime") or
            (ev.get("metadata") or {}).get("creationTimestamp") or "")
    return timestamps.parse(text) or timestamps.EPOCH


def event_source(ev: dict) -> str:
    return (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or ""


def events_for(kind: str, name: str, namespace: str | None = None,
               reason: str | None = None) -> list[dict]:
    """Events about one object, newest last (core/v1 events, as `kubectl describe` shows)."""
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    try:
        if namespace:
            items = core().list_namespaced_event(namespace, field_selector=selector).items
        else:
            items = core().list_event_for_all_namespaces(field_selector=selector).items
    except ApiException as exc:
        raise api_error(exc) from None
    except _DOWN as exc:
        raise ClusterNotRunning(str(exc).splitlines()[0][:200]) from None
    events = [api_client().sanitize_for_serialization(e) for e in items]
    if reason:
        events = [e for e in events if e.get("reason") == reason]
    return sorted(events, key=event_time)
